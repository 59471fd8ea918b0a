/**
 * Server-certificate rotation on a running dedicated nginx, through the generated install script,
 * under steady load: time from the start of the install script to the new certificate being served,
 * and the number of failed requests.
 *
 * Load: `CONCURRENCY` loops of HTTPS requests with a client certificate, each on a new connection
 * with a full TLS handshake (Node https, agent keepAlive false, no session cache).
 *
 * Run alone: `npx ts-node bench/install.bench.ts` (needs /usr/sbin/nginx, or NGINX_BIN).
 */
import { BenchSection, runStandalone } from "./section";
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import type { TLSSocket } from "tls";
import { InstallFile, InstallScriptInput, RELEASE_HEADER, encodePayload, releaseId, renderInstallScript, renderUninstallScript } from "../components/nginx/install";
import { NGINX_BIN, adopt, hasNginx, makeTestDir, stopAll } from "../test/support/nginx";
import { freePort } from "../test/support/ports";
import { FixtureCert, issue, makeHierarchy } from "../test/support/x509";

const ROTATIONS = 10;
const CONCURRENCY = 4;

function run(command: string, stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        child.stdin.on("error", () => undefined);
        child.stdin.end(stdin);
    });
}

function conf(prefix: string, rel: string, id: string, port: number): string {
    const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${prefix}/${t}_temp;`).join("\n");
    return `worker_processes 2;
pid ${prefix}/logs/nginx.pid;
error_log ${prefix}/logs/error.log;
events { worker_connections 1024; }
http {
    access_log off;
${temps}
    server {
        listen 127.0.0.1:${port} ssl;
        ssl_certificate ${rel}/server.crt;
        ssl_certificate_key ${rel}/server.key;
        ssl_client_certificate ${rel}/client-ca.pem;
        ssl_verify_client on;
        add_header ${RELEASE_HEADER} "${id}" always;
        location / { return 200 "ok\\n"; }
    }
}
`;
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
}

export async function main(): Promise<BenchSection> {
    const title = `install: server-certificate rotation on a running dedicated nginx (${ROTATIONS} rotations, ${CONCURRENCY} concurrent new-handshake mTLS clients)`;
    if (!hasNginx()) {
        return { title, lines: [`skipped: no nginx at ${NGINX_BIN}`] };
    }
    const dir = makeTestDir("install-bench");
    const installDir = path.join(dir, "site");
    const prefix = path.join(dir, "prefix");
    const port = await freePort();
    const { root, issuer } = await makeHierarchy({ name: "Bench" });
    const client = await issue({ subject: "CN=bench-client", usage: "client" }, issuer);
    const input = (id: string): InstallScriptInput => ({
        installDir,
        releaseId: id,
        site: "bench",
        control: { kind: "dedicated", nginxBinary: NGINX_BIN, prefix, confFile: `${installDir}/current/nginx.conf` },
        sharedListen: false,
        liveCheck: { port },
    });
    const release = async (n: number) => {
        const server: FixtureCert = await issue({ subject: "CN=localhost", usage: "server", ipAddresses: ["127.0.0.1"] }, issuer);
        const base: InstallFile[] = [
            { path: "server.crt", content: server.certPem, mode: 0o644 },
            { path: "server.key", content: server.key.privateKeyPem, mode: 0o600 },
            { path: "client-ca.pem", content: root.certPem, mode: 0o644 },
        ];
        const id = releaseId(base, `bench-${n}`);
        const files = [...base, { path: "nginx.conf", content: conf(prefix, `${installDir}/releases/${id}`, id, port), mode: 0o644 as const }];
        const fingerprint = new crypto.X509Certificate(server.certPem).fingerprint256.replace(/:/g, "").toLowerCase();
        return { id, payload: encodePayload(files), fingerprint };
    };

    const lines: string[] = [];
    let lastId = "";
    try {
        const first = await release(0);
        const r0 = await run(renderInstallScript(input(first.id)), first.payload);
        if (r0.code !== 0) throw new Error(`first install failed: ${r0.stderr}`);
        adopt(prefix, `${installDir}/current/nginx.conf`);
        lastId = first.id;

        // A few rotations without load first: the script's own cost on this machine.
        const idleMs: number[] = [];
        for (let i = 1; i <= 3; i++) {
            const next = await release(100 + i);
            const t0 = performance.now();
            const r = await run(renderInstallScript(input(next.id)), next.payload);
            if (r.code !== 0) throw new Error(`idle rotation ${i} failed: ${r.stderr}`);
            idleMs.push(Math.round(performance.now() - t0));
            lastId = next.id;
        }

        // Steady load: every response's certificate and arrival time.
        const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 0 });
        const firstSeen = new Map<string, number>();
        let ok = 0;
        let failed = 0;
        const failures: string[] = [];
        let running = true;
        const one = () =>
            new Promise<void>((resolve) => {
                const req = https.request({ host: "127.0.0.1", port, path: "/", agent, ca: root.certPem, cert: client.certPem, key: client.key.privateKeyPem, timeout: 5000 }, (res) => {
                    const fp = ((res.socket as TLSSocket).getPeerCertificate()?.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
                    res.resume();
                    res.on("end", () => {
                        if (res.statusCode === 200) {
                            ok++;
                            if (!firstSeen.has(fp)) firstSeen.set(fp, performance.now());
                        } else {
                            failed++;
                            failures.push(`HTTP ${res.statusCode}`);
                        }
                        resolve();
                    });
                });
                req.on("timeout", () => req.destroy(new Error("timeout")));
                req.on("error", (e) => {
                    failed++;
                    failures.push(e.message);
                    resolve();
                });
                req.end();
            });
        const loops = Array.from({ length: CONCURRENCY }, async () => {
            while (running) await one();
        });

        const scriptMs: number[] = [];
        const servedMs: number[] = [];
        const phases: Record<string, number[]> = { decode: [], test: [], reload: [], live: [] };
        const started = performance.now();
        await new Promise((r) => setTimeout(r, 500));
        for (let i = 1; i <= ROTATIONS; i++) {
            const next = await release(i);
            const t0 = performance.now();
            const r = await run(renderInstallScript(input(next.id)), next.payload);
            const t1 = performance.now();
            if (r.code !== 0) throw new Error(`rotation ${i} failed: ${r.stderr}`);
            lastId = next.id;
            scriptMs.push(Math.round(t1 - t0));
            const m = /ms: decode (\d+), test (\d+), reload (\d+), live (\d+)/.exec(r.stdout);
            if (m) {
                phases.decode.push(Number(m[1]));
                phases.test.push(Number(m[2]));
                phases.reload.push(Number(m[3]));
                phases.live.push(Number(m[4]));
            }
            // Let the load loop see the new certificate, then note when it first did.
            const deadline = performance.now() + 5000;
            while (!firstSeen.has(next.fingerprint) && performance.now() < deadline) await new Promise((res) => setTimeout(res, 10));
            const seen = firstSeen.get(next.fingerprint);
            servedMs.push(seen === undefined ? NaN : Math.round(seen - t0));
            await new Promise((res) => setTimeout(res, 200));
        }
        running = false;
        await Promise.all(loops);
        agent.destroy();
        const seconds = (performance.now() - started) / 1000;

        lines.push(`without load: install script start -> exit 0: median ${median(idleMs)} ms, max ${Math.max(...idleMs)} ms (3 rotations)`);
        lines.push(`under load: install script start -> exit 0 (new certificate confirmed live by the script): median ${median(scriptMs)} ms, max ${Math.max(...scriptMs)} ms`);
        lines.push(`under load: install script start -> first load request answered with the new certificate: median ${median(servedMs)} ms, max ${Math.max(...servedMs)} ms`);
        lines.push(`under load, script phases (median ms): decode+version ${median(phases.decode)}, nginx -t ${median(phases.test)}, reload ${median(phases.reload)}, live check ${median(phases.live)}`);
        lines.push(`requests during the loaded run: ${ok} ok, ${failed} failed (${(ok / seconds).toFixed(0)} req/s)${failures.length ? `; first failures: ${failures.slice(0, 3).join(", ")}` : ""}`);
    } finally {
        if (lastId) await run(renderUninstallScript(input(lastId)), "");
        await stopAll();
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return { title, lines };
}

if (require.main === module) runStandalone(main);
