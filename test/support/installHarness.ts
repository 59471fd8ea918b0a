/**
 * Shared by the install-script integration tests: running a script the way local.Command does,
 * a small PKI, mTLS release files with a dedicated or system config, and curl/Node clients.
 */
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { InstallFile, InstallScriptInput, RELEASE_HEADER, encodePayload, releaseId } from "../../components/nginx/install";
import { NGINX_BIN } from "./nginx";
import { FixtureCert, issue, makeHierarchy } from "./x509";

export interface RunResult {
    code: number | null;
    stdout: string;
    stderr: string;
    ms: number;
}

/**
 * The shell local.Command uses: `/bin/sh` (dash here). MTLS_TEST_SH and MTLS_TEST_PATH let the same
 * tests run under another POSIX shell and tool set (e.g. busybox sh with only busybox applets).
 */
export const SHELL = process.env.MTLS_TEST_SH ?? "/bin/sh";
export const SCRIPT_ENV: NodeJS.ProcessEnv = process.env.MTLS_TEST_PATH ? { ...process.env, PATH: process.env.MTLS_TEST_PATH } : process.env;

/** Runs a command string the way local.Command does: `/bin/sh -c <command>`, stdin piped. */
export function runScript(command: string, stdin: string, env: NodeJS.ProcessEnv = SCRIPT_ENV): Promise<RunResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn(SHELL, ["-c", command], { stdio: ["pipe", "pipe", "pipe"], env });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
        child.stdin.on("error", () => undefined); // the script may exit before reading everything
        child.stdin.end(stdin);
    });
}

export function sha256Fingerprint(certPem: string): string {
    return new crypto.X509Certificate(certPem).fingerprint256.replace(/:/g, "").toLowerCase();
}

export interface Client {
    ca: string;
    cert: string;
    key: string;
    /** Files for curl. */
    caFile: string;
    certFile: string;
    keyFile: string;
}

export function curl(port: number, client: Client | undefined, extra: string[] = []): { code: string; headers: string } {
    const args = ["-sS", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}", "--max-time", "5", "--cacert", client?.caFile ?? "/dev/null"];
    if (client) args.push("--cert", client.certFile, "--key", client.keyFile);
    args.push(...extra, `https://127.0.0.1:${port}/`);
    const r = spawnSync("curl", args, { encoding: "utf8" });
    const out = r.stdout ?? "";
    return { code: out.slice(-3), headers: out.slice(0, -3) };
}

/** One request with a fresh TLS handshake: status and served certificate fingerprint. */
export function request(port: number, client: Client, agent: https.Agent): Promise<{ status: number; fingerprint: string; release: string }> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            { host: "127.0.0.1", port, path: "/", method: "GET", ca: client.ca, cert: client.cert, key: client.key, agent, timeout: 5000 },
            (res) => {
                const peer = (res.socket as import("tls").TLSSocket).getPeerCertificate();
                res.resume();
                res.on("end", () =>
                    resolve({
                        status: res.statusCode ?? 0,
                        fingerprint: (peer?.fingerprint256 ?? "").replace(/:/g, "").toLowerCase(),
                        release: String(res.headers[RELEASE_HEADER.toLowerCase()] ?? ""),
                    }),
                );
            },
        );
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end();
    });
}

/** A bounded loop of `concurrency` clients doing new-handshake requests until stopped. */
export function startLoad(port: number, client: Client, concurrency = 4) {
    const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 0 });
    let running = true;
    const stats = { ok: 0, failed: 0, errors: [] as string[], fingerprints: new Set<string>(), releases: new Set<string>() };
    const worker = async () => {
        while (running) {
            try {
                const r = await request(port, client, agent);
                if (r.status === 200) {
                    stats.ok++;
                    stats.fingerprints.add(r.fingerprint);
                    stats.releases.add(r.release);
                } else {
                    stats.failed++;
                    stats.errors.push(`HTTP ${r.status}`);
                }
            } catch (e) {
                stats.failed++;
                stats.errors.push(String((e as Error).message));
            }
        }
    };
    const workers = Array.from({ length: concurrency }, worker);
    return {
        stats,
        async stop() {
            running = false;
            await Promise.all(workers);
            agent.destroy();
            return stats;
        },
    };
}

