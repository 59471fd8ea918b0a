/**
 * mTLS handshakes per second, and per nginx worker CPU-second, for OUR rendered default site against the
 * seed article's setup, on the same machine in the same run (target: >= 6x the article's full-handshake
 * rate per worker CPU-second, with resumption on and safe).
 *
 * Ours: the site exactly as `buildSiteRelease` renders it for an MtlsNginx with default settings (static
 * mode with the built-in page, TLSv1.2+1.3, Mozilla intermediate ciphers, per-site shared session cache
 * 10m/60 min, `ssl_session_tickets off`, `ssl_verify_client on`, depth 2, CRLs of both CAs), ECDSA P-256
 * keys everywhere (test/support/x509.ts): root -> intermediate -> server and client; the client CA bundle
 * is root + intermediate and `ssl_crl` holds a (fresh, empty) CRL of each CA, as MtlsNginx installs them.
 * nginx.conf is the rendered one (`renderNginxConf` via buildSiteRelease) with its `worker_processes auto;`
 * line changed to `worker_processes 1;`, nothing else.
 *
 * Article: its openssl commands (RSA-4096 self-signed CA with `req -x509`, RSA-4096 client key + CSR,
 * `x509 -req` signing: v1 certificates without extensions), an RSA-4096 server certificate signed the
 * same way, and its server block (`ssl_client_certificate`, `ssl_verify_client on`, `ssl_verify_depth 2`,
 * `ssl_protocols TLSv1.2 TLSv1.3`, `ssl_ciphers HIGH:!aNULL:!MD5`, no session cache: nginx's defaults
 * `ssl_session_cache none` and `ssl_session_tickets on` apply), `worker_processes 1`.
 *
 * Load: `openssl s_time -new` (every connection a full handshake with the client certificate) and
 * `-reuse` (one full handshake, then resumption), `-www /` (one GET per connection, which also makes
 * the client read TLS 1.3 session tickets), one connection at a time, for a fixed time. Trials alternate
 * between the two servers. Measured per trial: connections (and how many s_time reports as resumed),
 * wall time, the nginx worker's CPU (utime+stime from /proc/<worker>/stat, before/after) and the
 * client's CPU (/usr/bin/time). Handshakes per worker CPU-second does not depend on how fast the client
 * is or on other load on the machine; handshakes/s does.
 *
 *   npx ts-node bench/handshake.bench.ts
 *   HANDSHAKE_SECONDS=5 HANDSHAKE_REPS=2 npx ts-node bench/handshake.bench.ts
 */
import { BenchSection, runStandalone } from "./section";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { performance } from "perf_hooks";
import { buildSiteRelease, DEFAULT_INDEX_HTML, releaseDir, SiteDefinition } from "../components/nginx/release";
import { buildCrl } from "../components/revocation/crl";
import { hasNginx, makeTestDir, NGINX_BIN, NginxInstance, startNginx, stopAll } from "../test/support/nginx";
import { freePort, waitForPort } from "../test/support/ports";
import { FixtureKeyType, issue, makeHierarchy } from "../test/support/x509";

const SECONDS = Number(process.env.HANDSHAKE_SECONDS ?? 5);
const REPS = Number(process.env.HANDSHAKE_REPS ?? 5);
const TARGET_RATIO = 6;
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
const TIME_BIN = "/usr/bin/time";

type SiteKey = string;
type Mode = "new" | "reuse";
type Proto = "TLSv1.3" | "TLSv1.2";

interface Server {
    key: SiteKey;
    label: string;
    port: number;
    nginx: NginxInstance;
    clientCert: string;
    clientKey: string;
    workerPid: number;
}

interface Trial {
    site: SiteKey;
    mode: Mode;
    proto: Proto;
    www: boolean;
    connections: number;
    resumed: number;
    wallS: number;
    workerCpuS: number;
    clientCpuS: number;
}

function sh(cmd: string, args: string[], cwd: string): void {
    const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
}

