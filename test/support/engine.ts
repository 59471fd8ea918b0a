/**
 * A small deployment simulator on top of the SDK's mock mode.
 *
 * `pulumi.runtime.setMocks` answers every registration with whatever a `newResource` mock returns, once,
 * with no memory. This simulator replaces the mock monitor (a subclass of the SDK's `MockMonitor`,
 * installed with the same settings calls `setMocks` makes) so a test can run a program several times,
 * across simulated time, and see what the engine would do on each `pulumi preview` / `pulumi up`:
 *
 * - state persists between runs in the simulator instance;
 * - for every custom resource with prior state it decides `same | update | replace` the way the engine
 *   and the resource's provider would (see {@link DeploymentSimulator} for the rules per type), and
 *   honours the `replaceWith`, `replacementTrigger`, `replaceOnChanges`, `ignoreChanges`,
 *   `deleteBeforeReplace`, `protect` and `retainOnDelete` options it receives in the RegisterResource RPC;
 * - dynamic providers run for real, deserialized from their `__provider` input with Node's real
 *   `require` (as `pulumi-dynamic-provider` does), @pulumi/tls resources are created by tlsDouble.ts,
 *   other types by pluggable executors (see {@link localCommandExecutor}) or recorded only;
 * - `additionalSecretOutputs` are applied, and secretness flows from inputs to outputs like the engine;
 * - resources absent from a run are deleted at its end, in reverse dependency order;
 * - `preview: true` plans without executing creates/updates/deletes.
 *
 * Usage:
 *
 *     const sim = new DeploymentSimulator({ executors: { "command:local:Command": localCommandExecutor } });
 *     const first = await sim.run(() => program(), { now: "2027-01-01T00:00:00Z" });
 *     const plan = await sim.run(() => program(), { now: "2027-03-01T00:00:00Z", preview: true });
 *     expect(plan.stepFor("server-cert")?.op).toBe("replace");
 */
import * as childProcess from "child_process";
import * as crypto from "crypto";
import * as nodeModule from "module";
import * as path from "path";
import { isTlsType, tlsCreate, tlsPlan, tlsUpdate, tlsValidate } from "./tlsDouble";

/* eslint-disable @typescript-eslint/no-var-requires */
// Deep SDK modules, loaded through the same module registry as the program's @pulumi/pulumi.
const settings: any = require("@pulumi/pulumi/runtime/settings");
const runtimeState: any = require("@pulumi/pulumi/runtime/state");
const runtimeStack: any = require("@pulumi/pulumi/runtime/stack");
const runtimeConfig: any = require("@pulumi/pulumi/runtime/config");
const mocksModule: any = require("@pulumi/pulumi/runtime/mocks");
const resproto: any = require("@pulumi/pulumi/proto/resource_pb");
const structproto: any = require("google-protobuf/google/protobuf/struct_pb");
/* eslint-enable @typescript-eslint/no-var-requires */

const CLOCK_ENV = "MTLS_NGINX_CLOCK";
const PROJECT_ROOT = path.resolve(__dirname, "..", "..");

/**
 * Node's own `module`. Under jest, `require("module")` is jest's subclass of it, whose `createRequire`
 * loads through jest's registry; its prototype is the real class.
 */
function hostModule(): typeof nodeModule {
    const m: any = nodeModule;
    const mocked = m.Module ?? m;
    const parent = Object.getPrototypeOf(mocked);
    if (parent && typeof parent.createRequire === "function" && typeof parent._load === "function") return parent;
    return m;
}

/** Node's own `require`, rooted at the project (not jest's module registry). */
const realRequire: NodeRequire = hostModule().createRequire(path.join(PROJECT_ROOT, "package.json"));
/** The real `process` (under jest, the test's `process.env` is a copy that real modules do not see). */
const realProcess: NodeJS.Process = realRequire("process");

/**
 * Moves `Date.now` to `at` (then ticking on) in jest's realm and in Node's main realm, where the
 * deserialized dynamic providers run; returns the undo. Only `Date.now` changes, not the Date class.
 */
function moveWallClock(at: Date): () => void {
    const realms = [Date, realRequire("vm").runInThisContext("Date") as DateConstructor];
    const saved = realms.map((D) => D.now);
    const offset = at.getTime() - saved[0].call(realms[0]);
    realms.forEach((D, i) => (D.now = () => saved[i].call(D) + offset));
    return () => realms.forEach((D, i) => (D.now = saved[i]));
}

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
/** The engine's marker for a value not known until apply (what providers and the SDK see). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";
const GRPC_CANCELLED = 1;

export type StepOp = "create" | "same" | "update" | "replace" | "delete";

export interface Step {
    urn: string;
    type: string;
    name: string;
    op: StepOp;
    /** Top-level inputs that changed (for custom resources with prior state). */
    changedKeys: string[];
    /** Why the op was chosen (provider diff, replaceWith, replacementTrigger, ...). */
    reason?: string;
    custom: boolean;
}

export interface SimResourceOptions {
    /** URNs from the `replaceWith` option. */
    replaceWith: string[];
    replacementTrigger?: unknown;
    additionalSecretOutputs: string[];
    deleteBeforeReplace?: boolean;
    /** URNs this resource depends on (explicit `dependsOn` and inputs). */
    dependencies: string[];
    propertyDependencies: Record<string, string[]>;
    protect?: boolean;
    ignoreChanges?: string[];
    replaceOnChanges?: string[];
    retainOnDelete?: boolean;
    deletedWith?: string;
    /** Provider reference (`urn::id`) when an explicit provider was given. */
    provider?: string;
}

export interface SimResource {
    urn: string;
    type: string;
    name: string;
    parent?: string;
    custom: boolean;
    /** Provider id (custom resources; "" while unknown in a preview). */
    id?: string;
    /** Inputs as the provider saw them: secrets unwrapped, unknowns as {@link UNKNOWN}. */
    inputs: Record<string, any>;
    /** Outputs (for components: what `registerOutputs` registered). Secrets unwrapped. */
    outputs: Record<string, any>;
    /** Top-level output names that are secret. */
    secretOutputs: string[];
    /** Top-level input names that were secret. */
    secretInputs: string[];
    options: SimResourceOptions;
}

export interface RunOptions {
    /** Plan only (`pulumi preview`): no create/update/delete runs. @default false */
    preview?: boolean;
    /** The simulated time, exported as MTLS_NGINX_CLOCK while the program and providers run. */
    now?: Date | string;
    /** Stack config; keys without a namespace get the project's. */
    config?: Record<string, string>;
    /** Config keys (as given in `config`) to mark secret. */
    secretConfig?: string[];
    stack?: string;
    project?: string;
}

