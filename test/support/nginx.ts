/**
 * A private nginx for integration tests: Debian's binary run with its own prefix and config
 * (`nginx -p DIR -c FILE`), never the system service, on 127.0.0.1 high ports.
 * Every instance started here is remembered and `stopAll()` ends it (tests call it in afterAll).
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const NGINX_BIN = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

/** True when an nginx binary is present (integration tests need it; CI installs it). */
export function hasNginx(): boolean {
    return fs.existsSync(NGINX_BIN);
}

let prunedOldTestDirs = false;
/**
 * Removes test directories older than a day (earlier runs'; a run takes well under an hour), once per
 * process. A run keeps its own directories, so a failure can be looked at afterwards.
 */
function pruneOldTestDirs(base: string): void {
    prunedOldTestDirs = true;
    const cutoff = Date.now() - 24 * 3600 * 1000;
    for (const entry of fs.readdirSync(base)) {
        const dir = path.join(base, entry);
        try {
            if (fs.lstatSync(dir).mtimeMs < cutoff) fs.rmSync(dir, { recursive: true, force: true });
        } catch {
            /* taken by another worker's prune, or not ours to remove */
        }
    }
}

/**
 * A fresh directory for one test, readable by nginx workers (which run as `nobody` when the
 * master is root, as in CI containers): 0755, unlike mkdtemp's 0700.
 */
export function makeTestDir(label: string): string {
    const base = path.join(os.tmpdir(), "mtls-nginx-tests");
    fs.mkdirSync(base, { recursive: true, mode: 0o755 });
    fs.chmodSync(base, 0o755);
    if (!prunedOldTestDirs) pruneOldTestDirs(base);
    const dir = fs.mkdtempSync(path.join(base, `${label}-`));
    fs.chmodSync(dir, 0o755);
    return dir;
}

export interface NginxInstance {
    prefix: string;
    conf: string;
    /** Path of the pid file the config names (read from `pid` in the config, else prefix/logs/nginx.pid). */
    pidFile: string;
    pid(): number | undefined;
    reload(): void;
    stop(): Promise<void>;
    errorLog(): string;
}

const started = new Set<NginxInstance>();

function pidFileOf(prefix: string, conf: string): string {
    const text = fs.readFileSync(conf, "utf8");
    const match = /^\s*pid\s+([^;\s]+)\s*;/m.exec(text);
    const file = match ? match[1] : "logs/nginx.pid";
    return path.isAbsolute(file) ? file : path.join(prefix, file);
}

function errorLogOf(prefix: string, conf: string): string {
    const text = fs.readFileSync(conf, "utf8");
    const match = /^\s*error_log\s+([^;\s]+)/m.exec(text);
    const file = match ? match[1] : "logs/error.log";
    return path.isAbsolute(file) ? file : path.join(prefix, file);
}

function readPid(pidFile: string): number | undefined {
    try {
        const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
        if (!pid) return undefined;
        process.kill(pid, 0);
        return pid;
    } catch {
        return undefined;
    }
}

/** Whether a process runs (exists and is not a zombie waiting to be reaped). */
export function processRunning(pid: number): boolean {
    try {
        // /proc/PID/stat: "pid (comm) state ..."; comm may hold spaces and parentheses.
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat[stat.lastIndexOf(")") + 2] !== "Z";
    } catch {
        return false;
    }
}

/** Runs `nginx -t` on a config; returns nginx's exit status and combined output. */
export function nginxTest(prefix: string, conf: string): { ok: boolean; output: string } {
    const result = spawnSync(NGINX_BIN, ["-t", "-p", prefix, "-c", conf], { encoding: "utf8" });
    return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** Tracks an nginx that something else (e.g. an install script) started, so stopAll() ends it. */
export function adopt(prefix: string, conf: string): NginxInstance {
    const pidFile = pidFileOf(prefix, conf);
    const instance: NginxInstance = {
        prefix,
        conf,
        pidFile,
        pid: () => readPid(pidFile),
        reload: () => {
            execFileSync(NGINX_BIN, ["-p", prefix, "-c", conf, "-s", "reload"], { stdio: "pipe" });
        },
        stop: async () => {
            const pid = readPid(pidFile);
            started.delete(instance);
            if (!pid) return;
            try {
                process.kill(pid, "SIGQUIT");
            } catch {
                return;
            }
            const deadline = Date.now() + 5000;
            while (Date.now() < deadline) {
                try {
                    process.kill(pid, 0);
                } catch {
                    return;
                }
                await new Promise((r) => setTimeout(r, 50));
            }
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                /* already gone */
            }
        },
        errorLog: () => {
            try {
                return fs.readFileSync(errorLogOf(prefix, conf), "utf8");
            } catch {
                return "";
            }
        },
    };
    started.add(instance);
    return instance;
}

/** Starts nginx (it daemonizes as usual) and waits for its pid file. */
export async function startNginx(prefix: string, conf: string): Promise<NginxInstance> {
    fs.mkdirSync(path.join(prefix, "logs"), { recursive: true });
    const result = spawnSync(NGINX_BIN, ["-p", prefix, "-c", conf], { encoding: "utf8" });
    if (result.status !== 0) {
        throw new Error(`nginx failed to start: ${result.stderr}`);
    }
    const instance = adopt(prefix, conf);
    const deadline = Date.now() + 5000;
    while (!instance.pid()) {
        if (Date.now() > deadline) throw new Error(`nginx did not write ${instance.pidFile}`);
        await new Promise((r) => setTimeout(r, 25));
    }
    return instance;
}

/** Stops every nginx started or adopted here. */
export async function stopAll(): Promise<void> {
    await Promise.all([...started].map((instance) => instance.stop()));
}

/** The worker processes of the nginx whose master is `masterPid`, and whether each is shutting down. */
export function workersOf(masterPid: number): Array<{ pid: number; shuttingDown: boolean }> {
    const workers: Array<{ pid: number; shuttingDown: boolean }> = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (Number(ppid) !== masterPid || state === "Z") continue;
            workers.push({ pid: Number(entry), shuttingDown: fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("shutting down") });
        } catch {
            /* gone meanwhile */
        }
    }
    return workers;
}

/**
 * Waits until a reload has settled: no worker of the nginx whose master is `masterPid` is "shutting
 * down", and none of `workersBefore` (taken before the reload) still accepts. Right after a reload, a
 * worker of the old configuration may take a new connection until it has handled its QUIT (on a busy
 * machine, a while), and it answers with the old configuration.
 */
export async function waitForOldWorkers(masterPid: number, workersBefore: number[] = [], timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const pending = workersOf(masterPid).filter((w) => w.shuttingDown || workersBefore.includes(w.pid));
        if (pending.length === 0) return;
        if (Date.now() > deadline) throw new Error(`old nginx workers still running after ${timeoutMs} ms: ${pending.map((w) => w.pid).join(", ")}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}