/** The worker of a master started with worker_processes 1. */
export async function workerOf(masterPid: number): Promise<number> {
    const deadline = Date.now() + 5000;
    for (;;) {
        let children: number[] = [];
        try {
            children = fs.readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
        } catch {
            // Kernel without /proc/<pid>/task/<pid>/children: scan /proc.
            for (const entry of fs.readdirSync("/proc")) {
                if (!/^\d+$/.test(entry)) continue;
                try {
                    const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
                    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
                    if (Number(fields[1]) === masterPid) children.push(Number(entry));
                } catch {
                    /* gone */
                }
            }
        }
        const workers = children.filter((pid) => {
            try {
                return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker process");
            } catch {
                return false;
            }
        });
        if (workers.length === 1) return workers[0];
        if (Date.now() > deadline) throw new Error(`expected one nginx worker under ${masterPid}, found ${workers.length}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function httpTemps(dir: string): string {
    return ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${dir}/${t}_temp;`).join("\n");
}

/** Variants of our site, for attributing the cost of a full handshake (TLS 1.3, -new). */
export interface OursVariant {
    key: string;
    label: string;
    /** Root -> intermediate -> leaves (as asked; MtlsNginx's own default is root -> leaves). @default true */
    intermediate?: boolean;
    /** Key type of the CA levels (server and client keys stay ECDSA P-256). @default "ecdsa-p256" */
    caKeyType?: FixtureKeyType;
    /** Edits the rendered site.conf (ablations that are not a supported configuration). */
    editSite?: (siteConf: string) => string;
}

const dropCrl = (conf: string) => conf.replace(/^\s*ssl_crl [^;]+;\n/m, "");

/** Attribution variants, measured for TLS 1.3 full handshakes beside ours and the article. */
export const VARIANTS: OursVariant[] = [
    { key: "ours-root-only", label: "root -> leaves (CertificateAuthority without intermediate, its own default): depth 1, one CRL", intermediate: false },
    { key: "ours-rsa-ca", label: "CA keys RSA-2048 (root, intermediate), server and client keys ECDSA P-256", caKeyType: "rsa-2048" },
    { key: "ours-root-only-rsa-ca", label: "both: RSA-2048 root issuing ECDSA P-256 leaves, depth 1, one CRL", intermediate: false, caKeyType: "rsa-2048" },
    { key: "ours-no-crl", label: "ablation: no ssl_crl (revocation unchecked; not a configuration we render)", editSite: dropCrl },
    {
        key: "ours-no-client-auth",
        label: "ablation: ssl_verify_client off, no ssl_crl (plain TLS: the floor of handshake + GET on this machine)",
        editSite: (conf) => dropCrl(conf).replace("ssl_verify_client on;", "ssl_verify_client off;"),
    },
];

export const OURS: OursVariant = { key: "ours", label: "rendered default site, ECDSA P-256, root -> intermediate -> leaves, CRLs of both CAs, session cache" };

export async function setUpOurs(dir: string, variant: OursVariant = OURS): Promise<{ server: Omit<Server, "nginx" | "workerPid">; start: () => Promise<NginxInstance>; notes: string[] }> {
    const installDir = path.join(dir, variant.key);
    const port = await freePort();
    const withIntermediate = variant.intermediate ?? true;
    const { root, intermediate } = await makeHierarchy({ name: "Bench", intermediate: withIntermediate, keyType: variant.caKeyType ?? "ecdsa-p256" });
    const issuing = intermediate ?? root;
    const server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], days: 365, keyType: "ecdsa-p256" }, issuing);
    const client = await issue({ subject: "CN=bench-client", usage: "client", days: 365, keyType: "ecdsa-p256" }, issuing);
    const thisUpdate = new Date(Date.now() - 60_000);
    const nextUpdate = new Date(Date.now() + 7 * 86400_000);
    const crl = async (ca: typeof root) => buildCrl({ issuerCertPem: ca.certPem, issuerKeyPem: ca.key.privateKeyPem, entries: [], crlNumber: 1, thisUpdate, nextUpdate });
    const def: SiteDefinition = {
        siteName: "bench",
        serverNames: ["localhost", "127.0.0.1"],
        // What MtlsNginx passes: the CA's verifyDepth (2 below an intermediate, 1 below a root).
        verifyDepth: withIntermediate ? 2 : 1,
        listen: { address: "127.0.0.1", port },
        mode: { kind: "static" },
    };
    const cas = intermediate ? [root, intermediate] : [root];
    const release = buildSiteRelease(
        def,
        {
            serverFullChainPem: server.certPem + (intermediate ? intermediate.certPem : ""),
            serverKeyPem: server.key.privateKeyPem,
            // What MtlsNginx installs: the trust bundle (roots first) and a CRL of every CA.
            clientCaPem: cas.map((c) => c.certPem).join(""),
            crlPem: (await Promise.all(cas.map(crl))).join(""),
        },
        { installDir, dedicated: true },
    );
    const rel = releaseDir(installDir, release.releaseId);
    for (const f of release.files) {
        const file = path.join(rel, f.path);
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
        const content = f.path === "site.conf" && variant.editSite ? variant.editSite(f.content) : f.content;
        if (variant.editSite && f.path === "site.conf" && content === f.content) throw new Error(`variant ${variant.key}: the edit changed nothing`);
        fs.writeFileSync(file, content, { mode: f.mode });
    }
    fs.mkdirSync(path.join(installDir, "run"), { recursive: true });
    fs.mkdirSync(path.join(installDir, "logs"), { recursive: true });
    // The rendered default nginx.conf with one change: worker_processes 1 (the default is "auto").
    if (!/^worker_processes auto;$/m.test(release.nginxConf!)) throw new Error("the rendered nginx.conf has no `worker_processes auto;` line");
    const oneWorker = release.nginxConf!.replace(/^worker_processes auto;$/m, "worker_processes 1;");
    const conf = path.join(rel, "nginx-1-worker.conf");
    fs.writeFileSync(conf, oneWorker);
    const clientCert = path.join(dir, `${variant.key}-client.crt`);
    const clientKey = path.join(dir, `${variant.key}-client.key`);
    fs.writeFileSync(clientCert, client.certPem);
    fs.writeFileSync(clientKey, client.key.privateKeyPem, { mode: 0o600 });
    const directives = release.siteConf
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => /^ssl_(protocols|ciphers|session_cache|session_timeout|session_tickets|verify_client|verify_depth|crl|client_certificate|prefer_server_ciphers)\b/.test(l));
    return {
        server: { key: variant.key, label: variant.label, port, clientCert, clientKey },
        start: () => startNginx(installDir, conf),
        notes: directives,
    };
}