export interface RunResult {
    preview: boolean;
    steps: Step[];
    /** Stack outputs (secrets unwrapped). */
    outputs: Record<string, any>;
    /** Top-level stack output names whose value is (or contains) a secret. */
    secretOutputs: string[];
    /** Resources registered in this run (for a preview: as planned). */
    resources: Map<string, SimResource>;
    /** The step for a URN, or for a resource name (must be unique among the steps). */
    stepFor(nameOrUrn: string): Step | undefined;
    /** The resource for a URN, or for a resource name (must be unique). */
    resource(nameOrUrn: string): SimResource | undefined;
}

export interface ExecutorContext {
    urn: string;
    type: string;
    name: string;
    /** Provider id (update/delete). */
    id?: string;
    /** New inputs (create/update), the stored inputs (delete). Secrets unwrapped. */
    inputs: Record<string, any>;
    oldInputs?: Record<string, any>;
    oldOutputs?: Record<string, any>;
    now: Date;
}

export interface ExecutorPlanContext {
    urn: string;
    type: string;
    oldInputs: Record<string, any>;
    oldOutputs: Record<string, any>;
    inputs: Record<string, any>;
    changedKeys: string[];
}

/** Real side effects for a resource type. Missing methods fall back to the simulator's default for the type. */
export interface Executor {
    create?(ctx: ExecutorContext): Promise<{ id?: string; outputs?: Record<string, any> }> | { id?: string; outputs?: Record<string, any> };
    update?(ctx: ExecutorContext): Promise<{ outputs?: Record<string, any> }> | { outputs?: Record<string, any> };
    delete?(ctx: ExecutorContext): Promise<void> | void;
    /**
     * Called for every resource with prior state (before the options are applied): return an op to
     * override the simulator's rule for the type, or undefined to keep it.
     */
    plan?(ctx: ExecutorPlanContext): { op: "same" | "update" | "replace"; reason?: string } | undefined;
}

export interface SimulatorOptions {
    project?: string;
    stack?: string;
    organization?: string;
    executors?: Record<string, Executor>;
    /**
     * docker Container: most of the docker provider's Container arguments are ForceNew, so any input change
     * replaces the container. Set false to plan an in-place update instead.
     * @default true
     */
    dockerContainerReplaceOnChange?: boolean;
    /** Answers invokes (`pulumi.runtime.invoke`, provider functions); throw for unknown tokens. */
    invoke?: (args: { token: string; inputs: any; provider?: string }) => Record<string, any> | Promise<Record<string, any>>;
}

/** A failed run: the message names the resource URN; `steps` has what completed before the failure. */
export class SimulationError extends Error {
    readonly urn?: string;
    steps: Step[] = [];
    constructor(message: string, urn?: string, cause?: unknown) {
        super(message);
        this.name = "SimulationError";
        this.urn = urn;
        if (cause !== undefined) (this as any).cause = cause;
    }
}

// ---------------------------------------------------------------------------------------------
// Wire values
// ---------------------------------------------------------------------------------------------

interface Decoded {
    value: any;
    secret: boolean;
}

/**
 * Turns a serialized property value into what a provider that accepts neither secrets nor resource
 * references sees: secrets unwrapped (and reported), resource references downgraded to their id
 * (custom) or URN (component), output values to their plain value or the unknown marker.
 */
function decodeWire(v: any): Decoded {
    if (Array.isArray(v)) {
        let secret = false;
        const value = v.map((e) => {
            const d = decodeWire(e);
            secret ||= d.secret;
            return d.value;
        });
        return { value, secret };
    }
    if (v && typeof v === "object") {
        const sig = v[SIG_KEY];
        if (sig === SECRET_SIG) {
            const inner = decodeWire(v.value);
            return { value: inner.value, secret: true };
        }
        if (sig === RESOURCE_SIG) {
            if ("id" in v) return { value: v.id === "" ? UNKNOWN : v.id, secret: false };
            return { value: v.urn, secret: false };
        }
        if (sig === OUTPUT_VALUE_SIG) {
            if (!("value" in v)) return { value: UNKNOWN, secret: v.secret === true };
            const inner = decodeWire(v.value);
            return { value: inner.value, secret: inner.secret || v.secret === true };
        }
        if (sig) return { value: v, secret: false }; // assets and archives: kept as they are
        let secret = false;
        const value: Record<string, any> = {};
        for (const [k, e] of Object.entries(v)) {
            const d = decodeWire(e);
            secret ||= d.secret;
            value[k] = d.value;
        }
        return { value, secret };
    }
    return { value: v, secret: false };
}

function decodeProps(struct: any): { values: Record<string, any>; secretKeys: Set<string> } {
    const raw = struct ? struct.toJavaScript() : {};
    const values: Record<string, any> = {};
    const secretKeys = new Set<string>();
    for (const [k, v] of Object.entries(raw)) {
        if (v === undefined) continue;
        const d = decodeWire(v);
        values[k] = d.value;
        if (d.secret) secretKeys.add(k);
    }
    return { values, secretKeys };
}

/** Serializes outputs for the SDK: secret keys wrapped, undefined dropped. */
function encodeOutputs(outputs: Record<string, any>, secretKeys: Iterable<string>): any {
    const secrets = new Set(secretKeys);
    const obj: Record<string, any> = {};
    for (const [k, v] of Object.entries(outputs)) {
        if (v === undefined) continue;
        const plain = JSON.parse(JSON.stringify(v));
        obj[k] = secrets.has(k) ? { [SIG_KEY]: SECRET_SIG, value: plain } : plain;
    }
    return structproto.Struct.fromJavaScript(obj);
}

function containsUnknown(v: any): boolean {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
    return false;
}

