/**
 * A real browser through the mTLS site: headless Chromium (Debian's chromium package) with the client's
 * PKCS#12 bundle imported into its NSS database and the CA trusted there, and the AutoSelectCertificateForUrls
 * policy installed as a managed policy, so no certificate prompt is needed.
 *
 * The site is the real program (index.ts) with the dev stack (stacks/Pulumi.dev.yaml), run under the
 * DeploymentSimulator with the component's own install scripts; only the port, the install directory and the
 * site mode change: a reverse proxy to a small upstream that shows the identity nginx verified, so the page
 * tells which certificate the browser presented. The files the browser gets are the ones
 * `npm run export-bundles` writes (scripts/exportBundles.ts): `<name>.p12`, `<name>.password`, `ca.crt`, and
 * `<name>.chrome-policy.json`, which is installed as is, so this also proves that file works in Chromium.
 *
 * Needs root (or a writable /etc/chromium/policies): otherwise it is skipped with the reason printed.
 */
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { exportFiles, writeBundles, StackOutputsForExport } from "../../scripts/exportBundles";
import { browserUnavailable, dumpDom, DumpDomResult, installManagedPolicy, makeNssHome, policyFilesPresent, removeAllPolicies, withBrowserLock } from "../support/chromium";
import { DeploymentSimulator, localCommandExecutor } from "../support/engine";
import { adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { freePort } from "../support/ports";
import { readStackFile, toProgramConfig } from "../support/stackConfig";

const unavailable = hasNginx() ? browserUnavailable() : "no nginx binary";
if (unavailable) {
    // eslint-disable-next-line no-console
    console.log(`SKIPPED browser.test.ts: ${unavailable}`);
}
const describeIf = unavailable ? describe.skip : describe;

/** Generous: a run takes about 2 s here; a run that waits for a certificate choice never ends on its own. */
const BROWSER_TIMEOUT_MS = 45_000;

/** An upstream that shows what nginx verified, HTML-escaped, in the page. */
async function startWhoAmI(port: number): Promise<http.Server> {
    const esc = (s: unknown) => String(s ?? "").replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    const server = http.createServer((req, res) => {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(
            `<!doctype html><html><head><title>whoami</title></head><body>` +
                `<p id="verify">${esc(req.headers["x-client-verify"])}</p><p id="subject">${esc(req.headers["x-client-subject-dn"])}</p>` +
                `</body></html>`,
        );
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve());
    });
    return server;
}

function textOf(dom: string, id: string): string | undefined {
    const m = new RegExp(`<p id="${id}">([^<]*)</p>`).exec(dom);
    return m?.[1].replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"');
}

