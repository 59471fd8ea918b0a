/**
 * IPv6 end to end against a real nginx on [::1]: a site whose names are IPv6 literals (as
 * `server.ipAddresses: ["::1"]` makes them) or that listens on "::1" / "::" is resolved, rendered,
 * installed and live-checked by the real code paths (resolveNginxSiteArgs, buildSiteRelease,
 * renderInstallScript), and real clients reach it over IPv6 with their certificate.
 */
import { spawnSync } from "child_process";
import * as net from "net";
import * as path from "path";
import { HostTargetSettings } from "../../components/nginx/hostTarget";
import { InstallScriptInput, renderInstallScript, renderUninstallScript } from "../../components/nginx/install";
import { SiteDefinition, buildSiteRelease } from "../../components/nginx/release";
import { releaseLayoutOf, resolveNginxSiteArgs } from "../../components/nginx/site";
import { Pki, makePki, runScript } from "../support/installHarness";
import { NGINX_BIN, adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { FixtureCert, issue } from "../support/x509";

/** True when this machine can listen on ::1. */
function hasIpv6Loopback(): boolean {
    const r = spawnSync(process.execPath, ["-e", `const s = require("net").createServer(); s.on("error", () => process.exit(1)); s.listen(0, "::1", () => s.close(() => process.exit(0)));`]);
    return r.status === 0;
}

const problem = !hasNginx() ? "no nginx" : !hasIpv6Loopback() ? "no IPv6 loopback (::1)" : undefined;
const describeV6 = problem ? describe.skip : describe;
if (problem) console.log(`SKIPPED (IPv6 tests): ${problem}`);

async function freePort6(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on("error", reject);
        s.listen(0, "::1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

afterAll(async () => {
    await stopAll();
});

describeV6("IPv6: names, listen address and live check", () => {
    let pki: Pki;
    let server: FixtureCert;
    beforeAll(async () => {
        pki = await makePki(makeTestDir("v6-pki"));
        server = await issue({ subject: "CN=ipv6", usage: "server", ipAddresses: ["::1"] }, pki.issuer);
    });

    /** Installs a site with these names and listen address; returns a curl over IPv6 with the client certificate. */
    async function install(label: string, serverNames: string[], address: string) {
        const installDir = path.join(makeTestDir(`v6-${label}`), "site");
        const port = await freePort6();
        const def: SiteDefinition = { siteName: "v6", serverNames, listen: { address, port }, verifyDepth: 2, mode: { kind: "static" } };
        const { target } = resolveNginxSiteArgs({ site: def, target: { kind: "local", installDir, nginx: { kind: "dedicated", binary: NGINX_BIN } } }, { trustedCa: false, crl: false });
        const t = target as HostTargetSettings;
        const release = buildSiteRelease(def, { serverFullChainPem: server.certPem, serverKeyPem: server.key.privateKeyPem, clientCaPem: pki.client.ca }, releaseLayoutOf(t));
        const input: InstallScriptInput = { ...t.script, releaseId: release.releaseId, expectedContentHash: release.contentHash };
        const r = await runScript(renderInstallScript(input), release.payload);
        if (r.code === 0) adopt(installDir, `${installDir}/current/nginx.conf`);
        const curl = () => {
            const c = spawnSync("curl", ["-sS", "-6", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "--max-time", "5", "--cacert", pki.client.caFile, "--cert", pki.client.certFile, "--key", pki.client.keyFile, `https://[::1]:${port}/`], { encoding: "utf8" });
            return { code: c.stdout.slice(-3), headers: c.stdout.slice(0, -3).toLowerCase(), stderr: c.stderr };
        };
        return { r, release, curl, uninstall: () => runScript(renderUninstallScript(input), "") , siteConf: release.siteConf, liveCheck: t.script.liveCheck };
    }

    test.each([
        ["names from server.ipAddresses", ["::1"], "::1"],
        ["a bracketed IPv6 server name", ["[::1]"], "::1"],
        ["every IPv6 address (::), named by its literal", ["[::1]"], "::"],
    ])("%s: installed, live-checked over IPv6 (no SNI for an IP literal) and served", async (label, names, address) => {
        const s = await install(label.replace(/\W+/g, "-").slice(0, 20), names, address);
        expect(s.r.stderr).toBe("");
        expect(s.r.code).toBe(0);
        expect(s.r.stdout).toContain(`release ${s.release.releaseId} is live (start;`);
        expect(s.liveCheck.host).toBe("::1");
        expect(s.liveCheck.serverName).toBeUndefined();
        expect(s.siteConf).toMatch(/server_name \[::1\];/);
        expect(s.siteConf).toMatch(/listen \[::1?\]:\d+ ssl/);
        const got = s.curl();
        expect(got.stderr).toBe("");
        expect(got.code).toBe("200");
        expect(got.headers).toContain(`x-mtls-release: ${s.release.releaseId}`);
        const u = await s.uninstall();
        expect(u.code).toBe(0);
    });

    test("a DNS name among IPv6 literals is the live check's SNI", async () => {
        const dnsServer = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["::1"] }, pki.issuer);
        const keep = server;
        server = dnsServer;
        try {
            const s = await install("dns", ["::1", "localhost"], "::1");
            expect(s.r.stderr).toBe("");
            expect(s.r.code).toBe(0);
            expect(s.liveCheck.serverName).toBe("localhost");
            expect(s.curl().code).toBe("200");
            expect((await s.uninstall()).code).toBe(0);
        } finally {
            server = keep;
        }
    });
});