function stableJson(v: any): string {
    if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
    if (v && typeof v === "object") {
        return `{${Object.keys(v)
            .filter((k) => v[k] !== undefined)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(v === undefined ? null : v);
}

const deepEqual = (a: any, b: any) => stableJson(a) === stableJson(b);
const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

function changedTopKeys(olds: Record<string, any>, news: Record<string, any>): string[] {
    const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
    return [...keys].filter((k) => containsUnknown(news[k]) || !deepEqual(olds[k], news[k])).sort();
}

/** Property paths that differ, as segment lists (arrays and objects descended). */
function changedPaths(a: any, b: any, prefix: string[] = []): string[][] {
    if (containsUnknown(b) && !(Array.isArray(b) || (b && typeof b === "object"))) return [prefix];
    if (Array.isArray(a) && Array.isArray(b)) {
        const out: string[][] = [];
        for (let i = 0; i < Math.max(a.length, b.length); i++) {
            if (i >= a.length || i >= b.length) out.push([...prefix, String(i)]);
            else out.push(...changedPaths(a[i], b[i], [...prefix, String(i)]));
        }
        return out;
    }
    if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
        const out: string[][] = [];
        for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) out.push(...changedPaths(a[k], b[k], [...prefix, k]));
        return out;
    }
    return deepEqual(a, b) ? [] : [prefix];
}

function parsePropertyPath(p: string): string[] {
    const out: string[] = [];
    for (const part of p.replace(/\[("?)([^\]"]*)\1\]/g, ".$2").split(".")) if (part !== "") out.push(part);
    return out;
}

/** The engine's replaceOnChanges matching: a path overlaps a pattern (with `*` wildcards). */
function pathMatches(pattern: string[], changed: string[]): boolean {
    const n = Math.min(pattern.length, changed.length);
    for (let i = 0; i < n; i++) if (pattern[i] !== "*" && pattern[i] !== changed[i]) return false;
    return true;
}

function getPath(obj: any, segs: string[]): any {
    return segs.reduce((o, s) => (o === undefined || o === null ? undefined : o[s]), obj);
}

function setPath(obj: any, segs: string[], value: any) {
    let o = obj;
    for (const s of segs.slice(0, -1)) {
        if (o[s] === undefined || o[s] === null || typeof o[s] !== "object") o[s] = {};
        o = o[s];
    }
    if (value === undefined) delete o[segs[segs.length - 1]];
    else o[segs[segs.length - 1]] = value;
}

function uniqueHex(prefix: string): string {
    return prefix + crypto.randomBytes(4).toString("hex");
}

/** The message of an error from any realm (dynamic providers run outside jest's realm: not `instanceof Error`). */
function errorText(e: unknown): string {
    if (e && typeof e === "object" && typeof (e as any).message === "string") return (e as any).message;
    return String(e);
}

/** A timer that does not keep the process alive. */
function delay(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function typeOf(urn: string): string {
    return urn.split("::")[2]?.split("$").pop() ?? "";
}

// ---------------------------------------------------------------------------------------------
// Dynamic providers
// ---------------------------------------------------------------------------------------------

const providerCache = new Map<string, any>();

/** Deserializes a dynamic provider like cmd/dynamic-provider: require-from-string, `.handler()`. */
function loadDynamicProvider(text: string): any {
    let provider = providerCache.get(text);
    if (!provider) {
        const requireFromString = realRequire("require-from-string");
        provider = requireFromString(text, path.join(PROJECT_ROOT, "__pulumi_dynamic_provider__.js")).handler();
        providerCache.set(text, provider);
    }
    return provider;
}

function resultIncludingProvider(result: Record<string, any> | undefined, props: Record<string, any>) {
    return Object.assign(result || {}, { __provider: props.__provider });
}

const isDynamic = (type: string) => type.startsWith("pulumi-nodejs:dynamic");
const isCommand = (type: string) => type === "command:local:Command" || type === "command:remote:Command" || type === "command:remote:CopyToRemote" || type === "command:remote:CopyFile";
const isDocker = (type: string) => type.startsWith("docker:");

// ---------------------------------------------------------------------------------------------
// The local command executor (pulumi-command local.Command semantics)
// ---------------------------------------------------------------------------------------------

async function runLocalCommand(command: string, inputs: Record<string, any>, previous: { stdout?: string; stderr?: string }): Promise<{ stdout: string; stderr: string }> {
    const interpreter: string[] = Array.isArray(inputs.interpreter) && inputs.interpreter.length > 0 ? inputs.interpreter : ["/bin/sh", "-c"];
    const env: Record<string, string> = { ...(process.env as Record<string, string>) };
    for (const [k, v] of Object.entries(inputs.environment ?? {})) env[k] = String(v);
    if (inputs.addPreviousOutputInEnv !== false) {
        if (previous.stdout) env.PULUMI_COMMAND_STDOUT = previous.stdout;
        if (previous.stderr) env.PULUMI_COMMAND_STDERR = previous.stderr;
    }
    const cwd = typeof inputs.dir === "string" ? inputs.dir : process.cwd();
    return new Promise((resolve, reject) => {
        let child: childProcess.ChildProcess;
        try {
            child = childProcess.spawn(interpreter[0], [...interpreter.slice(1), command], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
        } catch (e) {
            reject(new Error(`exec: ${JSON.stringify(interpreter[0])}: ${errorText(e)}`));
            return;
        }
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const both: Buffer[] = [];
        child.stdout!.on("data", (b: Buffer) => (out.push(b), both.push(b)));
        child.stderr!.on("data", (b: Buffer) => (err.push(b), both.push(b)));
        child.on("error", (e: NodeJS.ErrnoException) => {
            reject(new Error(e.code === "ENOENT" ? `exec: ${JSON.stringify(interpreter[0])}: executable file not found in $PATH` : `${e.message}: running ${JSON.stringify(command)}`));
        });
        child.on("close", (code, signal) => {
            if (code !== 0) {
                const status = signal ? `signal: ${signal === "SIGKILL" ? "killed" : signal}` : `exit status ${code}`;
                reject(new Error(`${status}: running ${JSON.stringify(command)}:\n${Buffer.concat(both).toString()}`));
                return;
            }
            const trim = (b: Buffer[]) => Buffer.concat(b).toString().replace(/\n$/, "");
            resolve({ stdout: trim(out), stderr: trim(err) });
        });
        child.stdin!.on("error", () => undefined);
        if (typeof inputs.stdin === "string" && inputs.stdin.length > 0) child.stdin!.end(inputs.stdin);
        else child.stdin!.end();
    });
}

/**
 * Runs `command:local:Command` scripts for real, like pulumi-command's local provider: `create` on create,
 * `update ?? create` on update (with PULUMI_COMMAND_STDOUT/STDERR of the previous run unless
 * `addPreviousOutputInEnv: false`), `delete` on delete; `interpreter` (default ["/bin/sh","-c"]),
 * `environment` (added to the inherited environment), `dir` (default: cwd) and `stdin` (when non-empty).
 * stdout/stderr become outputs (one trailing newline trimmed). A non-zero exit fails the step with
 * `exit status N: running "<command>":\n<stdout+stderr>`. `assetPaths`/`archivePaths` are not supported.
 */
export const localCommandExecutor: Executor = {
    async create(ctx) {
        const outputs: Record<string, any> = { ...ctx.inputs, stdout: "", stderr: "" };
        if (typeof ctx.inputs.create === "string") Object.assign(outputs, await runLocalCommand(ctx.inputs.create, ctx.inputs, {}));
        return { id: uniqueHex(ctx.name), outputs };
    },
    async update(ctx) {
        const previous = { stdout: ctx.oldOutputs?.stdout ?? "", stderr: ctx.oldOutputs?.stderr ?? "" };
        const outputs: Record<string, any> = { ...ctx.inputs, ...previous };
        const command = typeof ctx.inputs.update === "string" ? ctx.inputs.update : ctx.inputs.create;
        if (typeof command === "string") Object.assign(outputs, await runLocalCommand(command, ctx.inputs, previous));
        return { outputs };
    },
    async delete(ctx) {
        const props = ctx.oldOutputs ?? ctx.inputs;
        if (typeof props.delete === "string") await runLocalCommand(props.delete, props, { stdout: props.stdout, stderr: props.stderr });
    },
};

// ---------------------------------------------------------------------------------------------
// The monitor
// ---------------------------------------------------------------------------------------------

function cancelled(message: string): any {
    const err: any = new Error(message);
    err.code = GRPC_CANCELLED; // the SDK treats CANCELLED as "monitor terminating": no unhandled rejections
    err.details = message;
    return err;
}

class SimMonitor extends mocksModule.MockMonitor {
    constructor(private readonly run: RunContext) {
        super({
            newResource: () => {
                throw new Error("SimMonitor does not use newResource");
            },
            call: async (args: any) => {
                if (!run.sim.options.invoke) throw new Error(`unknown function ${args.token} (pass \`invoke\` to the DeploymentSimulator)`);
                return run.sim.options.invoke(args);
            },
        });
    }

    async registerResource(req: any, callback: (err: any, resp?: any) => void) {
        if (this.run.failure) {
            callback(cancelled("the deployment failed")); // quietly refused, as a terminating engine does
            return;
        }
        if (this.run.closed) {
            // loud: an unhandled rejection in the test
            callback(new Error(`${req.getType()} "${req.getName()}" was registered after DeploymentSimulator.run() returned; create resources while the program runs`));
            return;
        }
        try {
            const result = await this.run.register(req);
            this.resources.set(result.urn, { urn: result.urn, id: result.id || null, state: result.object.toJavaScript() });
            const resp = new resproto.RegisterResourceResponse();
            resp.setUrn(result.urn);
            resp.setId(result.id ?? "");
            resp.setObject(result.object);
            callback(null, resp);
        } catch (e) {
            this.run.fail(e);
            callback(cancelled(errorText(e)));
        }
    }

    async readResource(req: any, callback: (err: any, resp?: any) => void) {
        try {
            const result = this.run.read(req);
            const resp = new resproto.ReadResourceResponse();
            resp.setUrn(result.urn);
            resp.setProperties(result.object);
            callback(null, resp);
        } catch (e) {
            this.run.fail(e);
            callback(cancelled(errorText(e)));
        }
    }

    registerResourceOutputs(req: any, callback: (err: any, resp?: any) => void) {
        try {
            this.run.registerOutputs(req.getUrn(), req.getOutputs());
            callback(null, {});
        } catch (e) {
            this.run.fail(e);
            callback(cancelled(errorText(e)));
        }
    }

    supportsFeature(req: any, callback: (err: any, resp?: any) => void) {
        const id = req.getId();
        // like MockMonitor: everything but outputValues (so inputs arrive as plain values)
        callback(null, { getHassupport: () => id !== "outputValues" });
    }

    signalAndWaitForShutdown(_req: any, callback: (err: any, resp?: any) => void) {
        callback(null, {});
    }
}

