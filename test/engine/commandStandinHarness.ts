/**
 * Runs one small Pulumi program under the real engine against a given `command` plugin binary, and
 * reduces what the engine reports (steps, outputs, diagnostics, checkpoint) to a form that can be
 * compared between two plugins: the reference (pulumi-command v1.2.1) and our stand-in.
 *
 * Every process is bounded by a timeout and started in its own process group, so a hung plugin is
 * killed with everything it started; nothing here touches any address but 127.0.0.1.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort, waitForPort } from "../support/ports";

const REPO_NODE_MODULES = path.resolve(__dirname, "../../node_modules");

/** The engine's marker for an unknown value in previews. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** A resource of a scenario; `secret` names the args passed as pulumi.secret. */
export interface ScenarioResource {
    kind: "local" | "remote";
    name: string;
    args: Record<string, unknown>;
    secret?: string[];
    /** SSH connection; the keys are read from files by the program and passed as secrets. */
    connection?: Record<string, unknown> & { privateKeyFile: string; proxy?: Record<string, unknown> & { privateKeyFile: string } };
    /** Makes `create` depend on another resource's stdout (unknown in a first preview). */
    createAfter?: string;
}

export interface Scenario {
    resources: ScenarioResource[];
}

/** The program: builds the scenario's resources with @pulumi/command exactly as given. */
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const fs = require("fs");
const path = require("path");
const scenario = JSON.parse(fs.readFileSync(path.join(__dirname, "scenario.json"), "utf8"));
const withKey = ({ privateKeyFile, ...rest }) => ({ ...rest, privateKey: pulumi.secret(fs.readFileSync(privateKeyFile, "utf8")) });
const made = {};
for (const r of scenario.resources) {
    const args = {};
    for (const [k, v] of Object.entries(r.args)) args[k] = (r.secret || []).includes(k) ? pulumi.secret(v) : v;
    if (r.connection) {
        const { proxy, ...connection } = r.connection;
        args.connection = { ...withKey(connection), ...(proxy ? { proxy: withKey(proxy) } : {}) };
    }
    if (r.createAfter) args.create = made[r.createAfter].stdout.apply((s) => r.args.create + " # " + s.length);
    const Kind = r.kind === "remote" ? command.remote.Command : command.local.Command;
    made[r.name] = new Kind(r.name, args);
}
`;

export interface ProcessResult {
    code: number | null;
    stdout: string;
    stderr: string;
    timedOut: boolean;
}

const liveGroups = new Set<ChildProcess>();

/** Runs a program in its own process group; on timeout the whole group is killed. */
export function runBounded(file: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<ProcessResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        liveGroups.add(child);
        let stdout = "";
        let stderr = "";
        let timedOut = false;
        child.stdout!.on("data", (d) => (stdout += d));
        child.stderr!.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => {
            timedOut = true;
            killGroup(child);
        }, opts.timeoutMs);
        child.on("error", (e) => {
            clearTimeout(timer);
            liveGroups.delete(child);
            reject(e);
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            liveGroups.delete(child);
            resolve({ code, stdout, stderr, timedOut });
        });
    });
}

function killGroup(child: ChildProcess): void {
    if (child.pid === undefined) return;
    try {
        process.kill(-child.pid, "SIGKILL");
    } catch {
        // already gone
    }
}

/** Kills what is still running from runBounded (after a failed test). */
export function killLeftovers(): void {
    for (const child of liveGroups) killGroup(child);
    liveGroups.clear();
}

/** One engine setup (home, backend, program) driving one `command` plugin binary. */
export class EngineSide {
    readonly root: string;
    readonly work: string;
    private readonly program: string;
    private readonly env: NodeJS.ProcessEnv;

    constructor(
        readonly label: string,
        private readonly pluginBinary: string,
        engineBin: string,
        parent: string,
    ) {
        this.root = fs.mkdtempSync(path.join(parent, `${label}-`));
        this.work = path.join(this.root, "work");
        this.program = path.join(this.root, "program");
        for (const d of ["home", "state", "work", "program"]) fs.mkdirSync(path.join(this.root, d));
        const env: NodeJS.ProcessEnv = { ...process.env };
        // A plugin found on PATH or an SSH agent would make the two sides differ for reasons of ours.
        for (const k of Object.keys(env)) if (k.startsWith("PULUMI_") || k === "SSH_AUTH_SOCK") delete env[k];
        this.env = {
            ...env,
            PATH: `${engineBin}${path.delimiter}${process.env.PATH ?? ""}`,
            PULUMI_HOME: path.join(this.root, "home"),
            PULUMI_BACKEND_URL: `file://${path.join(this.root, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "conformance",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
    }

    async setUp(): Promise<void> {
        fs.writeFileSync(path.join(this.program, "Pulumi.yaml"), "name: command-conformance\nruntime: nodejs\n");
        fs.writeFileSync(path.join(this.program, "index.js"), PROGRAM);
        fs.writeFileSync(path.join(this.program, "package.json"), '{ "name": "command-conformance", "main": "index.js" }\n');
        fs.symlinkSync(REPO_NODE_MODULES, path.join(this.program, "node_modules"));
        await this.pulumiOk(["plugin", "install", "resource", "command", "1.2.1", "--file", this.pluginBinary]);
    }

    /** Creates and selects a new, empty stack (one per test, so tests never see each other's resources). */
    async newStack(name: string): Promise<void> {
        await this.pulumiOk(["stack", "init", name]);
    }

    /** Runs pulumi in the program directory. */
    pulumi(args: string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 180_000): Promise<ProcessResult> {
        return runBounded("pulumi", [...args, "--non-interactive"], { cwd: this.program, env: { ...this.env, ...extraEnv }, timeoutMs });
    }

    async pulumiOk(args: string[]): Promise<string> {
        const r = await this.pulumi(args);
        if (r.code !== 0) throw new Error(`[${this.label}] pulumi ${args.join(" ")} failed (${r.timedOut ? "timed out" : `exit ${r.code}`}):\n${r.stderr}\n${r.stdout}`);
        return r.stdout;
    }

    /** Writes the scenario, with {WORK} standing for this side's scratch directory. */
    useScenario(s: Scenario): void {
        const text = JSON.stringify(s).split("{WORK}").join(this.work);
        fs.writeFileSync(path.join(this.program, "scenario.json"), text);
    }

    async preview(s: Scenario): Promise<EngineRun> {
        this.useScenario(s);
        return this.observe(await this.pulumi(["preview", "--json"], { PULUMI_ENABLE_STREAMING_JSON_PREVIEW: "1" }));
    }

    async up(s: Scenario): Promise<EngineRun> {
        this.useScenario(s);
        return this.observe(await this.pulumi(["up", "--yes", "--skip-preview", "--continue-on-error", "--json"]));
    }

    async refresh(): Promise<EngineRun> {
        return this.observe(await this.pulumi(["refresh", "--yes", "--skip-preview", "--json"]));
    }

    async destroy(): Promise<EngineRun> {
        return this.observe(await this.pulumi(["destroy", "--yes", "--skip-preview", "--continue-on-error", "--json"]));
    }

    /** The checkpoint's command resources, normalised; `showSecrets` decrypts secret values. */
    async checkpoint(showSecrets: boolean): Promise<unknown> {
        const out = await this.pulumiOk(["stack", "export", ...(showSecrets ? ["--show-secrets"] : [])]);
        const resources = (JSON.parse(out).deployment.resources ?? []) as Array<Record<string, unknown>>;
        return resources
            .filter((r) => String(r.type).startsWith("command:"))
            .map((r) => {
                const { id, created, modified, provider, stackTrace, sourcePosition, ...rest } = r;
                void created, modified, provider, stackTrace, sourcePosition;
                const name = String(r.urn).split("::").pop();
                return this.normalize({ ...rest, idShape: idShape(String(id), String(name)) });
            })
            // Independent resources are created concurrently: order by URN (then by role, for a replacement).
            .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }

    /** The text a resource's commands appended to {WORK}/<name>.log (order of runs, their environment). */
    log(name: string): string {
        const file = path.join(this.work, `${name}.log`);
        return fs.existsSync(file) ? this.normalize(fs.readFileSync(file, "utf8")) as string : "";
    }

    private observe(r: ProcessResult): EngineRun {
        if (r.timedOut) throw new Error(`[${this.label}] pulumi timed out; stderr:\n${r.stderr}`);
        const events = r.stdout
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .map((l) => JSON.parse(l) as Record<string, any>);
        const steps: Record<string, unknown[]> = {};
        const outputs: Record<string, unknown[]> = {};
        const diagnostics: string[] = [];
        for (const e of events) {
            const pre = e.resourcePreEvent?.metadata;
            if (pre && pre.op !== "same" && String(pre.type).startsWith("command:")) {
                // diffs come from a Go map in either plugin: their order is random.
                const diffs = pre.diffs ? [...pre.diffs].sort() : null;
                (steps[nameOf(pre.urn)] ??= []).push(this.normalize({ op: pre.op, diffs, detailedDiff: pre.detailedDiff ?? null }));
            }
            const res = e.resOutputsEvent?.metadata;
            if (res && String(res.type).startsWith("command:")) {
                (outputs[nameOf(res.urn)] ??= []).push(this.normalize({ op: res.op, outputs: res.new?.outputs ?? null }));
            }
            const d = e.diagnosticEvent;
            if (d && d.urn && d.severity !== "debug") {
                diagnostics.push(`${nameOf(d.urn)} ${d.severity}${d.ephemeral ? " status" : ""}: ${this.normalize(normalizeWording(d.message))}`);
            }
        }
        const summary = events.find((e) => e.summaryEvent)?.summaryEvent;
        return { succeeded: r.code === 0, steps, outputs, diagnostics: diagnostics.sort(), changes: summary?.resourceChanges ?? null };
    }

    /** Replaces this side's directory by <ROOT> and secret envelopes by a readable form. */
    private normalize(v: unknown): unknown {
        if (typeof v === "string") return v.split(this.root).join("<ROOT>");
        if (Array.isArray(v)) return v.map((x) => this.normalize(x));
        if (v && typeof v === "object") {
            const o = v as Record<string, unknown>;
            if (o[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270") {
                return { secret: "plaintext" in o ? this.normalize(JSON.parse(String(o.plaintext))) : "<ciphertext>" };
            }
            return Object.fromEntries(Object.keys(o).sort().map((k) => [k, this.normalize(o[k])]));
        }
        return v;
    }
}

