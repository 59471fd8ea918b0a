/**
 * Real hosts for tests: each a network namespace of its own (`ip netns add`, a veth pair to this machine)
 * running its own sshd (Debian's openssh-server, its own config, host key and a throwaway ed25519 client
 * key) and its own "system" nginx (a main config that includes a conf.d directory, and a small upstream on
 * 127.0.0.1:8080 inside the namespace). The filesystem is this machine's: every host keeps its files under
 * its own temporary directory.
 *
 * Needs root and iproute2. Every host started here is stopped by `stop()`, and, as a last resort, when the
 * process exits (namespaces deleted, sshd and nginx killed).
 */
import * as crypto from "crypto";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as tls from "tls";
import { makeTestDir, NGINX_BIN } from "./nginx";

export interface NamespaceHost {
    /** The namespace's name. */
    ns: string;
    /** The host's address (its end of the veth pair), reachable from this machine. */
    address: string;
    /** Its temporary directory. */
    dir: string;
    /** The client key that logs in as root (OpenSSH format, unencrypted). */
    clientKeyPem: string;
    /** Its sshd's host public key line (for known_hosts checks). */
    hostPublicKey: string;
    /** With `privateDir`: where the files of that path really are on this machine (`<dir>/private`). */
    privateDir?: string;
    /** The host's nginx: prefix, main config and the conf.d the main config includes. */
    nginx: { prefix: string; mainConf: string; confD: string; errorLog: string; args: string[]; reloadCommand: string };
    /** Runs a command inside the namespace. */
    exec(file: string, args: string[], opts?: { input?: string; timeoutMs?: number }): { code: number | null; stdout: string; stderr: string };
    /** True while the host's nginx master runs. */
    nginxRunning(): boolean;
    /** Starts (or restarts) its nginx. */
    startNginx(): void;
    stop(): Promise<void>;
}

export interface NamespaceHostOptions {
    /**
     * An absolute path (an existing, empty directory on this machine) that is this host's own: inside the
     * host (its sshd, the sessions sshd runs, its nginx) the path is a bind mount of `<host dir>/private`,
     * in a mount namespace of the host's. Several hosts can then use the same install directory, as
     * separate machines would, and get the same release. Where the files really are: {@link NamespaceHost.privateDir}.
     */
    privateDir?: string;
}

/** Why namespace hosts cannot run here, or undefined when they can. */
export function namespaceHostsUnavailable(): string | undefined {
    if (process.getuid?.() !== 0) return "network namespaces need root";
    for (const tool of ["/usr/sbin/ip", "/usr/sbin/sshd", "/usr/bin/ssh-keygen", NGINX_BIN]) {
        if (!fs.existsSync(tool)) return `${tool} is missing (apt-get install iproute2 openssh-server openssh-client nginx)`;
    }
    return undefined;
}

const live = new Set<{ ns: string; pids: () => number[] }>();
let exitHook = false;

function ip(args: string[]): void {
    execFileSync("ip", args, { stdio: "pipe" });
}

/** A /30 per host in 10.231.0.0/16 that no interface of this machine uses yet. */
function freeSubnet(): number {
    const used = execFileSync("ip", ["-o", "-4", "addr", "show"], { encoding: "utf8" });
    for (let attempt = 0; attempt < 200; attempt++) {
        const n = 4 * Math.floor(Math.random() * 16_000) + 4;
        const third = Math.floor(n / 256);
        const fourth = n % 256;
        if (!used.includes(` 10.231.${third}.${fourth + 1}/30`)) return n;
    }
    throw new Error("no free 10.231.0.0/16 subnet for a test host");
}

function subnetAddress(n: number, offset: number): string {
    const v = n + offset;
    return `10.231.${Math.floor(v / 256)}.${v % 256}`;
}