interface Registered {
    urn: string;
    id?: string;
    object: any;
}

interface PendingDelete {
    resource: SimResource;
    seq: number;
}

/** One run (one `pulumi up` or `pulumi preview`). */
class RunContext {
    failure?: { urn?: string; error: unknown; program: boolean };
    /** Set when run() returns: late registrations are refused instead of touching the state. */
    closed = false;
    readonly steps: Step[] = [];
    readonly registered = new Map<string, SimResource>();
    readonly ops = new Map<string, StepOp>();
    readonly pendingDeletes: PendingDelete[] = [];
    stackOutputs: Record<string, any> = {};
    stackSecretOutputs: string[] = [];
    private seq = 0;
    private failed!: () => void;
    readonly failedSignal = new Promise<void>((resolve) => (this.failed = resolve));

    constructor(
        readonly sim: DeploymentSimulator,
        readonly preview: boolean,
        readonly project: string,
        readonly stack: string,
    ) {}

    now(): Date {
        const o = process.env[CLOCK_ENV];
        return o ? new Date(o) : new Date();
    }

    fail(e: unknown, program = false) {
        if (!this.failure) {
            this.failure = { urn: (e as any)?.urn, error: e, program };
            this.failed();
        }
    }

    newUrn(parent: string, type: string, name: string): string {
        let qualified = type;
        if (parent) {
            const parentQualified = parent.split("::")[2];
            if (parentQualified !== ROOT_STACK_TYPE) qualified = `${parentQualified}$${type}`;
        }
        return `urn:pulumi:${this.stack}::${this.project}::${qualified}::${name}`;
    }

    private wrap(urn: string, e: unknown): SimulationError {
        if (e instanceof SimulationError) return e;
        const err = new SimulationError(`${urn}: ${errorText(e)}`, urn, e);
        return err;
    }

