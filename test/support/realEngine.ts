/**
 * The real Pulumi engine for tests: the `pulumi` CLI with its Node.js language host, the dynamic-provider
 * host and the tls and command provider plugins, running a temporary copy of this program with its own
 * file backend, PULUMI_HOME and stack.
 *
 * Which engine (first found wins):
 * 1. `MTLS_NGINX_ENGINE_DIR`: a directory laid out as scripts/engine/install.sh builds it (bin/, home/);
 * 2. `pulumi` on PATH: the user's own CLI and plugins (their PULUMI_HOME's plugins are shared read-only);
 * 3. the cache scripts/engine/install.sh fills (`install.sh --dir`).
 * With none, engine tests are skipped with the reason, except under `CI=true`, where they fail.
 */
import { execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeFile } from "./clients";
import { makeTestDir } from "./nginx";
import { PROJECT_DIR } from "./stackConfig";

export interface Engine {
    /** Directory holding `pulumi` and the language and dynamic-provider hosts. */
    binDir: string;
    /** Plugins directory shared (read-only) with every test's PULUMI_HOME, when the engine has one. */
    pluginsDir?: string;
    /** Where it came from, for test titles and logs. */
    source: "MTLS_NGINX_ENGINE_DIR" | "PATH" | "scripts/engine cache";
    /** True for our own build: plugins must come from its home, never from the network. */
    offline: boolean;
}

function engineFromDir(dir: string, source: Engine["source"]): Engine | undefined {
    const binDir = path.join(dir, "bin");
    if (!fs.existsSync(path.join(binDir, "pulumi"))) return undefined;
    return { binDir, pluginsDir: path.join(dir, "home", "plugins"), source, offline: true };
}