async function waitForTcp(host: string, port: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const open = await new Promise<boolean>((resolve) => {
            const socket = net.connect({ host, port }, () => {
                socket.destroy();
                resolve(true);
            });
            socket.on("error", () => resolve(false));
            socket.setTimeout(1000, () => {
                socket.destroy();
                resolve(false);
            });
        });
        if (open) return;
        if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

function sshdConfig(dir: string, address: string): string {
    return [
        `ListenAddress ${address}`,
        "Port 22",
        `HostKey ${dir}/ssh/host_ed25519`,
        `PidFile ${dir}/ssh/sshd.pid`,
        `AuthorizedKeysFile ${dir}/ssh/authorized_keys`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "UsePAM no",
        "StrictModes no",
        "MaxStartups 100:30:200",
        "MaxSessions 50",
        "LogLevel VERBOSE",
        "",
    ].join("\n");
}

function mainNginxConf(prefix: string, confD: string): string {
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${prefix}/temp/${t};`).join("\n");
    return `worker_processes 1;
pid ${prefix}/logs/nginx.pid;
error_log ${prefix}/logs/error.log info;
events { worker_connections 512; }
http {
    access_log off;
${temp}
    # The application the mTLS site proxies to.
    server { listen 127.0.0.1:8080; location / { default_type text/plain; return 200 "upstream on $hostname: $http_x_client_subject_dn\\n"; } }
    include ${confD}/*.conf;
}
`;
}

/** Creates a namespace host: namespace, veth pair, sshd, nginx. */
export async function startNamespaceHost(label: string, opts: NamespaceHostOptions = {}): Promise<NamespaceHost> {
    const dir = makeTestDir(`host-${label}`);
    const n = freeSubnet();
    const id = `${process.pid.toString(36)}${n.toString(36)}`;
    const ns = `mtlsng-${id}`;
    const hostIf = `mtv${id}`.slice(0, 15);
    const address = subnetAddress(n, 2);
    const entry = { ns, pids: () => [] as number[] };
    const children: ChildProcess[] = [];
    live.add(entry);
    if (!exitHook) {
        exitHook = true;
        process.once("exit", () => {
            for (const host of live) cleanupSync(host.ns, host.pids());
        });
    }
    ip(["netns", "add", ns]);
    ip(["link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    ip(["addr", "add", `${subnetAddress(n, 1)}/30`, "dev", hostIf]);
    ip(["link", "set", hostIf, "up"]);
    const inNs = (args: string[]) => ip(["netns", "exec", ns, "ip", ...args]);
    inNs(["addr", "add", `${address}/30`, "dev", "eth0"]);
    inNs(["link", "set", "eth0", "up"]);
    inNs(["link", "set", "lo", "up"]);

    // sshd with its own host key; root logs in with a throwaway ed25519 key.
    const ssh = path.join(dir, "ssh");
    fs.mkdirSync(ssh, { mode: 0o700 });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${label}-host`, "-f", path.join(ssh, "host_ed25519")]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${label}-client`, "-f", path.join(ssh, "client_ed25519")]);
    fs.copyFileSync(path.join(ssh, "client_ed25519.pub"), path.join(ssh, "authorized_keys"));
    fs.writeFileSync(path.join(ssh, "sshd_config"), sshdConfig(dir, address));
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const sshdArgv = ["/usr/sbin/sshd", "-D", "-e", "-f", path.join(ssh, "sshd_config")];
    let privateDir: string | undefined;
    if (opts.privateDir) {
        // A mount namespace of the host's own (every program is exec'd, so sshd keeps the spawned pid):
        // the path is the host's private directory for sshd, its sessions and (entered below) its nginx.
        privateDir = path.join(dir, "private");
        fs.mkdirSync(privateDir, { mode: 0o755 });
        sshdArgv.unshift("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", 'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", privateDir, opts.privateDir);
    }
    const sshd = spawn("ip", ["netns", "exec", ns, ...sshdArgv], { stdio: ["ignore", "ignore", fs.openSync(path.join(ssh, "sshd.log"), "a")], detached: true });
    children.push(sshd);
    // Inside the host: its network namespace, and with a private directory its mount namespace too.
    const inHost = (file: string, argv: string[]): [string, string[]] => (privateDir ? ["nsenter", ["--target", String(sshd.pid), "--mount", "--net", "--", file, ...argv]] : ["ip", ["netns", "exec", ns, file, ...argv]]);

    // The host's nginx.
    const prefix = path.join(dir, "nginx");
    const confD = path.join(prefix, "conf.d");
    for (const d of ["logs", "temp", "conf.d"]) fs.mkdirSync(path.join(prefix, d), { recursive: true, mode: 0o755 });
    const mainConf = path.join(prefix, "nginx.conf");
    fs.writeFileSync(mainConf, mainNginxConf(prefix, confD));
    const args = ["-p", prefix, "-c", mainConf];
    const pidFile = path.join(prefix, "logs", "nginx.pid");
    const readPid = () => {
        try {
            const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
            process.kill(pid, 0);
            return pid;
        } catch {
            return undefined;
        }
    };
    entry.pids = () => [sshd.pid, readPid()].filter((p): p is number => typeof p === "number");

    const host: NamespaceHost = {
        ns,
        address,
        dir,
        ...(privateDir ? { privateDir } : {}),
        clientKeyPem: fs.readFileSync(path.join(ssh, "client_ed25519"), "utf8"),
        hostPublicKey: fs.readFileSync(path.join(ssh, "host_ed25519.pub"), "utf8").trim(),
        nginx: { prefix, mainConf, confD, errorLog: path.join(prefix, "logs", "error.log"), args, reloadCommand: `${NGINX_BIN} -p '${prefix}' -c '${mainConf}' -s reload` },
        exec(file, argv, opts = {}) {
            const [command, commandArgs] = inHost(file, argv);
            const r = spawnSync(command, commandArgs, { input: opts.input, encoding: "utf8", timeout: opts.timeoutMs ?? 30_000 });
            return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
        },
        nginxRunning: () => readPid() !== undefined,
        startNginx() {
            const r = host.exec(NGINX_BIN, args);
            if (r.code !== 0) throw new Error(`nginx on ${label} did not start: ${r.stderr}`);
        },
        async stop() {
            live.delete(entry);
            const pid = readPid();
            if (pid) {
                try {
                    process.kill(pid, "SIGTERM");
                } catch {
                    /* gone */
                }
                const deadline = Date.now() + 5000;
                while (readPid() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
            }
            cleanupSync(ns, entry.pids());
            for (const c of children) if (c.exitCode === null) await new Promise((r) => c.once("exit", r));
        },
    };
    try {
        // With a private directory, nginx joins sshd's mount namespace, which exists once sshd listens.
        if (!privateDir) host.startNginx();
        await waitForTcp(address, 22, 10_000);
        if (privateDir) host.startNginx();
    } catch (e) {
        await host.stop();
        throw e;
    }
    return host;
}

/** Kills what runs in the namespace (sshd, nginx and their children) and deletes it (its veth goes with it). */
function cleanupSync(ns: string, pids: number[]): void {
    const inNs = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" });
    const all = new Set([...pids, ...(inNs.stdout ?? "").split(/\s+/).filter(Boolean).map(Number)]);
    for (const pid of all) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            /* gone */
        }
    }
    spawnSync("ip", ["netns", "del", ns]);
}

/** Namespaces left by an earlier test run that died before cleaning up (name prefix `mtlsng-`). */
export function leftoverNamespaces(): string[] {
    const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
    return (r.stdout ?? "").split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith("mtlsng-"));
}

/**
 * The stack config target (a `mtls-nginx:target` entry, or one item of a fleet's list) that points an SSH
 * target at this host: root without sudo, its system nginx's include directory, error log, arguments and
 * reload command (sshTarget.test.ts and fleet.test.ts do the same for their stacks).
 */
export function sshTargetConfig(host: NamespaceHost, opts: { name?: string; installDir: string; includeName?: string }): Record<string, unknown> {
    return {
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        kind: "ssh",
        host: host.address,
        user: "root",
        sudo: false,
        installDir: opts.installDir,
        nginx: {
            kind: "system",
            includeLink: path.join(host.nginx.confD, opts.includeName ?? "mtls-example.conf"),
            reload: { command: host.nginx.reloadCommand },
            errorLog: host.nginx.errorLog,
            args: host.nginx.args,
        },
    };
}

/** Lets `from`'s client key log in to `to` too: one deploy key for several hosts, as a fleet stack's sshPrivateKey. */
export function authorizeClientKey(to: NamespaceHost, from: NamespaceHost): void {
    fs.appendFileSync(path.join(to.dir, "ssh", "authorized_keys"), fs.readFileSync(path.join(from.dir, "ssh", "client_ed25519.pub")));
}

/** HTTPS GET to a namespace host's address on 443 with SNI and Host `siteName`, with or without a client certificate. */
export function siteGet(host: NamespaceHost, siteName: string, caFile: string, client?: { cert: string; key: string }): { status: number; body: string } {
    const args = ["-sS", "--max-time", "15", "-o", "-", "-w", "\n%{http_code}", "--resolve", `${siteName}:443:${host.address}`, "--cacert", caFile];
    if (client) args.push("--cert", client.cert, "--key", client.key);
    const out = execFileSync("curl", [...args, `https://${siteName}/`], { encoding: "utf8" });
    const lines = out.split("\n");
    return { status: Number(lines.pop()), body: lines.join("\n") };
}

/** The sha256 (hex) of the server certificate a namespace host serves on 443 for SNI `siteName`. */
export function siteServedSha256(host: NamespaceHost, siteName: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: host.address, port: 443, servername: siteName, rejectUnauthorized: false }, () => {
            resolve(crypto.createHash("sha256").update(socket.getPeerCertificate().raw).digest("hex"));
            socket.destroy();
        });
        socket.on("error", reject);
    });
}