    async register(req: any): Promise<Registered> {
        const type: string = req.getType();
        const name: string = req.getName();
        const parent: string = req.getParent();
        const custom: boolean = req.getCustom();
        const urn = this.newUrn(parent, type, name);
        try {
            if (req.getRemote()) throw new Error("remote (multi-language) components are not supported by the simulator");
            if (this.registered.has(urn)) throw new Error(`Duplicate resource URN '${urn}'; try giving it a unique name`);
            const { values: inputs, secretKeys } = decodeProps(req.getObject());
            const propertyDependencies: Record<string, string[]> = {};
            req.getPropertydependenciesMap().forEach((deps: any, key: string) => (propertyDependencies[key] = deps.getUrnsList()));
            const options: SimResourceOptions = {
                replaceWith: req.getReplaceWithList(),
                replacementTrigger: req.hasReplacementTrigger() ? decodeWire(req.getReplacementTrigger().toJavaScript()).value : undefined,
                additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
                deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
                dependencies: req.getDependenciesList(),
                propertyDependencies,
                protect: req.hasProtect() ? req.getProtect() : undefined,
                ignoreChanges: req.getIgnorechangesList(),
                replaceOnChanges: req.getReplaceonchangesList(),
                retainOnDelete: req.hasRetainondelete() ? req.getRetainondelete() : undefined,
                deletedWith: req.getDeletedwith() || undefined,
                provider: req.getProvider() || undefined,
            };
            const resource: SimResource = { urn, type, name, parent: parent || undefined, custom, inputs, outputs: {}, secretOutputs: [], secretInputs: [...secretKeys], options };
            this.registered.set(urn, resource);
            this.seq++;
            if (!custom) return this.registerComponent(resource);
            return await this.registerCustom(resource, new Set(secretKeys));
        } catch (e) {
            throw this.wrap(urn, e);
        }
    }

    private registerComponent(r: SimResource): Registered {
        const old = this.sim.state.get(r.urn);
        r.outputs = old ? clone(old.outputs) : {};
        r.secretOutputs = old ? [...old.secretOutputs] : [];
        this.record(r, old ? "same" : "create", []);
        if (!this.preview) this.sim.commit(r, this.seq);
        return { urn: r.urn, object: structproto.Struct.fromJavaScript({}) };
    }

    private record(r: SimResource, op: StepOp, changedKeys: string[], reason?: string) {
        this.ops.set(r.urn, op);
        this.steps.push({ urn: r.urn, type: r.type, name: r.name, op, changedKeys, reason, custom: r.custom });
    }

    registerOutputs(urn: string, struct: any) {
        const { values, secretKeys } = decodeProps(struct);
        const r = this.registered.get(urn);
        if (!r) throw new Error(`unknown resource ${urn}`);
        r.outputs = values;
        r.secretOutputs = [...secretKeys];
        if (r.type === ROOT_STACK_TYPE) {
            this.stackOutputs = values;
            this.stackSecretOutputs = [...secretKeys];
        }
        if (!this.preview) this.sim.commit(r, undefined);
    }

    read(req: any): Registered {
        const type: string = req.getType();
        const id: string = req.getId();
        const urn = this.newUrn(req.getParent(), type, req.getName());
        const found = [...this.sim.state.values()].find((r) => r.type === type && r.id === id);
        if (!found) throw new SimulationError(`${urn}: resource '${id}' of type ${type} does not exist`, urn);
        return { urn, id, object: encodeOutputs(found.outputs, found.secretOutputs) };
    }

    private async registerCustom(r: SimResource, secretInputs: Set<string>): Promise<Registered> {
        const old = this.sim.state.get(r.urn);
        const executor = this.sim.options.executors?.[r.type];
        const now = this.now();
        let news = r.inputs;

        // ignoreChanges: the engine keeps the old input values for ignored paths
        if (old) {
            news = clone(news);
            for (const p of r.options.ignoreChanges ?? []) {
                const segs = parsePropertyPath(p);
                setPath(news, segs, clone(getPath(old.inputs, segs)));
            }
        }

        // Check
        let provider: any;
        if (isDynamic(r.type)) {
            const providerText = news.__provider === UNKNOWN && old ? old.inputs.__provider : news.__provider;
            if (typeof providerText !== "string") throw new Error("dynamic resource without a serialized __provider");
            provider = loadDynamicProvider(providerText);
            if (provider.check) {
                const result = await provider.check(clone(old?.inputs ?? {}), clone(news));
                if (result?.failures?.length) {
                    throw new Error(`check failed: ${result.failures.map((f: any) => `${f.property}: ${f.reason}`).join("; ")}`);
                }
                if (result?.inputs) news = result.inputs;
            }
            news = { ...news, __provider: r.inputs.__provider };
        } else if (isTlsType(r.type)) {
            tlsValidate(r.type, news);
        }
        r.inputs = news;

        // Decide
        let op: StepOp;
        let changedKeys: string[] = [];
        let reason: string | undefined;
        let dbr = r.options.deleteBeforeReplace;
        if (!old) {
            op = "create";
        } else {
            changedKeys = changedTopKeys(old.inputs, news);
            const decided = await this.decide(r, old, news, changedKeys, provider, executor, now, (v) => (dbr = dbr ?? v));
            ({ op, reason } = decided);
            if (decided.changedKeys) changedKeys = decided.changedKeys;
            if (op !== "replace" && changedKeys.length > 0 && (r.options.replaceOnChanges ?? []).length > 0) {
                const paths = changedKeys.flatMap((k) => changedPaths(old.inputs[k], news[k], [k]));
                const hit = (r.options.replaceOnChanges ?? []).find((p) => paths.some((c) => pathMatches(parsePropertyPath(p), c)));
                if (hit) {
                    op = "replace";
                    reason = `replaceOnChanges: ${hit} changed`;
                }
            }
            // As the engine: a trigger fires only against a stored one (adding a trigger replaces nothing).
            const stored = old.options.replacementTrigger;
            if (op !== "replace" && stored !== undefined && stored !== null && r.options.replacementTrigger !== undefined && (containsUnknown(r.options.replacementTrigger) || !deepEqual(stored, r.options.replacementTrigger))) {
                op = "replace";
                reason = `replacementTrigger changed: ${stableJson(old.options.replacementTrigger)} -> ${stableJson(r.options.replacementTrigger)}`;
            }
            if (op !== "replace") {
                const trigger = r.options.replaceWith.find((u) => this.ops.get(u) === "replace");
                if (trigger) {
                    op = "replace";
                    reason = `replaceWith: ${trigger} is replaced`;
                }
            }
            if (op === "replace" && old.options.protect) {
                throw new Error(`unable to replace resource "${r.urn}" as it is currently marked for protection. To unprotect the resource, remove the \`protect\` flag from the resource in your Pulumi program and run \`pulumi up\``);
            }
        }
        if (dbr !== undefined) r.options.deleteBeforeReplace = dbr;

        // Execute (or plan)
        let id: string | undefined;
        let outputs: Record<string, any>;
        if (op === "same") {
            id = old!.id;
            outputs = clone(old!.outputs);
        } else if (this.preview) {
            id = op === "update" ? old!.id : "";
            outputs = this.planOutputs(r, op, old, news);
            // unknown outputs named in additionalSecretOutputs are secret unknowns, as in the engine's plan
            for (const k of r.options.additionalSecretOutputs) if (!(k in outputs)) outputs[k] = UNKNOWN;
        } else {
            if (op === "replace" && dbr) await this.executeDelete(old!, now);
            if (op === "update") {
                id = old!.id;
                outputs = await this.executeUpdate(r, old!, news, provider, executor, now);
            } else {
                ({ id, outputs } = await this.executeCreate(r, news, provider, executor, now));
            }
            if (op === "replace" && !dbr) this.pendingDeletes.push({ resource: old!, seq: this.sim.seqOf(old!.urn) });
        }

        // Secrets: additionalSecretOutputs, same-named secret inputs (command: every output when any input is secret)
        const secret = new Set<string>();
        for (const k of Object.keys(outputs)) {
            if (r.options.additionalSecretOutputs.includes(k)) secret.add(k);
            if (secretInputs.has(k)) secret.add(k);
            if (isCommand(r.type) && secretInputs.size > 0) secret.add(k);
        }
        if (op === "same") for (const k of old!.secretOutputs) if (k in outputs) secret.add(k);
        r.id = id;
        r.outputs = outputs;
        r.secretOutputs = [...secret].sort();
        this.record(r, op, changedKeys, reason);
        if (!this.preview) this.sim.commit(r, this.seq);
        return { urn: r.urn, id, object: encodeOutputs(outputs, secret) };
    }