function pulumiOnPath(): string | undefined {
    const r = spawnSync("sh", ["-c", "command -v pulumi"], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Finds the engine, or says why there is none. */
export function findEngine(): Engine | { missing: string } {
    const fromEnv = process.env.MTLS_NGINX_ENGINE_DIR;
    if (fromEnv) {
        return engineFromDir(fromEnv, "MTLS_NGINX_ENGINE_DIR") ?? { missing: `MTLS_NGINX_ENGINE_DIR=${fromEnv} has no bin/pulumi` };
    }
    const onPath = pulumiOnPath();
    if (onPath) {
        const home = process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
        return { binDir: path.dirname(fs.realpathSync(onPath)), pluginsDir: path.join(home, "plugins"), source: "PATH", offline: false };
    }
    const r = spawnSync(path.join(PROJECT_DIR, "scripts/engine/install.sh"), ["--dir"], { encoding: "utf8", timeout: 60_000 });
    if (r.status === 0) {
        const engine = engineFromDir(r.stdout.trim(), "scripts/engine cache");
        if (engine) return engine;
    }
    return { missing: "no Pulumi engine: no pulumi on PATH and scripts/engine/install.sh has not built one (run it once)" };
}

// A real `pulumi up` takes seconds to a minute, more on a busy machine: engine tests get 10 minutes each.
if (typeof jest !== "undefined") jest.setTimeout(600_000);

const found = findEngine();
export const ENGINE: Engine | undefined = "missing" in found ? undefined : found;

/**
 * `describe` for tests under the real engine: skipped (with the reason in the title) when there is no
 * engine, but failing under CI=true, where a missing engine is a broken build, not a skip.
 */
export function describeEngine(title: string, body: () => void): void {
    if (ENGINE) {
        describe(`${title} [real engine: ${ENGINE.source}]`, body);
    } else if (process.env.CI === "true") {
        describe(title, () => {
            it("has a Pulumi engine (CI=true: a missing engine is a failure)", () => {
                throw new Error((found as { missing: string }).missing);
            });
        });
    } else {
        describe.skip(`${title} [skipped: ${(found as { missing: string }).missing}]`, body);
    }
}

export interface CommandResult {
    code: number | null;
    stdout: string;
    stderr: string;
    /** Wall time in milliseconds. */
    ms: number;
}

export interface RunOptions {
    /** Extra environment (e.g. MTLS_NGINX_CLOCK). */
    env?: Record<string, string | undefined>;
    /** @default 300000 */
    timeoutMs?: number;
    /** Don't throw on a non-zero exit. @default false */
    allowFailure?: boolean;
    /** Text fed on stdin. */
    input?: string;
}

/** Files of the program a user clones: everything `pulumi up` and `npm run export-bundles` read. */
const PROGRAM_FILES = ["index.ts", "Pulumi.yaml", "package.json", "package-lock.json", "tsconfig.json", "components", "stacks", "scripts"];

/**
 * A temporary copy of the program (node_modules linked, not copied) with its own HOME, PULUMI_HOME,
 * passphrase and file backend.
 *
 * The backend: `PULUMI_BACKEND_URL=file://<root>/backend` by default. With `loginLocal`, commands may run
 * `pulumi login --local` as the README does; Pulumi resolves its `~` from the passwd database, not from
 * $HOME, so every command of such a project runs in a private mount namespace where
 * `<passwd home>/.pulumi` is the test's own directory (root only: the user's real ~/.pulumi is never touched).
 */
export class EngineProject {
    readonly dir: string;
    readonly root: string;
    readonly home: string;
    readonly pulumiHome: string;
    readonly baseEnv: Record<string, string>;
    private readonly engine: Engine;

    readonly backend: string;
    private readonly loginLocal: boolean;

    constructor(label: string, opts: { engine?: Engine; extraFiles?: Record<string, string>; loginLocal?: boolean } = {}) {
        const engine = opts.engine ?? ENGINE;
        if (!engine) throw new Error("no Pulumi engine");
        this.engine = engine;
        this.root = makeTestDir(`engine-${label}`);
        this.dir = path.join(this.root, "program");
        this.home = path.join(this.root, "home");
        this.pulumiHome = path.join(this.root, "pulumi-home");
        fs.mkdirSync(this.dir, { mode: 0o755 });
        fs.mkdirSync(this.home, { mode: 0o700 });
        fs.mkdirSync(this.pulumiHome, { mode: 0o700 });
        this.backend = path.join(this.root, "backend");
        fs.mkdirSync(this.backend, { mode: 0o700 });
        this.loginLocal = opts.loginLocal ?? false;
        if (this.loginLocal && process.getuid?.() !== 0) throw new Error("loginLocal needs root (a private mount namespace)");
        for (const file of PROGRAM_FILES) {
            fs.cpSync(path.join(PROJECT_DIR, file), path.join(this.dir, file), {
                recursive: true,
                filter: (src) => !src.startsWith(path.join(PROJECT_DIR, "scripts", "engine")),
            });
        }
        fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(this.dir, "node_modules"));
        for (const [name, content] of Object.entries(opts.extraFiles ?? {})) {
            fs.mkdirSync(path.dirname(path.join(this.dir, name)), { recursive: true });
            fs.writeFileSync(path.join(this.dir, name), content);
        }
        if (engine.pluginsDir && fs.existsSync(engine.pluginsDir)) {
            fs.symlinkSync(engine.pluginsDir, path.join(this.pulumiHome, "plugins"));
        }
        this.baseEnv = {
            PATH: `${engine.binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
            HOME: this.home,
            PULUMI_HOME: this.pulumiHome,
            PULUMI_CONFIG_PASSPHRASE: "dev",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            // Plain, stable output for assertions.
            NO_COLOR: "1",
            PULUMI_SUPPRESS_COPILOT_LINK: "true",
            ...(engine.offline ? { PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true" } : {}),
            ...(this.loginLocal ? {} : { PULUMI_BACKEND_URL: `file://${this.backend}` }),
        };
    }

    /** The environment a command runs with: ours, plus the inherited basics (TMPDIR, LANG...). */
    env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
        const inherited = Object.fromEntries(
            Object.entries(process.env).filter(([k]) => !/^(PULUMI_|MTLS_NGINX_|HOME$|PATH$|CI$|JEST_|NODE_OPTIONS$)/.test(k)),
        );
        const env: NodeJS.ProcessEnv = { ...inherited, ...this.baseEnv };
        for (const [k, v] of Object.entries(extra)) {
            if (v === undefined) delete env[k];
            else env[k] = v;
        }
        return env;
    }

    /** Runs a program in the project directory; its whole process group is killed at the timeout. */
    run(file: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
        const timeoutMs = opts.timeoutMs ?? 300_000;
        const started = Date.now();
        return new Promise((resolve, reject) => {
            const [command, argv] = this.loginLocal ? privateLocalBackend(this.backend, file, args) : [file, args];
            const child = spawn(command, argv, { cwd: this.dir, env: this.env(opts.env), detached: true, stdio: ["pipe", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            const timer = setTimeout(() => killGroup(child.pid), timeoutMs);
            child.on("error", (e) => {
                clearTimeout(timer);
                reject(e);
            });
            child.on("close", (code) => {
                clearTimeout(timer);
                const result = { code, stdout, stderr, ms: Date.now() - started };
                if (code !== 0 && !opts.allowFailure) {
                    reject(new Error(`${file} ${args.join(" ")} exited ${code} after ${result.ms} ms\n--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`));
                } else {
                    resolve(result);
                }
            });
            child.stdin.end(opts.input ?? "");
        });
    }

    pulumi(args: string[], opts: RunOptions = {}): Promise<CommandResult> {
        return this.run(path.join(this.engine.binDir, "pulumi"), ["--non-interactive", ...args], opts);
    }

    /** `sh -c` in the project directory with the project's environment (the README's commands, verbatim). */
    sh(script: string, opts: RunOptions = {}): Promise<CommandResult> {
        return this.run("/bin/sh", ["-c", script], opts);
    }

    /** `pulumi preview --json`: the steps the engine plans, as `{ urn, op }` pairs (same steps included). */
    async previewSteps(opts: RunOptions = {}): Promise<PreviewStep[]> {
        const r = await this.pulumi(["preview", "--json", "--diff"], opts);
        const json = JSON.parse(r.stdout) as { steps?: { urn: string; op: string; diffReasons?: string[]; replaceReasons?: string[] }[] };
        return (json.steps ?? []).map((s) => ({ urn: s.urn, op: s.op, diffReasons: s.diffReasons, replaceReasons: s.replaceReasons }));
    }

    /** The checkpoint as `pulumi stack export` prints it (secrets encrypted unless showSecrets). */
    async exportState(showSecrets = false): Promise<{ text: string; resources: StateResource[] }> {
        const r = await this.pulumi(["stack", "export", ...(showSecrets ? ["--show-secrets"] : [])]);
        const doc = JSON.parse(r.stdout) as { deployment?: { resources?: StateResource[] } };
        return { text: r.stdout, resources: doc.deployment?.resources ?? [] };
    }

    async outputs(showSecrets = false): Promise<Record<string, any>> {
        const r = await this.pulumi(["stack", "output", "--json", ...(showSecrets ? ["--show-secrets"] : [])]);
        return JSON.parse(r.stdout);
    }

    /** Sets a stack config value by path (`site.listen.port`) in the mtls-nginx namespace. */
    async setConfig(keyPath: string, value: string | number | boolean): Promise<void> {
        const args = ["config", "set", "--path", `mtls-nginx:${keyPath}`, String(value)];
        if (typeof value !== "string") args.push("--type", typeof value === "number" ? "int" : "bool");
        await this.pulumi(args);
    }

    /** The stack file of `stack`, as the test left it. */
    stackFile(stack: string): string {
        return path.join(this.dir, "stacks", `Pulumi.${stack}.yaml`);
    }

    /** Best effort: destroy the stack, then end any nginx still running from this project, then delete it. */
    async cleanup(opts: { destroy?: boolean } = {}): Promise<void> {
        try {
            if (opts.destroy !== false) await this.pulumi(["destroy", "--yes", "--skip-preview"], { allowFailure: true, timeoutMs: 120_000 });
        } finally {
            await killNginxUnder(this.root);
            killProcessesUnder(this.root);
            fs.rmSync(this.root, { recursive: true, force: true });
        }
    }
}

export interface PreviewStep {
    urn: string;
    op: string;
    diffReasons?: string[];
    replaceReasons?: string[];
}

export interface StateResource {
    urn: string;
    type: string;
    id?: string;
    custom?: boolean;
    inputs?: Record<string, any>;
    outputs?: Record<string, any>;
    parent?: string;
    [key: string]: unknown;
}

/** A client's certificate chain and key, out of its exported PKCS#12 (what the person imports). */
export function pemFromP12(dir: string, p12Base64: string, password: string): { certPem: string; keyPem: string } {
    const file = writeFile(dir, `bundle-${crypto.randomBytes(4).toString("hex")}.p12`, Buffer.from(p12Base64, "base64"), 0o600);
    const run = (args: string[]) =>
        execFileSync("openssl", ["pkcs12", "-in", file, "-passin", "env:P12_PASSWORD", ...args], { env: { ...process.env, P12_PASSWORD: password }, encoding: "utf8" });
    try {
        return { certPem: run(["-nokeys"]), keyPem: run(["-nocerts", "-nodes"]) };
    } finally {
        fs.rmSync(file, { force: true });
    }
}

/** Non-`same` steps of a plan, as `name: op`, sorted. */
export function changedSteps(steps: PreviewStep[]): string[] {
    return steps.filter((s) => s.op !== "same").map((s) => `${urnName(s.urn)}: ${s.op}`).sort();
}

export function idsByName(resources: StateResource[]): Map<string, string | undefined> {
    return new Map(resources.filter((r) => r.custom).map((r) => [urnName(r.urn), r.id]));
}

/** The last part of a URN: the resource's name. */
export function urnName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** `file args...` in a new mount namespace where the passwd home's `.pulumi` is `backend` (what `~` means to `login --local`). */
function privateLocalBackend(backend: string, file: string, args: string[]): [string, string[]] {
    const passwdHome = os.userInfo().homedir;
    fs.mkdirSync(path.join(passwdHome, ".pulumi"), { recursive: true, mode: 0o700 });
    const script = 'mount --bind "$1" "$2" && shift 2 && exec "$@"';
    return ["unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", backend, path.join(passwdHome, ".pulumi"), file, ...args]];
}

function tail(text: string, lines = 60): string {
    return text.split("\n").slice(-lines).join("\n");
}

function killGroup(pid: number | undefined): void {
    if (!pid) return;
    try {
        process.kill(-pid, "SIGKILL");
    } catch {
        /* already gone */
    }
}

/**
 * Ends every nginx whose master's command line names a path under `dir` (a test's leftovers): a fast
 * shutdown (SIGTERM) first, then SIGKILL for the master and its workers if it lingers.
 */
export async function killNginxUnder(dir: string): Promise<void> {
    const masters = processes().filter((p) => p.cmdline.startsWith("nginx: master process") && p.cmdline.includes(dir));
    for (const m of masters) signal(m.pid, "SIGTERM");
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && masters.some((m) => alive(m.pid))) await new Promise((r) => setTimeout(r, 50));
    const pids = new Set(masters.map((m) => m.pid));
    for (const p of processes()) if (pids.has(p.pid) || pids.has(p.ppid)) signal(p.pid, "SIGKILL");
}

/**
 * Kills what a run left behind under `dir` (a plugin or a dynamic-provider host whose CLI was killed at a
 * timeout): every process whose command line names `dir` or whose working directory is inside it.
 */
export function killProcessesUnder(dir: string): void {
    for (const p of processes()) {
        if (p.pid === process.pid) continue;
        let cwd = "";
        try {
            cwd = fs.readlinkSync(`/proc/${p.pid}/cwd`);
        } catch {
            /* gone, or not ours to read */
        }
        if (p.cmdline.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) signal(p.pid, "SIGKILL");
    }
}

function processes(): { pid: number; ppid: number; cmdline: string }[] {
    const list: { pid: number; ppid: number; cmdline: string }[] = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
            list.push({ pid: Number(entry), ppid, cmdline });
        } catch {
            /* gone meanwhile */
        }
    }
    return list;
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

function signal(pid: number, sig: NodeJS.Signals): void {
    try {
        process.kill(pid, sig);
    } catch {
        /* already gone */
    }
}