export async function setUpArticle(
    dir: string,
): Promise<{ server: Omit<Server, "nginx" | "workerPid">; start: () => Promise<NginxInstance>; notes: string[]; verbatimClient: { cert: string; key: string } }> {
    const d = path.join(dir, "article");
    fs.mkdirSync(path.join(d, "logs"), { recursive: true });
    fs.mkdirSync(path.join(d, "www"), { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(d, "www", "index.html"), DEFAULT_INDEX_HTML, { mode: 0o644 });
    const port = await freePort();
    // The article's commands, verbatim (the server certificate is made the same way, RSA-4096).
    sh("openssl", ["req", "-newkey", "rsa:4096", "-x509", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-nodes", "-subj", "/CN=Sagar"], d);
    sh("openssl", ["req", "-newkey", "rsa:4096", "-keyout", "client.key", "-out", "client.csr", "-nodes", "-days", "30", "-subj", "/CN=sagar"], d);
    sh("openssl", ["x509", "-req", "-in", "client.csr", "-out", "client.crt", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30"], d);
    // OpenSSL compares names case-insensitively: the client's "CN=sagar" equals its issuer "CN=Sagar", so the
    // v1 certificate (no key identifiers) looks self-signed and fails verification (error 18). The measured
    // client is made with the same commands and another CN.
    sh("openssl", ["req", "-newkey", "rsa:4096", "-keyout", "client-measured.key", "-out", "client-measured.csr", "-nodes", "-days", "30", "-subj", "/CN=sagar-client"], d);
    sh("openssl", ["x509", "-req", "-in", "client-measured.csr", "-out", "client-measured.crt", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30"], d);
    sh("openssl", ["req", "-newkey", "rsa:4096", "-keyout", "server.key", "-out", "server.csr", "-nodes", "-subj", "/CN=localhost"], d);
    sh("openssl", ["x509", "-req", "-in", "server.csr", "-out", "server.crt", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30"], d);
    const verify = (cert: string) => spawnSync("openssl", ["verify", "-CAfile", "ca.crt", cert], { cwd: d, encoding: "utf8" });
    const verbatim = verify("client.crt");
    const version = /Version: (\d+)/.exec(spawnSync("openssl", ["x509", "-in", "client.crt", "-noout", "-text"], { cwd: d, encoding: "utf8" }).stdout)?.[1];
    const notes = [
        `article's verbatim client certificate (CN=sagar, X.509 v${version}): \`openssl verify -CAfile ca.crt client.crt\` -> ${verbatim.status === 0 ? "OK" : (verbatim.stdout + verbatim.stderr).split("\n").filter((l) => /error/.test(l))[0]?.trim() ?? "failed"}`,
        `article's CN=sagar-client certificate (same commands, other CN) -> ${verify("client-measured.crt").status === 0 ? "OK" : "failed"}`,
    ];
    const conf = path.join(d, "nginx.conf");
    fs.writeFileSync(
        conf,
        `worker_processes 1;
pid ${d}/logs/nginx.pid;
error_log ${d}/logs/error.log;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    access_log ${d}/logs/access.log;
${httpTemps(d)}
    server {
        listen 127.0.0.1:${port} ssl;
        server_name localhost;
        ssl_certificate ${d}/server.crt;
        ssl_certificate_key ${d}/server.key;
        ssl_client_certificate ${d}/ca.crt;
        ssl_verify_client on;
        ssl_verify_depth 2;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers HIGH:!aNULL:!MD5;
        location / {
            root ${d}/www;
            index index.html;
        }
    }
}
`,
    );
    return {
        server: { key: "article", label: "article (RSA-4096, no session cache)", port, clientCert: path.join(d, "client-measured.crt"), clientKey: path.join(d, "client-measured.key") },
        start: () => startNginx(d, conf),
        notes,
        verbatimClient: { cert: path.join(d, "client.crt"), key: path.join(d, "client.key") },
    };
}

function get(port: number, cert?: { cert: string; key: string }): string {
    return spawnSync("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", ...(cert ? ["--cert", cert.cert, "--key", cert.key] : []), `https://127.0.0.1:${port}/`], {
        encoding: "utf8",
    }).stdout;
}

/** One GET with the client certificate (and one without) to prove mTLS works before measuring. */
function sanity(s: Server): string {
    const ok = get(s.port, { cert: s.clientCert, key: s.clientKey });
    const none = get(s.port);
    if (ok !== "200") throw new Error(`${s.key}: GET with the client certificate answered ${ok}`);
    return `${s.key}: GET with client certificate -> ${ok}, without -> ${none}`;
}

/**
 * What a client keeps to resume: for TLS 1.2 whether the server issued a (stateless) ticket; for TLS 1.3
 * the ticket's size (a stateful ticket is a short id into the server's cache, a stateless one carries the
 * whole session encrypted under the server's ticket key) and its lifetime.
 */
function ticketCheck(s: Server, dir: string, proto: Proto): string {
    const sess = path.join(dir, `${s.key}-${proto}.sess`);
    spawnSync(
        "openssl",
        ["s_client", "-connect", `127.0.0.1:${s.port}`, proto === "TLSv1.3" ? "-tls1_3" : "-tls1_2", "-cert", s.clientCert, "-key", s.clientKey, "-sess_out", sess, "-ign_eof", "-quiet"],
        // One request: the server answers and closes, so the client reads the TLS 1.3 tickets on the way.
        { input: "GET / HTTP/1.0\r\n\r\n", encoding: "utf8", timeout: 15_000 },
    );
    if (!fs.existsSync(sess)) return `${s.key}: no ${proto} session written`;
    const text = spawnSync("openssl", ["sess_id", "-in", sess, "-noout", "-text"], { encoding: "utf8" }).stdout;
    const hint = /TLS session ticket lifetime hint: (\d+)/.exec(text)?.[1];
    const at = text.indexOf("TLS session ticket:");
    // BIO_dump lines: "    0000 - 6f 2a ... 3c-22 ...  ascii"; the hex area is 16 x 3 characters wide.
    const dumpLines = at < 0 ? [] : text.slice(at).split("\n").slice(1);
    const hexLines = dumpLines.slice(0, Math.max(0, dumpLines.findIndex((l) => !/^\s*[0-9a-f]{4} - /.test(l))));
    const ticketBytes = hexLines.reduce((n, l) => n + (l.replace(/^\s*[0-9a-f]{4} - /, "").slice(0, 48).match(/[0-9a-f]{2}/g) ?? []).length, 0);
    const sessionId = /Session-ID: ([0-9A-F]*)/.exec(text)?.[1] ?? "";
    if (proto === "TLSv1.2") {
        return `${s.key}, TLS 1.2: ${at >= 0 ? `stateless session ticket issued (${ticketBytes} bytes, lifetime hint ${hint ?? "?"} s)` : "no session ticket (resumption by session id from the server cache)"}; session id ${sessionId ? `${sessionId.length / 2} bytes` : "empty"}`;
    }
    return `${s.key}, TLS 1.3: ticket of ${ticketBytes} bytes, lifetime hint ${hint ?? "?"} s (${ticketBytes > 0 && ticketBytes <= 64 ? "stateful: an id into the server's session cache" : "stateless: the session encrypted under the server's ticket key"})`;
}

export function trial(s: Server, mode: Mode, proto: Proto, www = true, seconds = SECONDS): Promise<Trial> {
    return new Promise((resolve, reject) => {
        const sTime = ["s_time", "-connect", `127.0.0.1:${s.port}`, "-cert", s.clientCert, "-key", s.clientKey, `-${mode}`, proto === "TLSv1.3" ? "-tls1_3" : "-tls1_2", "-time", String(seconds), ...(www ? ["-www", "/"] : [])];
        const useTime = fs.existsSync(TIME_BIN);
        const [cmd, args] = useTime ? [TIME_BIN, ["-f", "CLIENTCPU %U %S", "openssl", ...sTime]] : ["openssl", sTime];
        const w0 = cpuSeconds(s.workerPid);
        const t0 = performance.now();
        const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        proc.stdout.on("data", (d) => (out += d));
        proc.stderr.on("data", (d) => (err += d));
        const timer = setTimeout(() => proc.kill("SIGKILL"), (seconds + 30) * 1000);
        proc.on("error", reject);
        proc.on("close", (code) => {
            clearTimeout(timer);
            const wallS = (performance.now() - t0) / 1000;
            const workerCpuS = cpuSeconds(s.workerPid) - w0;
            const m = /(\d+) connections in (\d+) real seconds/.exec(out);
            if (code !== 0 || !m) {
                reject(new Error(`s_time ${s.key} ${mode} ${proto} failed (code ${code}): ${(out + err).slice(-600)}`));
                return;
            }
            // s_time prints one character per connection: 'r' when the session was reused.
            const progress = out.split("\n").filter((l) => !/connections|Collecting|starting|^\s*$/.test(l)).join("");
            const resumed = (progress.match(/r/g) ?? []).length;
            const c = /CLIENTCPU ([\d.]+) ([\d.]+)/.exec(err);
            const clientCpuS = c ? Number(c[1]) + Number(c[2]) : NaN;
            resolve({ site: s.key, mode, proto, www, connections: Number(m[1]), resumed, wallS, workerCpuS, clientCpuS });
        });
    });
}

function median(xs: number[]): number {
    const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function main(): Promise<BenchSection> {
    const title = "mTLS handshakes: our rendered default site vs the seed article's setup";
    if (!hasNginx()) return { title, lines: [`skipped: no nginx at ${NGINX_BIN}`] };
    if (spawnSync("openssl", ["version"]).status !== 0) return { title, lines: ["skipped: no openssl"] };

    const dir = makeTestDir("handshake-bench");
    const lines: string[] = [];
    const trials: Trial[] = [];
    try {
        const ours = await setUpOurs(dir);
        const article = await setUpArticle(dir);
        const variantSetups = [];
        for (const v of VARIANTS) variantSetups.push(await setUpOurs(dir, v));
        const started = async (setup: { server: Omit<Server, "nginx" | "workerPid">; start: () => Promise<NginxInstance> }): Promise<Server> => {
            const nginx = await setup.start();
            await waitForPort(setup.server.port);
            return { ...setup.server, nginx, workerPid: await workerOf(nginx.pid()!) };
        };
        const servers: Server[] = [await started(ours), await started(article)];
        const variants: Server[] = [];
        for (const setup of variantSetups) variants.push(await started(setup));
        const checks = servers.map(sanity);
        variants.filter((v) => v.key !== "ours-no-client-auth").forEach((v) => sanity(v));
        const articleServer = servers.find((s) => s.key === "article")!;
        const verbatimCode = get(articleServer.port, article.verbatimClient);
        const reason = /client SSL certificate verify error: ([^,\n]+)/.exec(articleServer.nginx.errorLog())?.[1];
        checks.push(...article.notes, `article: GET with the verbatim client certificate -> ${verbatimCode}${reason ? ` (nginx error log: client SSL certificate verify error: ${reason})` : ""}`);
        const tickets = servers.flatMap((s) => (["TLSv1.2", "TLSv1.3"] as Proto[]).map((proto) => ticketCheck(s, dir, proto)));

        const protos: Proto[] = ["TLSv1.3", "TLSv1.2"];
        const modes: Mode[] = ["new", "reuse"];
        const loadBefore = os.loadavg();
        for (const proto of protos) {
            for (const mode of modes) {
                for (let rep = 0; rep < REPS; rep++) {
                    const order = rep % 2 === 0 ? servers : [...servers].reverse();
                    for (const s of order) {
                        const t = await trial(s, mode, proto);
                        process.stderr.write(
                            `  [handshake] ${t.site} ${proto} ${mode}: ${t.connections} conns (${t.resumed} resumed) in ${t.wallS.toFixed(1)} s, worker ${t.workerCpuS.toFixed(2)} s CPU, client ${t.clientCpuS.toFixed(2)} s CPU\n`,
                        );
                        trials.push(t);
                    }
                }
            }
        }
        // Attribution: TLS 1.3 full handshakes of the variants, interleaved with ours and the article again.
        const attribution: Trial[] = [];
        const everyone = [...servers, ...variants];
        for (let rep = 0; rep < REPS; rep++) {
            const order = rep % 2 === 0 ? everyone : [...everyone].reverse();
            for (const s of order) {
                const t = await trial(s, "new", "TLSv1.3");
                process.stderr.write(`  [handshake] attribution ${t.site}: ${t.connections} conns in ${t.wallS.toFixed(1)} s, worker ${t.workerCpuS.toFixed(2)} s CPU\n`);
                attribution.push(t);
            }
        }
        const loadAfter = os.loadavg();

        type Agg = { rate: number; perCpu: number; workerCpu: number; clientCpu: number; conns: number; resumedShare: number; workerShare: number };
        const agg = (site: SiteKey, mode: Mode, proto: Proto): Agg => {
            const ts = trials.filter((t) => t.site === site && t.mode === mode && t.proto === proto);
            return {
                rate: median(ts.map((t) => t.connections / t.wallS)),
                perCpu: median(ts.map((t) => t.connections / t.workerCpuS)),
                workerCpu: median(ts.map((t) => t.workerCpuS)),
                clientCpu: median(ts.map((t) => t.clientCpuS)),
                conns: median(ts.map((t) => t.connections)),
                resumedShare: median(ts.map((t) => t.resumed / Math.max(1, t.connections))),
                workerShare: median(ts.map((t) => t.workerCpuS / t.wallS)),
            };
        };

        lines.push(
            `openssl s_time, one connection at a time, ${SECONDS} s per trial, ${REPS} trials per cell (median; trials alternate between the servers), \`-www /\` (one GET per connection); each nginx worker_processes 1 on its own 127.0.0.1 port. Load average before/after: ${loadBefore.map((l) => l.toFixed(1)).join(" / ")} -> ${loadAfter.map((l) => l.toFixed(1)).join(" / ")}.`,
        );
        lines.push("");
        lines.push("| protocol | handshake | server | conns/trial | handshakes/s | resumed | nginx worker CPU s | handshakes per worker CPU-s | client CPU s | worker busy |");
        lines.push("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (const proto of protos) {
            for (const mode of modes) {
                for (const s of servers) {
                    const a = agg(s.key, mode, proto);
                    lines.push(
                        `| ${proto} | ${mode === "new" ? "full (-new)" : "resumed (-reuse)"} | ${s.key} | ${a.conns.toFixed(0)} | ${a.rate.toFixed(0)} | ${(a.resumedShare * 100).toFixed(0)}% | ${a.workerCpu.toFixed(2)} | ${a.perCpu.toFixed(0)} | ${a.clientCpu.toFixed(2)} | ${(a.workerShare * 100).toFixed(0)}% |`,
                    );
                }
            }
        }
        lines.push("");
        lines.push("Ratios ours / article:");
        lines.push("");
        lines.push("| protocol | handshake | per worker CPU-second | handshakes/s (wall) | ≥ 6x per worker CPU-s |");
        lines.push("| --- | --- | ---: | ---: | --- |");
        for (const proto of protos) {
            for (const mode of modes) {
                const o = agg("ours", mode, proto);
                const a = agg("article", mode, proto);
                const ratio = o.perCpu / a.perCpu;
                lines.push(`| ${proto} | ${mode === "new" ? "full" : "resumed"} | ${ratio.toFixed(1)}x | ${(o.rate / a.rate).toFixed(1)}x | ${mode === "new" ? (ratio >= TARGET_RATIO ? "yes" : "NO") : "-"} |`);
            }
        }
        for (const proto of protos) {
            const o = agg("ours", "reuse", proto);
            const a = agg("article", "new", proto);
            lines.push(`| ${proto} | ours resumed vs article full | ${(o.perCpu / a.perCpu).toFixed(1)}x | ${(o.rate / a.rate).toFixed(1)}x | - |`);
        }
        lines.push("");
        lines.push("Resumption, per server (resumed vs full, per worker CPU-second):");
        lines.push("");
        for (const s of servers) {
            const parts = protos.map((proto) => {
                const full = agg(s.key, "new", proto);
                const res = agg(s.key, "reuse", proto);
                return `${proto} ${(res.perCpu / full.perCpu).toFixed(1)}x (${(res.resumedShare * 100).toFixed(0)}% of -reuse connections resumed)`;
            });
            lines.push(`- ${s.key}: ${parts.join("; ")}`);
        }
        lines.push("");
        lines.push(`Where a full handshake's worker CPU goes (TLS 1.3, -new, ${REPS} more trials per row, all rows interleaved):`);
        lines.push("");
        lines.push("| server | worker CPU ms per full handshake | vs ours | handshakes per worker CPU-s | vs article |");
        lines.push("| --- | ---: | ---: | ---: | ---: |");
        const perHs = (key: string) => median(attribution.filter((t) => t.site === key).map((t) => (1000 * t.workerCpuS) / t.connections));
        const oursMs = perHs("ours");
        const articleMs = perHs("article");
        for (const s of everyone) {
            const ms = perHs(s.key);
            const label = s.key === "ours" ? OURS.label : s.key === "article" ? "RSA-4096 CA, client and server, the article's directives" : VARIANTS.find((v) => v.key === s.key)!.label;
            lines.push(`| ${s.key}: ${label} | ${ms.toFixed(2)} | ${s.key === "ours" ? "-" : `${ms - oursMs >= 0 ? "+" : ""}${(ms - oursMs).toFixed(2)} ms`} | ${(1000 / ms).toFixed(0)} | ${(articleMs / ms).toFixed(1)}x |`);
        }
        lines.push("");
        lines.push("Checks before measuring:");
        lines.push("");
        for (const c of [...checks, ...tickets]) lines.push(`- ${c}`);
        lines.push(`- ours, rendered TLS directives: \`${ours.notes.join(" ")}\``);
        lines.push("- article: no ssl_session_cache / ssl_session_tickets directives, so nginx's defaults apply: `ssl_session_cache none` (no server-side cache) and `ssl_session_tickets on` (stateless tickets under a key generated at start and never rotated).");
    } finally {
        await stopAll();
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return { title, lines };
}

if (require.main === module) runStandalone(main);