    private async decide(
        r: SimResource,
        old: SimResource,
        news: Record<string, any>,
        changedKeys: string[],
        provider: any,
        executor: Executor | undefined,
        now: Date,
        setDbr: (v: boolean) => void,
    ): Promise<{ op: StepOp; reason?: string; changedKeys?: string[] }> {
        if (executor?.plan) {
            const planned = executor.plan({ urn: r.urn, type: r.type, oldInputs: clone(old.inputs), oldOutputs: clone(old.outputs), inputs: clone(news), changedKeys });
            if (planned) return planned;
        }
        if (isDynamic(r.type)) {
            if (provider.diff) {
                const diff = (await provider.diff(old.id, clone(old.outputs), clone(news))) ?? {};
                if (diff.deleteBeforeReplace) setDbr(true);
                if (Array.isArray(diff.replaces) && diff.replaces.length > 0) return { op: "replace", reason: `provider diff replaces: ${diff.replaces.join(", ")}` };
                if (diff.changes === true) return { op: "update", reason: "provider diff reports changes" };
                if (diff.changes === false) return { op: "same" };
            }
            // DIFF_UNKNOWN: the engine diffs old and new inputs itself
            return changedKeys.length > 0 ? { op: "update", reason: `inputs changed: ${changedKeys.join(", ")}` } : { op: "same" };
        }
        if (isTlsType(r.type)) {
            const plan = tlsPlan(r.type, old.inputs, old.outputs, news, now);
            return { op: plan.op, reason: plan.reason, changedKeys: plan.changedKeys };
        }
        if (changedKeys.length === 0) return { op: "same" };
        if (r.type === "docker:index/container:Container" && this.sim.options.dockerContainerReplaceOnChange !== false) {
            return { op: "replace", reason: `docker Container arguments are ForceNew: ${changedKeys.join(", ")}` };
        }
        if (r.type === "docker:index/remoteImage:RemoteImage") {
            const forceNew = changedKeys.filter((k) => ["name", "pullTriggers", "platform", "build", "triggers"].includes(k));
            if (forceNew.length > 0) return { op: "replace", reason: `docker RemoteImage ForceNew arguments changed: ${forceNew.join(", ")}` };
        }
        return { op: "update", reason: `inputs changed: ${changedKeys.join(", ")}` };
    }

    /** Preview outputs: the engine returns the (checked) inputs; provider-computed outputs stay unknown. */
    private planOutputs(r: SimResource, op: StepOp, old: SimResource | undefined, news: Record<string, any>): Record<string, any> {
        if (isTlsType(r.type) && op === "update" && old) return tlsUpdate(r.type, old.outputs, news);
        if (isTlsType(r.type)) {
            // the plan knows the inputs (with defaults); computed attributes are unknown
            const planned = { ...news };
            for (const k of Object.keys(planned)) if (planned[k] === undefined || planned[k] === null) delete planned[k];
            return planned;
        }
        return clone(news);
    }

    private async executeCreate(r: SimResource, news: Record<string, any>, provider: any, executor: Executor | undefined, now: Date): Promise<{ id: string; outputs: Record<string, any> }> {
        const ctx: ExecutorContext = { urn: r.urn, type: r.type, name: r.name, inputs: clone(news), now };
        if (executor?.create) {
            const res = await executor.create(ctx);
            return { id: res.id ?? uniqueHex(r.name), outputs: res.outputs ?? clone(news) };
        }
        if (isDynamic(r.type)) {
            if (!provider.create) throw new Error("dynamic provider has no create method");
            const result = await provider.create(clone(news));
            if (!result || typeof result.id !== "string" || result.id === "") throw new Error("provider did not return an ID from Create");
            return { id: result.id, outputs: resultIncludingProvider(result.outs, news) };
        }
        if (isTlsType(r.type)) {
            const { id, outputs } = await tlsCreate(r.type, news, now);
            return { id, outputs };
        }
        if (isCommand(r.type)) return { id: uniqueHex(r.name), outputs: { ...clone(news), stdout: "", stderr: "" } };
        if (r.type.startsWith("pulumi:providers:")) return { id: crypto.randomUUID(), outputs: clone(news) };
        return { id: uniqueHex(`${r.name}-`), outputs: clone(news) };
    }

    private async executeUpdate(r: SimResource, old: SimResource, news: Record<string, any>, provider: any, executor: Executor | undefined, now: Date): Promise<Record<string, any>> {
        const ctx: ExecutorContext = { urn: r.urn, type: r.type, name: r.name, id: old.id, inputs: clone(news), oldInputs: clone(old.inputs), oldOutputs: clone(old.outputs), now };
        if (executor?.update) return (await executor.update(ctx)).outputs ?? clone(news);
        if (isDynamic(r.type)) {
            const result = provider.update ? (await provider.update(old.id, clone(old.outputs), clone(news))) || {} : {};
            return resultIncludingProvider(result.outs, news);
        }
        if (isTlsType(r.type)) return tlsUpdate(r.type, old.outputs, news);
        if (isCommand(r.type)) return { ...clone(news), stdout: old.outputs.stdout ?? "", stderr: old.outputs.stderr ?? "" };
        return { ...clone(old.outputs), ...clone(news) };
    }

