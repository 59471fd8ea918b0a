/**
 * The generated install/uninstall scripts against a real nginx, run exactly as local.Command runs
 * them: `/bin/sh -c <script>` with the payload on stdin.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as path from "path";
import { InstallScriptInput, contentHash, encodePayload, renderInstallScript, renderUninstallScript } from "../../components/nginx/install";
import { versionMessage } from "../../components/nginx/version";
import { Pki, currentOf, curl, dedicatedConf, makePki, request, runScript, serverBlock, serverCert, siteFiles, startLoad, systemControl, waitServed, writeMainConf } from "../support/installHarness";
import { NGINX_BIN, adopt, hasNginx, makeTestDir, startNginx, stopAll, waitForOldWorkers, workersOf } from "../support/nginx";
import { freePort } from "../support/ports";

const describeNginx = hasNginx() ? describe : describe.skip;

afterAll(async () => {
    await stopAll();
});

describeNginx("install scripts against a real nginx", () => {
    let pki: Pki;
    beforeAll(async () => {
        pki = await makePki(makeTestDir("install-pki"));
    });

    describe("dedicated instance", () => {
        let dir: string;
        let installDir: string;
        let prefix: string;
        let port: number;
        let input: (id: string, extra?: Partial<InstallScriptInput>) => InstallScriptInput;
        let v1: ReturnType<typeof siteFiles>;
        let v2: ReturnType<typeof siteFiles>;
        const render = (extra: { extraListen?: number; extra?: string } = {}) => (rel: string, id: string) => ({
            name: "nginx.conf",
            text: dedicatedConf({ prefix, rel, id, port, ...extra }),
        });

        beforeAll(async () => {
            dir = makeTestDir("install-dedicated");
            installDir = path.join(dir, "site");
            prefix = path.join(dir, "prefix");
            port = await freePort();
            input = (id, extra = {}) => ({
                installDir,
                releaseId: id,
                site: "dedicated",
                control: { kind: "dedicated", nginxBinary: NGINX_BIN, prefix, confFile: `${installDir}/current/nginx.conf` },
                sharedListen: false,
                liveCheck: { host: "127.0.0.1", port, timeoutSeconds: 5 },
                ...extra,
            });
        });

        test("(a) a first install starts nginx and serves the certificate; keys are 0600", async () => {
            v1 = siteFiles(await serverCert(pki), pki, render(), installDir, "v1");
            const r = await runScript(renderInstallScript(input(v1.id, { expectedContentHash: contentHash(v1.files) })), v1.payload);
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            adopt(prefix, `${installDir}/current/nginx.conf`);
            expect(r.stdout).toContain(`release ${v1.id} is live (start; previous: none`);
            expect(r.stdout).toContain(v1.fingerprint);

            expect(currentOf(installDir)).toBe(v1.id);
            const rel = path.join(installDir, "releases", v1.id);
            const mode = (p: string) => fs.statSync(path.join(rel, p)).mode & 0o777;
            expect(mode("server.key")).toBe(0o600);
            expect(mode("server.crt")).toBe(0o644);
            expect(mode("nginx.conf")).toBe(0o644);
            expect(mode("errors/496.html")).toBe(0o644);
            expect(mode(".")).toBe(0o755);
            expect(mode("errors")).toBe(0o755);
            expect(fs.readFileSync(path.join(rel, "server.key"), "utf8")).toBe(v1.files.find((f) => f.path === "server.key")!.content);

            const withCert = curl(port, pki.client);
            expect(withCert.code).toBe("200");
            expect(withCert.headers.toLowerCase()).toContain(`x-mtls-release: ${v1.id}`);
            const without = curl(port, undefined, ["-k"]);
            expect(without.code).toBe("400");
            // The error page is read by the workers (nobody when the master is root): dirs 0755, files 0644.
            const body = spawnSync("curl", ["-sk", "--max-time", "5", `https://127.0.0.1:${port}/`], { encoding: "utf8" }).stdout;
            expect(body).toContain("client certificate required");
        });

        test("(b) an update with a new server certificate swaps, reloads and serves it, with no failed request", async () => {
            v2 = siteFiles(await serverCert(pki), pki, render(), installDir, "v2");
            expect(v2.id).not.toBe(v1.id);
            const load = startLoad(port, pki.client, 4);
            await new Promise((r) => setTimeout(r, 300));
            const r = await runScript(renderInstallScript(input(v2.id)), v2.payload);
            await new Promise((r) => setTimeout(r, 300));
            const stats = await load.stop();
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            expect(r.stdout).toContain(`release ${v2.id} is live (reload; previous: ${v1.id}`);
            expect(currentOf(installDir)).toBe(v2.id);
            expect(stats.errors).toEqual([]);
            expect(stats.failed).toBe(0);
            expect(stats.ok).toBeGreaterThan(20);
            expect([...stats.fingerprints].sort()).toEqual([v1.fingerprint, v2.fingerprint].sort());
            const after = await request(port, pki.client, new https.Agent({ keepAlive: false, maxCachedSessions: 0 }));
            expect(after.fingerprint).toBe(v2.fingerprint);
            expect(after.release).toBe(v2.id);
            // Current and previous are kept.
            expect(fs.readdirSync(path.join(installDir, "releases")).sort()).toEqual([v1.id, v2.id].sort());
        });

        test("(c) a broken update fails with nginx's message, keeps current and the old site", async () => {
            const broken = siteFiles(await serverCert(pki), pki, render({ extra: `        ssl_crl RELDIR/crl.pem;` }), installDir, "broken");
            // The config references a crl.pem that is not in the payload.
            const files = broken.files.map((f) => (f.path === "nginx.conf" ? { ...f, content: f.content.replace("RELDIR", `${installDir}/releases/${broken.id}`) } : f));
            const r = await runScript(renderInstallScript(input(broken.id)), encodePayload(files));
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain("mtls-nginx: nginx -t rejected the new configuration; the previous configuration is still being served:");
            expect(r.stderr).toMatch(/crl\.pem.*(No such file|failed)/);
            expect(r.stdout).toBe("");
            expect(currentOf(installDir)).toBe(v2.id);
            expect(fs.existsSync(path.join(installDir, "releases", broken.id))).toBe(false);
            const still = curl(port, pki.client);
            expect(still.code).toBe("200");
            expect(still.headers.toLowerCase()).toContain(`x-mtls-release: ${v2.id}`);
        });

        test("(d) a config nginx -t accepts but the reload cannot apply is detected, rolled back and fails", async () => {
            const blocker = net.createServer();
            await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
            const taken = (blocker.address() as net.AddressInfo).port;
            try {
                const bad = siteFiles(await serverCert(pki), pki, render({ extraListen: taken }), installDir, "taken");
                const r = await runScript(renderInstallScript(input(bad.id)), bad.payload);
                expect(r.code).not.toBe(0);
                expect(r.stderr).toContain("restoring the previous release");
                expect(r.stderr).toContain(`bind() to 127.0.0.1:${taken} failed`);
                expect(r.stderr).toMatch(/rolled back \(current -> releases\/\w+; nginx reloaded with the previous configuration, which is served again\)/);
                expect(currentOf(installDir)).toBe(v2.id);
                expect(fs.existsSync(path.join(installDir, "releases", bad.id))).toBe(false);
                const still = curl(port, pki.client);
                expect(still.code).toBe("200");
                expect(still.headers.toLowerCase()).toContain(`x-mtls-release: ${v2.id}`);
            } finally {
                blocker.close();
            }
        });

        test("(g) a truncated payload is rejected before anything is swapped", async () => {
            const v3 = siteFiles(await serverCert(pki), pki, render(), installDir, "v3");
            const cut = v3.payload.slice(0, Math.floor(v3.payload.length * 0.6));
            const r = await runScript(renderInstallScript(input(v3.id)), cut);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(/mtls-nginx: payload: truncated after \d file\(s\) \(no end line\); nothing was changed/);
            const keyB64 = Buffer.from(v3.files.find((f) => f.path === "server.key")!.content).toString("base64");
            expect(r.stderr).not.toContain(keyB64.slice(0, 40));
            expect(currentOf(installDir)).toBe(v2.id);
            expect(fs.readdirSync(path.join(installDir, "releases")).sort()).toEqual([v1.id, v2.id].sort());
            expect(fs.existsSync(path.join(installDir, ".lock"))).toBe(false);
            // A payload without its last line (the end line) too.
            const noEnd = v3.payload.split("\n").slice(0, -2).join("\n") + "\n";
            const r2 = await runScript(renderInstallScript(input(v3.id)), noEnd);
            expect(r2.code).not.toBe(0);
            expect(r2.stderr).toContain("no end line");
            expect(currentOf(installDir)).toBe(v2.id);
            expect(curl(port, pki.client).code).toBe("200");
        });

        test("running the same release again changes nothing and reloads nothing", async () => {
            const pid = fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8").trim();
            // The earlier rollbacks reloaded: an old worker still draining would answer the script's probe.
            await waitForOldWorkers(Number(pid));
            const r = await runScript(renderInstallScript(input(v2.id)), v2.payload);
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            expect(r.stdout).toContain(`release ${v2.id} is live (none; previous: ${v1.id}; release dir yes)`);
            expect(fs.readlinkSync(path.join(installDir, "previous"))).toBe(`releases/${v1.id}`);
            expect(fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8").trim()).toBe(pid);
        });

        test("rolling back to the previous release by installing it again reuses its directory", async () => {
            const r = await runScript(renderInstallScript(input(v1.id)), v1.payload);
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            expect(r.stdout).toContain(`release ${v1.id} is live (reload; previous: ${v2.id}; release dir yes)`);
            expect(curl(port, pki.client).headers.toLowerCase()).toContain(`x-mtls-release: ${v1.id}`);
        });

        test("a current release that nginx does not serve (a run stopped between swap and reload) is reloaded, saying why", async () => {
            // nginx serves v1; 'current' is pointed at v2 behind its back.
            const link = path.join(installDir, "current");
            fs.symlinkSync(`releases/${v2.id}`, `${link}.tmp-test`);
            fs.renameSync(`${link}.tmp-test`, link);
            const r = await runScript(renderInstallScript(input(v2.id)), v2.payload);
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            expect(r.stdout).toMatch(new RegExp(`release ${v2.id} is current but was not confirmed live \\(served certificate sha256 [0-9a-f]{64}, release header ${v1.id}\\): reloading`));
            expect(r.stdout).toContain(`release ${v2.id} is live (reload;`);
            expect(curl(port, pki.client).headers.toLowerCase()).toContain(`x-mtls-release: ${v2.id}`);
            // Back to v1 for the uninstall test.
            const back = await runScript(renderInstallScript(input(v1.id)), v1.payload);
            expect(back.code).toBe(0);
            expect(back.stdout).toContain(`release ${v1.id} is live (reload; previous: ${v2.id};`);
        });

        test("a reload is reported live only once the old workers stopped accepting (a worker slow to handle its QUIT)", async () => {
            const master = Number(fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8").trim());
            await waitForOldWorkers(master);
            const old = workersOf(master).map((w) => w.pid);
            expect(old.length).toBeGreaterThan(0);
            // Stopped, the old worker cannot handle its QUIT (as on a busy host), while the new one serves the probe.
            for (const pid of old) process.kill(pid, "SIGSTOP");
            const resume = setTimeout(() => old.forEach((pid) => process.kill(pid, "SIGCONT")), 1500);
            try {
                const r = await runScript(renderInstallScript(input(v2.id)), v2.payload);
                const stillAccepting = workersOf(master).filter((w) => old.includes(w.pid) && !w.shuttingDown);
                expect(r.stderr).toBe("");
                expect(r.code).toBe(0);
                expect(r.stdout).toContain(`release ${v2.id} is live (reload;`);
                expect(stillAccepting).toEqual([]);
                expect(r.ms).toBeGreaterThanOrEqual(1400);
            } finally {
                clearTimeout(resume);
                old.forEach((pid) => {
                    try {
                        process.kill(pid, "SIGCONT");
                    } catch {
                        /* exited */
                    }
                });
            }
            // Back to v1 for the uninstall test.
            const back = await runScript(renderInstallScript(input(v1.id)), v1.payload);
            expect(back.code).toBe(0);
        });

        test("(f) uninstall leaves a site another release owns, and removes its own", async () => {
            // The resource that installed v2 is deleted after a replacement installed v1: no-op.
            const stale = await runScript(renderUninstallScript(input(v2.id)), "");
            expect(stale.code).toBe(0);
            expect(stale.stdout).toContain("another deployment owns the site now; leaving it in place");
            expect(curl(port, pki.client).code).toBe("200");

            const pid = Number(fs.readFileSync(path.join(prefix, "logs", "nginx.pid"), "utf8").trim());
            const r = await runScript(renderUninstallScript(input(v1.id)), "");
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            expect(r.stdout).toContain(`removed release ${v1.id}`);
            expect(r.stdout).toContain(`stopped nginx (pid ${pid})`);
            expect(() => process.kill(pid, 0)).toThrow();
            expect(fs.existsSync(path.join(installDir, "current"))).toBe(false);
            expect(fs.existsSync(path.join(installDir, "releases"))).toBe(false);
            expect(curl(port, pki.client).code).toBe("000");

            const again = await runScript(renderUninstallScript(input(v1.id)), "");
            expect(again.code).toBe(0);
            expect(again.stdout).toContain("nothing to remove");
        });
    });

    test("(e) system mode: a private main nginx includes the site through the include link, reloaded by a user command", async () => {
        const dir = makeTestDir("install-system");
        const prefix = path.join(dir, "nginx");
        const installDir = path.join(dir, "site");
        const mainPort = await freePort();
        const port = await freePort();
        const { mainConf, confD } = writeMainConf(prefix, mainPort);
        const main = await startNginx(prefix, mainConf);
        const includeLink = path.join(confD, "mtls-site.conf");
        const input = (id: string): InstallScriptInput => ({
            installDir,
            releaseId: id,
            site: "system-site",
            control: systemControl(prefix, mainConf, includeLink),
            // The real Debian nginx 1.22.1 carries the CVE-2025-23419 backport: "refuse" lets it through.
            sharedListen: true,
            versionPolicy: "refuse",
            liveCheck: { port, serverName: "localhost", timeoutSeconds: 5 },
        });
        const render = (extra = "") => (rel: string, id: string) => ({ name: "site.conf", text: serverBlock({ rel, id, port, extra }) });

        const s1 = siteFiles(await serverCert(pki), pki, render(), installDir, "s1");
        const r1 = await runScript(renderInstallScript(input(s1.id)), s1.payload);
        expect(r1.stderr).toBe("");
        expect(r1.code).toBe(0);
        expect(r1.stdout).toContain(`release ${s1.id} is live (reload; previous: none`);
        expect(r1.stdout).toContain("(CVE-2025-23419 fix: distribution)");
        expect(fs.readlinkSync(includeLink)).toBe(`${installDir}/current/site.conf`);
        expect(curl(port, pki.client).code).toBe("200");
        expect(curl(port, undefined, ["-k"]).code).toBe("400");
        expect(spawnSync("curl", ["-s", `http://127.0.0.1:${mainPort}/`], { encoding: "utf8" }).stdout).toBe("main\n");

        const s2 = siteFiles(await serverCert(pki), pki, render(), installDir, "s2");
        const workersBefore = workersOf(main.pid()!).map((w) => w.pid);
        const r2 = await runScript(renderInstallScript(input(s2.id)), s2.payload);
        expect(r2.stderr).toBe("");
        expect(r2.code).toBe(0);
        expect(r2.stdout).toContain(`release ${s2.id} is live (reload; previous: ${s1.id}`);
        // When the script says live, every worker of the old configuration has handled its QUIT: a new
        // connection gets the new release (checked right away, no waiting here).
        expect(workersOf(main.pid()!).filter((w) => workersBefore.includes(w.pid) && !w.shuttingDown)).toEqual([]);
        expect(curl(port, pki.client).headers.toLowerCase()).toContain(`x-mtls-release: ${s2.id}`);

        // Broken: tested in the full configuration of the main nginx (a mirror of it in which the include
        // link names the new release) BEFORE the swap: 'current' and the link never name it.
        const broken = siteFiles(await serverCert(pki), pki, render("        ssl_crl /nonexistent/crl.pem;"), installDir, "s3");
        const r3 = await runScript(renderInstallScript(input(broken.id)), broken.payload);
        expect(r3.code).not.toBe(0);
        expect(r3.stderr).toContain("mtls-nginx: nginx -t rejected the new configuration; the previous configuration is still being served:");
        expect(r3.stderr).toContain("/nonexistent/crl.pem");
        expect(r3.stderr).not.toContain("rolled back (current");
        expect(currentOf(installDir)).toBe(s2.id);
        expect(fs.existsSync(path.join(installDir, "releases", broken.id))).toBe(false);
        expect(curl(port, pki.client).headers.toLowerCase()).toContain(`x-mtls-release: ${s2.id}`);
        // nginx's words name the release's own file and line, not the test mirror's.
        const typo = siteFiles(await serverCert(pki), pki, render("        bogus_directive on;"), installDir, "s4");
        const r4 = await runScript(renderInstallScript(input(typo.id)), typo.payload);
        expect(r4.code).not.toBe(0);
        expect(r4.stderr).toMatch(new RegExp(`unknown directive "bogus_directive" in ${installDir}/releases/${typo.id}/site\\.conf:\\d+`));
        expect(r4.stderr).not.toContain(".context-");
        expect(fs.readdirSync(installDir).filter((f) => f.startsWith(".context-") || f === ".journal")).toEqual([]);
        expect(currentOf(installDir)).toBe(s2.id);
        // Another site's file that nginx -t rejects is not blamed on this release.
        const other = path.join(confD, "zzz-other.conf");
        fs.writeFileSync(other, "server { listen 127.0.0.1:1 ssl; bogus_other on; }\n");
        try {
            const s5 = siteFiles(await serverCert(pki), pki, render(), installDir, "s5");
            const r5 = await runScript(renderInstallScript(input(s5.id)), s5.payload);
            expect(r5.code).not.toBe(0);
            expect(r5.stderr).toContain(`release ${s5.id} could not be tested with nginx -t in nginx's configuration: nginx -T fails on the configuration nginx has now, before release ${s5.id} is added:`);
            expect(r5.stderr).toContain(`unknown directive "bogus_other" in ${other}:1`);
            expect(r5.stderr).not.toContain("rejected the new configuration");
            expect(currentOf(installDir)).toBe(s2.id);
        } finally {
            fs.rmSync(other);
        }

        const u = await runScript(renderUninstallScript(input(s2.id)), "");
        expect(u.stderr).toBe("");
        expect(u.code).toBe(0);
        expect(u.stdout).toContain(`removed ${includeLink} and reloaded nginx`);
        expect(fs.existsSync(includeLink)).toBe(false);
        expect(fs.existsSync(installDir)).toBe(false);
        const deadline = Date.now() + 5000;
        while (curl(port, pki.client).code !== "000" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        expect(curl(port, pki.client).code).toBe("000");
        expect(main.pid()).toBeDefined();
        expect(spawnSync("curl", ["-s", `http://127.0.0.1:${mainPort}/`], { encoding: "utf8" }).stdout).toBe("main\n");
    });

    test("(j) a failed live check shows the error-log lines that explain it, not the installer's own probes", async () => {
        const dir = makeTestDir("install-tail");
        const prefix = path.join(dir, "nginx");
        const installDir = path.join(dir, "site");
        const port = await freePort();
        const { mainConf, confD } = writeMainConf(prefix);
        // Another mTLS site already answers for "localhost" on that port (included first): nginx warns at the
        // reload that the new one's name is ignored, and the installer's probes reach the other site.
        const other = await serverCert(pki);
        const otherDir = path.join(dir, "other");
        fs.mkdirSync(otherDir, { mode: 0o755 });
        fs.writeFileSync(path.join(otherDir, "server.crt"), other.certPem);
        fs.writeFileSync(path.join(otherDir, "server.key"), other.key.privateKeyPem, { mode: 0o600 });
        fs.writeFileSync(path.join(otherDir, "client-ca.pem"), pki.client.ca);
        fs.writeFileSync(path.join(confD, "aaa-other.conf"), serverBlock({ rel: otherDir, id: "other", port }).replace("location = /errors/496.html { root " + otherDir + "; internal; }", ""));
        const main = await startNginx(prefix, mainConf);
        const input = (id: string): InstallScriptInput => ({
            installDir,
            releaseId: id,
            site: "tail",
            control: systemControl(prefix, mainConf, path.join(confD, "mtls-tail.conf")),
            sharedListen: true,
            liveCheck: { port, serverName: "localhost", timeoutSeconds: 3 },
        });
        const site = siteFiles(await serverCert(pki), pki, (rel, id) => ({ name: "site.conf", text: serverBlock({ rel, id, port }) }), installDir, "tail");
        const r = await runScript(renderInstallScript(input(site.id)), site.payload);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("the new release was not served within 3 s");
        expect(r.stderr).toMatch(/\[warn\].*conflicting server name "localhost" on 127\.0\.0\.1:\d+, ignored/);
        // The probes' own lines ("client sent no required SSL certificate ... HEAD /") are left out, and counted.
        expect(r.stderr).not.toMatch(/request: "HEAD \//);
        expect(r.stderr).toMatch(/left out: [1-9]\d* line\(s\) from the installer's own probes/);
        expect(main.errorLog()).toMatch(/request: "HEAD \/\?mtls-nginx-live-check HTTP\/1\.0"/);
    });

    test("(i) a dedicated instance whose main config lies outside the release: tested in that config's full context before the swap", async () => {
        const dir = makeTestDir("install-external");
        const prefix = path.join(dir, "prefix");
        const installDir = path.join(dir, "site");
        const port = await freePort();
        const conf = writeMainConf(prefix, undefined, { include: `${installDir}/current/site.conf`, file: "main.conf" }).mainConf;
        const input = (id: string): InstallScriptInput => ({
            installDir,
            releaseId: id,
            site: "external",
            control: { kind: "dedicated", nginxBinary: NGINX_BIN, prefix, confFile: conf },
            sharedListen: false,
            liveCheck: { port, timeoutSeconds: 5 },
        });
        const render = (extra = "") => (rel: string, id: string) => ({ name: "site.conf", text: serverBlock({ rel, id, port, extra }) });
        // The first install: that config cannot load before 'current' exists; tested after the swap.
        const e1 = siteFiles(await serverCert(pki), pki, render(), installDir, "e1");
        const r1 = await runScript(renderInstallScript(input(e1.id)), e1.payload);
        expect(r1.stderr).toBe("");
        expect(r1.code).toBe(0);
        adopt(prefix, conf);
        expect(curl(port, pki.client).headers.toLowerCase()).toContain(`x-mtls-release: ${e1.id}`);
        const e2 = siteFiles(await serverCert(pki), pki, render(), installDir, "e2");
        const r2 = await runScript(renderInstallScript(input(e2.id)), e2.payload);
        expect(r2.stderr).toBe("");
        expect(r2.code).toBe(0);
        expect(await waitServed(port, pki.client, e2.id)).toContain(`x-mtls-release: ${e2.id}`);
        const bad = siteFiles(await serverCert(pki), pki, render("        bogus_directive on;"), installDir, "e3");
        const r3 = await runScript(renderInstallScript(input(bad.id)), bad.payload);
        expect(r3.code).not.toBe(0);
        expect(r3.stderr).toMatch(new RegExp(`unknown directive "bogus_directive" in ${installDir}/releases/${bad.id}/site\\.conf:\\d+`));
        expect(r3.stderr).not.toContain("rolled back (current");
        expect(currentOf(installDir)).toBe(e2.id);
        const u = await runScript(renderUninstallScript(input(e2.id)), "");
        expect(u.code).toBe(0);
        expect(u.stdout).toContain("stopped nginx");
    });

    test("(h) version policy: an unfixed nginx on a shared listen address is refused, or installed with a warning", async () => {
        const dir = makeTestDir("install-version");
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { mode: 0o755 });
        const stub = path.join(bin, "nginx");
        fs.writeFileSync(stub, `#!/bin/sh\nif [ "$1" = "-v" ]; then echo "nginx version: nginx/1.24.0" >&2; exit 0; fi\nexec ${NGINX_BIN} "$@"\n`, { mode: 0o755 });
        const installDir = path.join(dir, "site");
        const prefix = path.join(dir, "prefix");
        const port = await freePort();
        const v = siteFiles(await serverCert(pki), pki, (rel, id) => ({ name: "nginx.conf", text: dedicatedConf({ prefix, rel, id, port }) }), installDir, "h");
        const input = (versionPolicy: "refuse" | "warn"): InstallScriptInput => ({
            installDir,
            releaseId: v.id,
            site: "version",
            control: { kind: "dedicated", nginxBinary: stub, prefix, confFile: `${installDir}/current/nginx.conf` },
            sharedListen: true,
            versionPolicy,
            liveCheck: { port, serverName: "localhost" },
        });

        const refused = await runScript(renderInstallScript(input("refuse")), v.payload);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toBe(`mtls-nginx: ${versionMessage("refuse", "1.24.0")}\n`);
        expect(refused.stderr).toContain("upgrade nginx to 1.26.3+");
        expect(refused.stderr).toContain("dedicated listen address/port");
        expect(fs.existsSync(installDir)).toBe(false);

        const warned = await runScript(renderInstallScript(input("warn")), v.payload);
        expect(warned.stderr).toBe(`mtls-nginx: warning: ${versionMessage("warn", "1.24.0")}\n`);
        expect(warned.code).toBe(0);
        adopt(prefix, `${installDir}/current/nginx.conf`);
        expect(warned.stdout).toContain("nginx 1.24.0 (CVE-2025-23419 fix: none)");
        expect(curl(port, pki.client).code).toBe("200");

        // Not shared: the same nginx is fine even with "refuse".
        const dedicated = await runScript(renderInstallScript({ ...input("refuse"), sharedListen: false }), v.payload);
        expect(dedicated.stderr).toBe("");
        expect(dedicated.code).toBe(0);

        const u = await runScript(renderUninstallScript(input("warn")), "");
        expect(u.code).toBe(0);
        expect(u.stdout).toContain("stopped nginx");
    });
});
