/**
 * Headless Chromium against an mTLS site, the way a person's browser on Linux does it: client certificates
 * in the NSS database under $HOME/.pki/nssdb, the CA trusted there, and a managed
 * AutoSelectCertificateForUrls policy that picks the certificate without a prompt.
 *
 * Facts measured with Debian's chromium 156 (see test/integration/browser.test.ts):
 * - `--headless` is the "new" headless mode (the full browser; the old mode is no longer in the chrome
 *   binary, and `--headless=old` behaves the same). It reads managed policies from
 *   /etc/chromium/policies/managed/*.json like a headed browser, and honours AutoSelectCertificateForUrls.
 * - When the site asks for a client certificate and the NSS database holds one, headless Chromium waits for a
 *   certificate choice that never comes (`--dump-dom` never returns) unless a policy selects one. With no
 *   client certificate at all in the database it goes on without one (and nginx answers 496).
 * - Chromium on Linux takes client certificates and trust from $HOME/.pki/nssdb (not from --user-data-dir),
 *   so every run gets a fresh HOME as well as a fresh profile.
 * - Policy files are global to the machine and Chromium does not merge a list policy set in two files:
 *   install one file at a time, under a unique name, and always remove it ({@link removeAllPolicies}).
 *
 * Every Chromium run is bounded: it runs in its own process group, which is killed (SIGKILL) on timeout and
 * after the browser exits (helpers such as the crash handler must not outlive the test).
 */
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The Debian launcher (sources /etc/chromium.d, then execs /usr/lib/chromium/chromium). */
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
/** Where Chromium on Linux reads mandatory policies. */
export const POLICY_DIR = process.env.CHROMIUM_POLICY_DIR ?? "/etc/chromium/policies/managed";

/** Flags of every run: headless, no sandbox (root), nothing that talks to the network but the page. */
export const CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-proxy-server",
    "--password-store=basic",
] as const;