export function tempPaths(prefix: string): string {
    return ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${prefix}/${t}_temp;`).join("\n");
}

/**
 * A host's main nginx.conf under `prefix` (logs/, temp paths, `include conf.d/*.conf`), as a system nginx
 * has: with `mainPort`, a plain server of its own on it answering "main"; `include` in place of conf.d's
 * files, `file` in place of nginx.conf. Returns the file and conf.d.
 */
export function writeMainConf(prefix: string, mainPort?: number, o: { include?: string; file?: string } = {}): { mainConf: string; confD: string } {
    const confD = path.join(prefix, "conf.d");
    fs.mkdirSync(path.join(prefix, "logs"), { recursive: true, mode: 0o755 });
    fs.mkdirSync(confD, { recursive: true, mode: 0o755 });
    const mainConf = path.join(prefix, o.file ?? "nginx.conf");
    const mainServer = mainPort === undefined ? "" : `    server { listen 127.0.0.1:${mainPort}; location / { return 200 "main\\n"; } }\n`;
    fs.writeFileSync(
        mainConf,
        `worker_processes 1;
pid ${prefix}/logs/nginx.pid;
error_log ${prefix}/logs/error.log info;
events { worker_connections 256; }
http {
    access_log off;
${tempPaths(prefix)}
${mainServer}    include ${o.include ?? `${confD}/*.conf`};
}
`,
    );
    return { mainConf, confD };
}

/** The install script's control for the main nginx of writeMainConf: the site included through `includeLink`, reloaded by a user command. */
export function systemControl(prefix: string, mainConf: string, includeLink: string): InstallScriptInput["control"] {
    return {
        kind: "system",
        nginxBinary: NGINX_BIN,
        includeLink,
        nginxArgs: ["-p", prefix, "-c", mainConf],
        reload: { command: `${NGINX_BIN} -p '${prefix}' -c '${mainConf}' -s reload` },
        errorLog: path.join(prefix, "logs", "error.log"),
    };
}

/** A small mTLS server block, as the renderer would write it. */
export function serverBlock(o: { rel: string; id: string; port: number; extraListen?: number; extra?: string }): string {
    return `    server {
        listen 127.0.0.1:${o.port} ssl;${o.extraListen ? `\n        listen 127.0.0.1:${o.extraListen} ssl;` : ""}
        server_name localhost;
        ssl_certificate ${o.rel}/server.crt;
        ssl_certificate_key ${o.rel}/server.key;
        ssl_client_certificate ${o.rel}/client-ca.pem;
        ssl_verify_client on;
        add_header ${RELEASE_HEADER} "${o.id}" always;
        error_page 496 /errors/496.html;
        location = /errors/496.html { root ${o.rel}; internal; }
${o.extra ?? ""}
        location / { return 200 "ok ${o.id}\\n"; }
    }
`;
}

export function dedicatedConf(o: { prefix: string; rel: string; id: string; port: number; extraListen?: number; extra?: string }): string {
    return `worker_processes 2;
pid ${o.prefix}/logs/nginx.pid;
error_log ${o.prefix}/logs/error.log info;
events { worker_connections 512; }
http {
    access_log off;
${tempPaths(o.prefix)}
${serverBlock(o)}}
`;
}

export interface Pki {
    issuer: FixtureCert;
    client: Client;
}

export async function makePki(dir: string): Promise<Pki> {
    const { root, issuer } = await makeHierarchy({ name: "Install" });
    const alice = await issue({ subject: "CN=alice", usage: "client" }, issuer);
    fs.mkdirSync(dir, { recursive: true });
    const caFile = path.join(dir, "ca.pem");
    const certFile = path.join(dir, "alice.crt");
    const keyFile = path.join(dir, "alice.key");
    fs.writeFileSync(caFile, root.certPem);
    fs.writeFileSync(certFile, alice.certPem + (issuer === root ? "" : issuer.certPem));
    fs.writeFileSync(keyFile, alice.key.privateKeyPem, { mode: 0o600 });
    return { issuer, client: { ca: root.certPem, cert: alice.certPem, key: alice.key.privateKeyPem, caFile, certFile, keyFile } };
}

export async function serverCert(pki: Pki): Promise<FixtureCert> {
    return issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, pki.issuer);
}

/** The release files of a site: the caller computes the id before rendering the config, like the Site component. */
export function siteFiles(server: FixtureCert, pki: Pki, render: (rel: string, id: string) => { name: string; text: string }, installDir: string, renderInputs: string) {
    const base: InstallFile[] = [
        { path: "server.crt", content: server.certPem, mode: 0o644 },
        { path: "server.key", content: server.key.privateKeyPem, mode: 0o600 },
        { path: "client-ca.pem", content: pki.client.ca, mode: 0o644 },
        { path: "errors/496.html", content: "<h1>client certificate required</h1>\n", mode: 0o644 },
    ];
    const id = releaseId(base, renderInputs);
    const conf = render(`${installDir}/releases/${id}`, id);
    const files = [...base, { path: conf.name, content: conf.text, mode: 0o644 as const }];
    return { id, files, payload: encodePayload(files), fingerprint: sha256Fingerprint(server.certPem) };
}

export function currentOf(installDir: string): string {
    return fs.readlinkSync(path.join(installDir, "current")).replace(/^releases\//, "");
}


/**
 * Starts a script rendered with `testHooks` (payload on stdin) with MTLS_TEST_STOP_AT=`step`; once its
 * hook says it stopped there, kills its whole process group with SIGKILL (as a CI timeout or a lost
 * runner would). Resolves with whether the step was reached (a script may end before it, e.g. on a
 * rejected release) and what it printed.
 */
export function killAt(command: string, stdin: string, step: string, timeoutMs = 60_000): Promise<{ reached: boolean; code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(SHELL, ["-c", command], { stdio: ["pipe", "pipe", "pipe"], env: { ...SCRIPT_ENV, MTLS_TEST_STOP_AT: step }, detached: true });
        let stderr = "";
        let reached = false;
        const kill = () => {
            try {
                process.kill(-child.pid!, "SIGKILL");
            } catch {
                /* already gone */
            }
        };
        const timer = setTimeout(kill, timeoutMs);
        child.stdout.resume();
        child.stderr.on("data", (d) => {
            stderr += d;
            if (!reached && stderr.includes(`test hook: stopped at ${step}\n`)) {
                reached = true;
                kill();
            }
        });
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ reached, code, stderr });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(stdin);
    });
}

/**
 * The release `id` answers on `port` (with the client certificate) within `timeoutMs`: right after a
 * reload, a worker of the old configuration may still take a connection until it handles its QUIT.
 */
export async function waitServed(port: number, client: Client, id: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let headers = "";
    for (;;) {
        headers = curl(port, client).headers.toLowerCase();
        if (headers.includes(`x-mtls-release: ${id}`) || Date.now() > deadline) return headers;
        await new Promise((r) => setTimeout(r, 100));
    }
}