describeIf("headless Chromium through the mTLS site (index.ts, dev stack, export-bundles files)", () => {
    let dir: string;
    let bundles: string;
    let port: number;
    let url: string;
    let sim: DeploymentSimulator;
    let upstream: http.Server;
    let runs = 0;

    beforeAll(async () => {
        dir = makeTestDir("browser");
        port = await freePort();
        upstream = await startWhoAmI(await freePort());
        const config = readStackFile("dev") as Record<string, any>;
        config["mtls-nginx:site"].listen.port = port;
        config["mtls-nginx:site"].mode = { kind: "proxy", upstream: `http://127.0.0.1:${(upstream.address() as { port: number }).port}` };
        config["mtls-nginx:target"].installDir = path.join(dir, "nginx");
        sim = new DeploymentSimulator({ executors: { "command:local:Command": localCommandExecutor } });
        const result = await sim.run(
            () => {
                let exports: any;
                jest.isolateModules(() => {
                    exports = require("../../index");
                });
                return exports;
            },
            { config: toProgramConfig(config) },
        );
        adopt(path.join(dir, "nginx"), path.join(dir, "nginx", "current", "nginx.conf"));
        const outputs = result.outputs as StackOutputsForExport;
        url = outputs.url;
        expect(url).toBe(`https://localhost:${port}/`);
        // What `npm run export-bundles` writes, from the same outputs `pulumi stack output --json --show-secrets` gives.
        bundles = path.join(dir, "bundles");
        writeBundles(exportFiles(outputs, bundles), bundles, false);
    });

    afterAll(async () => {
        removeAllPolicies();
        try {
            await sim?.destroy();
        } finally {
            await stopAll();
            await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
        }
    });

    /** One browser run with its own HOME (NSS database) and profile, and at most the given policy file installed. */
    function browse(label: string, opts: { p12?: string[]; policyFrom?: string }): Promise<DumpDomResult> {
        return withBrowserLock(() => browseUnlocked(label, opts));
    }

    async function browseUnlocked(label: string, opts: { p12?: string[]; policyFrom?: string }): Promise<DumpDomResult> {
        runs++;
        const home = path.join(dir, `home-${runs}-${label}`);
        const nss = makeNssHome(home, {
            caFile: path.join(bundles, "ca.crt"),
            pkcs12: (opts.p12 ?? []).map((name) => ({ file: path.join(bundles, `${name}.p12`), passwordFile: path.join(bundles, `${name}.password`) })),
        });
        for (const name of opts.p12 ?? []) expect(nss.list()).toMatch(new RegExp(`^${name}\\s+u,u,u`, "m")); // imported with its key
        const policy = opts.policyFrom ? installManagedPolicy(fs.readFileSync(path.join(bundles, `${opts.policyFrom}.chrome-policy.json`), "utf8")) : undefined;
        try {
            const result = await dumpDom(url, { home, userDataDir: path.join(dir, `profile-${runs}-${label}`), timeoutMs: BROWSER_TIMEOUT_MS, hostMap: { localhost: "127.0.0.1" } });
            if (result.timedOut) {
                throw new Error(
                    `chromium did not finish within ${BROWSER_TIMEOUT_MS} ms (it waits forever for a certificate choice when no policy selects one). ` +
                        `Policy files present: ${policyFilesPresent().join(", ") || "none"}. stderr tail:\n${result.stderr.split("\n").slice(-15).join("\n")}`,
                );
            }
            return result;
        } finally {
            policy?.remove();
        }
    }

    it("installs the exported policy for this site's origin, filtered on the client's CN", () => {
        const policy = JSON.parse(fs.readFileSync(path.join(bundles, "alice.chrome-policy.json"), "utf8"));
        expect(Object.keys(policy)).toEqual(["AutoSelectCertificateForUrls"]);
        expect(policy.AutoSelectCertificateForUrls.map((rule: string) => JSON.parse(rule))).toEqual([{ pattern: `https://localhost:${port}`, filter: { SUBJECT: { CN: "alice" } } }]);
    });

    it("gets alice through with her exported bundle and policy (compat PKCS#12 profile, ECDSA key)", async () => {
        const r = await browse("alice", { p12: ["alice"], policyFrom: "alice" });
        expect(textOf(r.dom, "verify")).toBe("SUCCESS");
        expect(textOf(r.dom, "subject")).toBe("CN=alice,O=mtls-nginx dev");
    });

    it("presents the certificate the policy names when the database holds several (bob: modern profile, RSA key)", async () => {
        const r = await browse("both", { p12: ["alice", "bob"], policyFrom: "bob" });
        expect(textOf(r.dom, "verify")).toBe("SUCCESS");
        expect(textOf(r.dom, "subject")).toBe("CN=bob,O=mtls-nginx dev");
    });

    it("without a certificate gets the 496 page", async () => {
        const r = await browse("none", {});
        expect(r.dom).toContain("A client certificate is required");
        expect(r.dom).not.toContain('id="subject"');
    });

    it("left no policy file behind", () => {
        expect(policyFilesPresent().filter((f) => f.startsWith(`mtls-nginx-test-${process.pid}-`))).toEqual([]);
    });
});