function onPath(cmd: string): boolean {
    return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserUnavailable(): string | undefined {
    if (!fs.existsSync(CHROMIUM_BIN)) return `no Chromium at ${CHROMIUM_BIN} (install the chromium package, or set CHROMIUM_BIN)`;
    for (const tool of ["certutil", "pk12util"]) if (!onPath(tool)) return `${tool} is missing (install libnss3-tools)`;
    return policyDirUnwritable();
}

/** Why managed policies cannot be installed, or undefined when they can. */
export function policyDirUnwritable(): string | undefined {
    // The nearest existing ancestor must be writable (the directories are created when missing).
    let dir = POLICY_DIR;
    while (!fs.existsSync(dir)) dir = path.dirname(dir);
    try {
        fs.accessSync(dir, fs.constants.W_OK);
        return undefined;
    } catch {
        const uid = typeof process.getuid === "function" ? process.getuid() : -1;
        return `cannot write ${dir} (uid ${uid}): installing a managed Chromium policy (AutoSelectCertificateForUrls) needs root, and without it headless Chromium waits forever for a certificate choice`;
    }
}

// ---------------------------------------------------------------------------------------------
// Managed policies
// ---------------------------------------------------------------------------------------------

export interface ManagedPolicy {
    file: string;
    remove(): void;
}

const installed = new Set<string>();
const createdDirs: string[] = [];

function removeSync(file: string) {
    try {
        fs.rmSync(file, { force: true });
    } catch {
        /* best effort */
    }
    installed.delete(file);
}

let exitHookSet = false;

/**
 * Installs `json` (a policy object's JSON text) as `POLICY_DIR/<label>-<pid>-<random>.json`, creating the
 * directories when missing. Remove it with `remove()`; {@link removeAllPolicies} (and, as a last resort,
 * process exit) removes whatever is left.
 */
export function installManagedPolicy(json: string, label = "mtls-nginx-test"): ManagedPolicy {
    JSON.parse(json); // Chromium ignores a file it cannot parse: fail here instead
    const missing: string[] = [];
    for (let dir = POLICY_DIR; !fs.existsSync(dir); dir = path.dirname(dir)) missing.unshift(dir);
    for (const dir of missing) {
        fs.mkdirSync(dir, { mode: 0o755 });
        createdDirs.push(dir);
    }
    const file = path.join(POLICY_DIR, `${label}-${process.pid}-${crypto.randomBytes(4).toString("hex")}.json`);
    fs.writeFileSync(file, json, { mode: 0o644, flag: "wx" });
    installed.add(file);
    if (!exitHookSet) {
        exitHookSet = true;
        process.once("exit", removeAllPolicies);
    }
    return { file, remove: () => removeSync(file) };
}

/** Removes every policy file installed here, then the directories created for them when empty. */
export function removeAllPolicies(): void {
    for (const file of [...installed]) removeSync(file);
    while (createdDirs.length > 0) {
        const dir = createdDirs.pop()!;
        try {
            fs.rmdirSync(dir); // only when empty: someone else's policies stay
        } catch {
            createdDirs.length = 0;
            break;
        }
    }
}

/** Policy files currently in POLICY_DIR (to explain a hang: another file may set the same policy). */
export function policyFilesPresent(): string[] {
    try {
        return fs.readdirSync(POLICY_DIR);
    } catch {
        return [];
    }
}

// ---------------------------------------------------------------------------------------------
// NSS database
// ---------------------------------------------------------------------------------------------

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): string {
    const r = spawnSync(cmd, args, { encoding: "utf8", env, timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stdout}${r.stderr}`);
    return r.stdout;
}

export interface NssHome {
    /** The HOME to run Chromium with. */
    home: string;
    /** `sql:<home>/.pki/nssdb` */
    db: string;
    /** `certutil -L` output: nicknames and trust flags. */
    list(): string;
}

/**
 * A fresh HOME with an NSS database (empty password) as Chromium on Linux uses it: the CA trusted for TLS
 * servers (`-t "C,,"`), and the PKCS#12 bundles imported with their password files (`pk12util -w`).
 */
export function makeNssHome(home: string, opts: { caFile: string; caNickname?: string; pkcs12?: { file: string; passwordFile: string }[] }): NssHome {
    const dbDir = path.join(home, ".pki", "nssdb");
    fs.mkdirSync(dbDir, { recursive: true, mode: 0o700 });
    const db = `sql:${dbDir}`;
    const env = { ...process.env, HOME: home };
    run("certutil", ["-N", "-d", db, "--empty-password"], env);
    for (const p of opts.pkcs12 ?? []) run("pk12util", ["-i", p.file, "-d", db, "-w", p.passwordFile], env);
    run("certutil", ["-A", "-n", opts.caNickname ?? "mtls-nginx test CA", "-t", "C,,", "-i", opts.caFile, "-d", db], env);
    return { home, db, list: () => run("certutil", ["-L", "-d", db], env) };
}

// ---------------------------------------------------------------------------------------------
// Running the browser
// ---------------------------------------------------------------------------------------------

export interface DumpDomResult {
    /** What --dump-dom printed (the serialized DOM after load). */
    dom: string;
    stderr: string;
    exitCode: number | null;
    signal: NodeJS.Signals | null;
    /** True when the run was killed at the timeout. */
    timedOut: boolean;
}

function killGroup(pid: number | undefined) {
    if (!pid) return;
    try {
        process.kill(-pid, "SIGKILL");
    } catch {
        /* the group is gone */
    }
}

/**
 * `chromium --headless ... --dump-dom <url>` with HOME=`home` and a fresh profile in `userDataDir`;
 * `hostMap` adds `--host-resolver-rules=MAP <host> <ip>` for each entry. Killed after `timeoutMs`.
 */
export function dumpDom(url: string, opts: { home: string; userDataDir: string; timeoutMs?: number; hostMap?: Record<string, string>; extraFlags?: string[] }): Promise<DumpDomResult> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    fs.mkdirSync(opts.userDataDir, { recursive: true, mode: 0o700 });
    const rules = Object.entries(opts.hostMap ?? {}).map(([host, ip]) => `MAP ${host} ${ip}`);
    const args = [...CHROMIUM_FLAGS, `--user-data-dir=${opts.userDataDir}`, ...(rules.length > 0 ? [`--host-resolver-rules=${rules.join(",")}`] : []), ...(opts.extraFlags ?? []), "--dump-dom", url];
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: opts.home };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    return new Promise((resolve, reject) => {
        const child = spawn(CHROMIUM_BIN, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        let dom = "";
        let stderr = "";
        let timedOut = false;
        child.stdout!.setEncoding("utf8").on("data", (d: string) => (dom += d));
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const timer = setTimeout(() => {
            timedOut = true;
            killGroup(child.pid);
        }, timeoutMs);
        child.on("error", (e) => {
            clearTimeout(timer);
            killGroup(child.pid);
            reject(e);
        });
        child.on("close", (exitCode, signal) => {
            clearTimeout(timer);
            killGroup(child.pid); // whatever the browser left in its group
            resolve({ dom, stderr, exitCode, signal, timedOut });
        });
    });
}

// ---------------------------------------------------------------------------------------------
// One browser test at a time
// ---------------------------------------------------------------------------------------------

const BROWSER_LOCK = path.join(os.tmpdir(), "mtls-nginx-tests-chromium.lock");

/**
 * Runs `fn` while holding a machine-wide lock: managed policies are machine-wide, and two test files
 * (jest runs them in parallel) each installing an AutoSelectCertificateForUrls policy could leave one
 * browser waiting forever for a certificate choice. A lock whose holder is dead is taken over.
 */
export async function withBrowserLock<T>(fn: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            fs.mkdirSync(BROWSER_LOCK);
            fs.writeFileSync(path.join(BROWSER_LOCK, "pid"), String(process.pid));
            break;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
            if (!lockHolderAlive()) {
                fs.rmSync(BROWSER_LOCK, { recursive: true, force: true });
                continue;
            }
            if (Date.now() > deadline) throw new Error(`another test has held ${BROWSER_LOCK} for ${timeoutMs} ms`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }
    try {
        return await fn();
    } finally {
        fs.rmSync(BROWSER_LOCK, { recursive: true, force: true });
    }
}

function lockHolderAlive(): boolean {
    try {
        process.kill(Number(fs.readFileSync(path.join(BROWSER_LOCK, "pid"), "utf8")), 0);
        return true;
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EPERM") return true;
        // No pid file: the holder is between mkdir and write (young lock), or died there (old lock).
        if (code === "ENOENT") return Date.now() - (fs.statSync(BROWSER_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 10_000;
        return false;
    }
}
