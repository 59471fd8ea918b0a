/**
 * How much a dedicated instance logs for a request it refuses (no client certificate): anyone who
 * can reach the port can send those, so what each one writes must not grow the disk without bound.
 * The site, its release and its install script are the real ones (resolveNginxSiteArgs,
 * buildSiteRelease, renderInstallScript), against a real nginx.
 */
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { HostTarget } from "../../components/nginx/hostTarget";
import { InstallScriptInput, renderInstallScript } from "../../components/nginx/install";
import { SiteDefinition, buildSiteRelease } from "../../components/nginx/release";
import { releaseLayoutOf, resolveNginxSiteArgs } from "../../components/nginx/site";
import { HostTargetSettings } from "../../components/nginx/hostTarget";
import { runScript } from "../support/installHarness";
import { NGINX_BIN, adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { freePort } from "../support/ports";
import { FixtureCert, issue, makeHierarchy } from "../support/x509";

const describeNginx = hasNginx() ? describe : describe.skip;
const REFUSED = 200;

afterAll(async () => {
    await stopAll();
});

/** One request without a client certificate (nginx answers 400); resolves with the status. */
function refused(port: number, agent: https.Agent): Promise<number> {
    return new Promise((resolve, reject) => {
        const req = https.request({ host: "127.0.0.1", port, path: "/", servername: "localhost", rejectUnauthorized: false, agent, timeout: 5000 }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end();
    });
}

function size(file: string): number {
    try {
        return fs.statSync(file).size;
    } catch {
        return 0;
    }
}

describeNginx("log growth per refused request on a dedicated instance", () => {
    let issuer: FixtureCert;
    let server: FixtureCert;
    beforeAll(async () => {
        ({ issuer } = await makeHierarchy({ name: "Logs" }));
        server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"] }, issuer);
    });

    /** Installs the site with `nginx` target settings, sends REFUSED requests, returns bytes per request per log. */
    async function measure(label: string, nginx: HostTarget["nginx"]): Promise<{ error: number; access: number; level: string }> {
        const installDir = path.join(makeTestDir(`logs-${label}`), "site");
        const port = await freePort();
        const def: SiteDefinition = { siteName: "logs", serverNames: ["localhost"], listen: { address: "127.0.0.1", port }, verifyDepth: 2, mode: { kind: "static" } };
        const { target } = resolveNginxSiteArgs({ site: def, target: { kind: "local", installDir, nginx } }, { trustedCa: false, crl: false });
        const t = target as HostTargetSettings;
        const release = buildSiteRelease(def, { serverFullChainPem: server.certPem, serverKeyPem: server.key.privateKeyPem, clientCaPem: issuer.certPem }, releaseLayoutOf(t));
        const input: InstallScriptInput = { ...t.script, control: { ...t.script.control, nginxBinary: NGINX_BIN }, releaseId: release.releaseId, expectedContentHash: release.contentHash };
        const r = await runScript(renderInstallScript(input), release.payload);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        adopt(installDir, `${installDir}/current/nginx.conf`);
        const level = /error_log \S+ (\w+);/.exec(release.nginxConf ?? "")?.[1] ?? "?";
        const errorLog = path.join(installDir, "logs", "error.log");
        const accessLog = path.join(installDir, "logs", "access.log");
        const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 0 });
        // One request first: what the install's own probes and the start wrote is not counted.
        expect(await refused(port, agent)).toBe(400);
        await new Promise((res) => setTimeout(res, 200));
        const before = { error: size(errorLog), access: size(accessLog) };
        for (let i = 0; i < REFUSED; i++) expect(await refused(port, agent)).toBe(400);
        await new Promise((res) => setTimeout(res, 200));
        agent.destroy();
        return { error: (size(errorLog) - before.error) / REFUSED, access: (size(accessLog) - before.access) / REFUSED, level };
    }

    test(`by default, a refused request writes nothing to the error log (${REFUSED} requests); info is opt-in`, async () => {
        const byDefault = await measure("default", undefined);
        const info = await measure("info", { kind: "dedicated", errorLogLevel: "info" });
        console.log(
            `bytes per refused request: default (error_log ${byDefault.level}): error log ${byDefault.error.toFixed(0)}, access log ${byDefault.access.toFixed(0)}; ` +
                `errorLogLevel "info": error log ${info.error.toFixed(0)}, access log ${info.access.toFixed(0)}`,
        );
        expect(byDefault.level).toBe("notice");
        expect(byDefault.error).toBe(0);
        // The opt-in logs why each request was refused ("client sent no required SSL certificate").
        expect(info.level).toBe("info");
        expect(info.error).toBeGreaterThan(100);
    }, 120_000);
});