    async executeDelete(old: SimResource, now: Date): Promise<void> {
        if (!old.custom || old.options.retainOnDelete) return;
        try {
            const executor = this.sim.options.executors?.[old.type];
            const ctx: ExecutorContext = { urn: old.urn, type: old.type, name: old.name, id: old.id, inputs: clone(old.inputs), oldInputs: clone(old.inputs), oldOutputs: clone(old.outputs), now };
            if (executor?.delete) {
                await executor.delete(ctx);
                return;
            }
            if (isDynamic(old.type)) {
                const text = old.outputs.__provider ?? old.inputs.__provider;
                const provider = loadDynamicProvider(text);
                if (provider.delete) await provider.delete(old.id, clone(old.outputs));
            }
        } catch (e) {
            throw this.wrap(old.urn, e);
        }
    }
}

function orderForDeletion(items: PendingDelete[]): PendingDelete[] {
    // a resource is deleted before anything it depends on (dependencies, parent, deletedWith); ties: later first
    const remaining = [...items];
    const out: PendingDelete[] = [];
    const dependsOn = (a: SimResource, b: SimResource) => a.options.dependencies.includes(b.urn) || a.parent === b.urn || Object.values(a.options.propertyDependencies).some((d) => d.includes(b.urn));
    while (remaining.length > 0) {
        const free = remaining.filter((x) => !remaining.some((y) => y !== x && y.resource.urn !== x.resource.urn && dependsOn(y.resource, x.resource)));
        const pick = (free.length > 0 ? free : remaining).sort((a, b) => b.seq - a.seq)[0];
        out.push(pick);
        remaining.splice(remaining.indexOf(pick), 1);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------

/**
 * Runs Pulumi programs against a persistent simulated state.
 *
 * Decisions for a custom resource with prior state (after `ignoreChanges`):
 * - `pulumi-nodejs:dynamic*`: the real provider's `check(oldInputs, news)` then `diff(id, oldOutputs, news)`:
 *   `replaces` non-empty -> replace, `changes: true` -> update, `changes: false` -> same; no diff (or
 *   `changes` undefined) -> the engine's own diff of old and new inputs (update when any differ).
 * - `tls:*`: every input is ForceNew except `earlyRenewalHours` and `maxPathLength` (in-place update,
 *   certificate not re-issued); write-only `*Wo` inputs are not diffed; a certificate whose
 *   validityEndTime - earlyRenewalHours has passed is replaced (the provider's ModifyPlan).
 * - `docker:index/container:Container`: any change replaces (configurable); RemoteImage: `name`,
 *   `pullTriggers`, `platform`, `build` replace; other types (command, docker, ...): any change updates.
 * - then the options: `replaceOnChanges` paths (the command SDK sends `triggers[*]`, so a trigger change
 *   replaces a Command even when it has an `update` script), a `replacementTrigger` that differs from the
 *   stored one (or is unknown), a `replaceWith` URN replaced earlier in this run -> replace.
 * An executor's `plan` can override the type rule.
 */
export class DeploymentSimulator {
    /** Committed state (URN -> resource), as `pulumi stack export` would show it. */
    readonly state = new Map<string, SimResource>();
    /** Originals of create-before-delete replacements whose update failed before deleting them. */
    private readonly leftoverDeletes: PendingDelete[] = [];
    private readonly seqs = new Map<string, number>();
    private seqCounter = 0;
    private running = false;

    constructor(readonly options: SimulatorOptions = {}) {}

    /** @internal */
    commit(r: SimResource, seq: number | undefined) {
        this.state.set(r.urn, clone({ ...r, options: { ...r.options } }));
        if (seq !== undefined) this.seqs.set(r.urn, ++this.seqCounter);
    }

    /** @internal */
    seqOf(urn: string): number {
        return this.seqs.get(urn) ?? 0;
    }

    /** Runs `program` like `pulumi up` (or `pulumi preview` with `preview: true`). */
    async run(program: () => unknown | Promise<unknown>, opts: RunOptions = {}): Promise<RunResult> {
        return this.withRuntime(opts, async (ctx) => {
            let programError: { error: unknown } | undefined;
            const programDone = (async () => {
                // The program's own exception is caught here (not in the Stack), so it surfaces as this
                // run's error instead of as an unhandled rejection inside the SDK.
                await runtimeStack.runInPulumiStack(async () => {
                    try {
                        return await program();
                    } catch (e) {
                        programError = { error: e };
                        return undefined;
                    }
                });
                await settings.waitForRPCs();
                // unhandled rejections (e.g. a throw inside an apply) are reported before the next macrotask
                await new Promise((r) => setImmediate(r));
            })();
            programDone.catch(() => undefined);
            await Promise.race([programDone, ctx.failedSignal]);
            if (programError && !ctx.failure) throw programError.error;
            if (ctx.failure) {
                // let in-flight registrations settle (they are cancelled), then fail loudly
                await Promise.race([programDone.catch(() => undefined), delay(50)]);
                throw this.failureError(ctx);
            }
            // deletions: resources that were not registered, and originals of create-before-delete replacements
            const removed = [...this.state.values()].filter((r) => !ctx.registered.has(r.urn) && r.type !== ROOT_STACK_TYPE);
            for (const r of orderForDeletion(removed.map((resource) => ({ resource, seq: this.seqOf(resource.urn) })))) {
                ctx.steps.push({ urn: r.resource.urn, type: r.resource.type, name: r.resource.name, op: "delete", changedKeys: [], custom: r.resource.custom });
            }
            if (!ctx.preview) {
                for (const r of removed) {
                    if (r.options.protect) {
                        throw this.failureError(ctx, new SimulationError(`${r.urn}: unable to delete resource "${r.urn}" as it is currently marked for protection`, r.urn));
                    }
                }
                for (const d of this.leftoverDeletes) {
                    ctx.steps.push({ urn: d.resource.urn, type: d.resource.type, name: d.resource.name, op: "delete", changedKeys: [], custom: d.resource.custom, reason: "replaced in an earlier update that failed before deleting it" });
                }
                ctx.pendingDeletes.push(...this.leftoverDeletes.splice(0));
                const all = orderForDeletion([...ctx.pendingDeletes, ...removed.map((resource) => ({ resource, seq: this.seqOf(resource.urn) }))]);
                for (const d of all) {
                    try {
                        await ctx.executeDelete(d.resource, ctx.now());
                    } catch (e) {
                        throw this.failureError(ctx, e);
                    }
                    const pending = ctx.pendingDeletes.indexOf(d);
                    if (pending >= 0) ctx.pendingDeletes.splice(pending, 1);
                    if (!ctx.registered.has(d.resource.urn)) {
                        this.state.delete(d.resource.urn);
                        this.seqs.delete(d.resource.urn);
                    }
                }
            }
            return ctx;
        });
    }

    /** Deletes everything in the state (`pulumi destroy`), in reverse dependency order. */
    async destroy(opts: Pick<RunOptions, "preview" | "now" | "stack" | "project"> = {}): Promise<RunResult> {
        return this.withRuntime(opts, async (ctx) => {
            const leftovers = ctx.preview ? [] : this.leftoverDeletes.splice(0);
            const all = orderForDeletion([...leftovers, ...[...this.state.values()].map((resource) => ({ resource, seq: this.seqOf(resource.urn) }))]);
            for (const d of all) {
                if (d.resource.options.protect && !ctx.preview) {
                    throw this.failureError(ctx, new SimulationError(`${d.resource.urn}: unable to delete resource "${d.resource.urn}" as it is currently marked for protection`, d.resource.urn));
                }
                ctx.steps.push({ urn: d.resource.urn, type: d.resource.type, name: d.resource.name, op: "delete", changedKeys: [], custom: d.resource.custom });
                if (!ctx.preview) {
                    try {
                        await ctx.executeDelete(d.resource, ctx.now());
                    } catch (e) {
                        throw this.failureError(ctx, e);
                    }
                    if (!leftovers.includes(d)) {
                        this.state.delete(d.resource.urn);
                        this.seqs.delete(d.resource.urn);
                    }
                }
            }
            return ctx;
        });
    }

    private failureError(ctx: RunContext, e: unknown = ctx.failure?.error): unknown {
        if (ctx.failure?.program && e === ctx.failure.error) return e; // the program's own error, unchanged
        const err = e instanceof SimulationError ? e : new SimulationError(errorText(e), undefined, e);
        err.steps = [...ctx.steps];
        return err;
    }

    private async withRuntime(opts: RunOptions, body: (ctx: RunContext) => Promise<RunContext>): Promise<RunResult> {
        if (this.running) throw new Error("DeploymentSimulator: a run is already in progress");
        this.running = true;
        const project = opts.project ?? this.options.project ?? "project";
        const stack = opts.stack ?? this.options.stack ?? "stack";
        const preview = opts.preview === true;
        const ctx = new RunContext(this, preview, project, stack);

        // clock: a simulated time is both the decision clock (MTLS_NGINX_CLOCK) and the wall clock
        // (Date.now), which the providers stamp with, as the real time passing would be in the engine.
        const clockBefore = [process.env[CLOCK_ENV], realProcess.env[CLOCK_ENV]] as const;
        let restoreWallClock = () => {};
        if (opts.now !== undefined) {
            const at = opts.now instanceof Date ? opts.now : new Date(opts.now);
            process.env[CLOCK_ENV] = at.toISOString();
            realProcess.env[CLOCK_ENV] = at.toISOString();
            restoreWallClock = moveWallClock(at);
        }
        // config
        const store = runtimeState.getStore();
        const configBefore = { ...store.config };
        const config: Record<string, string> = {};
        for (const [k, v] of Object.entries(opts.config ?? {})) config[k.includes(":") ? k : `${project}:${k}`] = v;
        const secretKeys = (opts.secretConfig ?? []).map((k) => (k.includes(":") ? k : `${project}:${k}`));

        // An unhandled rejection in the program (a throw inside an `apply`, an input that rejects) fails the
        // run, as it fails `pulumi up`; jest's own handler is set aside meanwhile so it does not fail the test.
        const jestHandlers = realProcess.listeners("unhandledRejection");
        const onUnhandled = (reason: unknown) => {
            if ((reason as any)?.code === GRPC_CANCELLED) return; // registrations refused after a failure
            ctx.fail(reason, true);
        };
        realProcess.removeAllListeners("unhandledRejection");
        realProcess.on("unhandledRejection", onUnhandled);

        try {
            settings.setMockOptions(new SimMonitor(ctx), project, stack, preview, this.options.organization ?? "organization");
            const s = runtimeState.getStore();
            s.supportsSecrets = true;
            s.supportsResourceReferences = true;
            s.supportsOutputValues = false;
            s.supportsDeletedWith = true;
            s.supportsReplaceWith = true;
            s.supportsAliasSpecs = true;
            s.supportsTransforms = false;
            s.supportsParameterization = true;
            s.supportsResourceHooks = true;
            s.supportsErrorHooks = true;
            s.terminated = false;
            runtimeConfig.setAllConfig(config, secretKeys);
            await body(ctx);
            return this.result(ctx);
        } finally {
            if (!preview) this.leftoverDeletes.push(...ctx.pendingDeletes);
            await new Promise((r) => setImmediate(r));
            realProcess.removeListener("unhandledRejection", onUnhandled);
            for (const h of jestHandlers) realProcess.on("unhandledRejection", h as (...args: any[]) => void);
            ctx.closed = true;
            restoreEnv(process.env, clockBefore[0]);
            restoreEnv(realProcess.env, clockBefore[1]);
            restoreWallClock();
            for (const k of Object.keys(store.config)) delete store.config[k];
            Object.assign(store.config, configBefore);
            this.running = false;
        }
    }

    private result(ctx: RunContext): RunResult {
        const resources = new Map<string, SimResource>();
        for (const [urn, r] of ctx.registered) resources.set(urn, clone(r));
        const steps = [...ctx.steps];
        const byName = <T extends { urn: string; name: string }>(items: T[], key: string): T | undefined => {
            const exact = items.find((i) => i.urn === key);
            if (exact) return exact;
            const named = items.filter((i) => i.name === key);
            if (named.length > 1) throw new Error(`"${key}" names ${named.length} resources: ${named.map((n) => n.urn).join(", ")}`);
            return named[0];
        };
        return {
            preview: ctx.preview,
            steps,
            outputs: ctx.stackOutputs,
            secretOutputs: ctx.stackSecretOutputs,
            resources,
            stepFor: (key) => byName(steps, key),
            resource: (key) => byName([...resources.values()], key),
        };
    }
}

function restoreEnv(env: NodeJS.ProcessEnv, value: string | undefined) {
    if (value === undefined) delete env[CLOCK_ENV];
    else env[CLOCK_ENV] = value;
}

/** The unqualified type of a URN (`tls:index/privateKey:PrivateKey` for a child of a component). */
export { typeOf as urnType };