/** What one engine run reported, per resource name. */
export interface EngineRun {
    succeeded: boolean;
    steps: Record<string, unknown[]>;
    outputs: Record<string, unknown[]>;
    /** "<name> <severity>[ status]: <message>", sorted (two streams, and resources, run concurrently). */
    diagnostics: string[];
    changes: unknown;
}

function nameOf(urn: string): string {
    return String(urn).split("::").pop()!;
}

function idShape(id: string, name: string): string {
    if (id === "undefined") return "none";
    return id.startsWith(name) && /^[0-9a-f]{8}$/.test(id.slice(name.length)) ? "<name><8 hex>" : `unexpected: ${id}`;
}

/**
 * The stand-in words its advice about a refused SSH environment variable itself; the variable it
 * names and the severity are what is compared.
 */
function normalizeWording(message: string): string {
    return message.replace(/^(Unable to set '[^']+')[\s\S]*$/, "$1 <advice>\n");
}

/** A throwaway OpenSSH server on 127.0.0.1 with its own host key and one ed25519 client key. */
export class ThrowawaySshd {
    port = 0;
    readonly dir: string;
    readonly clientKeyFile: string;
    readonly hostPublicKey: string;
    /** An accepted key encrypted with LOCKED_KEY_PASSPHRASE. */
    readonly lockedKeyFile: string;
    /** A key the server does not accept, and its public half (also usable as a wrong host key). */
    readonly strangerKeyFile: string;
    readonly strangerPublicKey: string;
    readonly user = os.userInfo().username;
    private child?: ChildProcess;

    constructor(parent: string) {
        this.dir = fs.mkdtempSync(path.join(parent, "sshd-"));
        this.clientKeyFile = path.join(this.dir, "client");
        keygen(path.join(this.dir, "host"));
        keygen(this.clientKeyFile);
        this.strangerKeyFile = path.join(this.dir, "stranger");
        keygen(this.strangerKeyFile);
        this.strangerPublicKey = fs.readFileSync(`${this.strangerKeyFile}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
        this.lockedKeyFile = path.join(this.dir, "locked");
        keygen(this.lockedKeyFile, LOCKED_KEY_PASSPHRASE);
        fs.writeFileSync(path.join(this.dir, "authorized_keys"), [this.clientKeyFile, this.lockedKeyFile].map((k) => fs.readFileSync(`${k}.pub`, "utf8")).join(""));
        fs.chmodSync(path.join(this.dir, "authorized_keys"), 0o600);
        this.hostPublicKey = fs.readFileSync(path.join(this.dir, "host.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    }

    /** Starts sshd; only MTLS_ACCEPTED and PULUMI_COMMAND_STDOUT are accepted as environment. */
    async start(): Promise<void> {
        this.port = await freePort();
        const config = path.join(this.dir, "sshd_config");
        const home = path.join(this.dir, "home");
        fs.mkdirSync(home, { recursive: true });
        fs.writeFileSync(
            config,
            [
                `Port ${this.port}`,
                "ListenAddress 127.0.0.1",
                `HostKey ${path.join(this.dir, "host")}`,
                `PidFile ${path.join(this.dir, "sshd.pid")}`,
                `AuthorizedKeysFile ${path.join(this.dir, "authorized_keys")}`,
                "StrictModes no",
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "AllowTcpForwarding yes",
                "AcceptEnv MTLS_ACCEPTED PULUMI_COMMAND_STDOUT",
                // Both plugins dial at once for every resource: no unauthenticated connection may be dropped.
                "MaxStartups 200",
                // The login shell must not read the real user's dotfiles (their output would race into stderr).
                `SetEnv HOME=${home}`,
                "",
            ].join("\n"),
        );
        this.child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
        let log = "";
        this.child.stderr!.on("data", (d) => (log += d));
        try {
            await waitForPort(this.port, 10_000);
        } catch (e) {
            this.stop();
            throw new Error(`sshd did not start: ${(e as Error).message}\n${log}`);
        }
    }

    stop(): void {
        if (this.child && this.child.exitCode === null) this.child.kill("SIGTERM");
        this.child = undefined;
    }
}

export const SSHD = "/usr/sbin/sshd";
const PRIVSEP_DIR = "/run/sshd";

/** Why a throwaway sshd cannot run here, or undefined when it can (creates sshd's privsep dir when root). */
export function sshdUnavailable(): string | undefined {
    if (!fs.existsSync(SSHD)) return `${SSHD} not installed (Debian package openssh-server)`;
    if (spawnSync("ssh-keygen", ["-?"], { timeout: 10_000 }).error) return "ssh-keygen not found";
    if (!fs.existsSync(PRIVSEP_DIR)) {
        try {
            fs.mkdirSync(PRIVSEP_DIR, { mode: 0o755 });
        } catch {
            return `sshd needs ${PRIVSEP_DIR}, which is missing and cannot be created`;
        }
    }
    return undefined;
}

/** Test-only passphrase of ThrowawaySshd.lockedKeyFile. */
export const LOCKED_KEY_PASSPHRASE = "conformance-passphrase";

function keygen(file: string, passphrase = ""): void {
    const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "conformance", "-f", file], { timeout: 30_000 });
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}
