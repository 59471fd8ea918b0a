/**
 * Registration time under mocks: MtlsNginx with 10, 100 and 1,000 clients beside the bare SDK cost of
 * registering the same number of resources, in the same run (target: components add <= 20% over the
 * bare SDK cost, and time grows linearly with the number of clients).
 *
 * Every measurement runs in its own child process (plain node + ts-node, as `pulumi up` runs a
 * TypeScript program; not jest), which:
 *   1. loads the modules, installs a trivial `pulumi.runtime.setMocks` (echoes the inputs, adds fake
 *      outputs: one real pre-made certificate PEM for every certificate, so `certificateFacts` parses),
 *   2. warms up with a small run of every kind (JIT, lazily loaded SDK modules, the one-time
 *      serialization of the three dynamic providers, which the SDK caches per provider object),
 *   3. installs fresh mocks, collects garbage, then times ONE program: construction + `waitForRPCs`
 *      (every RegisterResource and RegisterResourceOutputs answered). CPU = process.cpuUsage (user+sys,
 *      all threads of the child), robust to the other engineers' load; wall time is printed too.
 *
 * Kinds:
 * - `components`: `new MtlsNginx(...)` (CA with intermediate, issued server certificate, n clients with
 *   PKCS#12 bundles, revocation on, local dedicated site): 19 + 6n registrations.
 * - `bare`: the same NUMBER of `tls.PrivateKey` registrations, flat, constant inputs (the brief's baseline).
 * - `same-mix`: the same resource TYPES in the same counts (tls keys/CSRs/certificates, the real dynamic
 *   resources with their serialized providers, plain ComponentResources, the Command), flat, constant
 *   inputs, no wiring: what the SDK charges for exactly these resources, so components - same-mix is
 *   what our component code adds (wiring, applies, validation) and same-mix - bare what the resource
 *   types cost (output properties, `__provider` text).
 * - `components, provider text stubbed` (middle size only): `serializeFunction` returns a 20-character
 *   provider, to measure what carrying the real `__provider` text (5-44 kB per dynamic resource) costs.
 * - a CPU profile (inspector) of the components and bare runs at the middle size, by category.
 *
 *   npx ts-node bench/registration.bench.ts            (all sizes; ~15 min of CPU)
 *   REGISTRATION_SIZES=10,100 npx ts-node bench/registration.bench.ts
 *   REGISTRATION_PROFILE_DIR=/tmp/prof ...   also writes the raw .cpuprofile files of the profiled runs
 */
import { BenchSection, runStandalone } from "./section";
import { spawn } from "child_process";
import * as os from "os";
import * as path from "path";

const CHILD_FLAG = "--registration-child";
const PROJECT_ROOT = path.resolve(__dirname, "..");
const SIZES = (process.env.REGISTRATION_SIZES ?? "10,100,1000").split(",").map((s) => Number(s.trim())).filter((n) => n > 0);
/** Repetitions per size (each a fresh child per kind, kinds interleaved). */
const REPS = (n: number) => (n <= 10 ? 5 : n <= 100 ? 3 : 2);
/** A child that takes longer than this is killed (bounded run). */
const CHILD_TIMEOUT_MS = 20 * 60_000;
const TARGET_OVERHEAD = 0.2;

type Kind = "components" | "bare" | "same-mix" | "components-stub";

interface ChildResult {
    kind: Kind;
    clients: number;
    registrations: number;
    counts: Record<string, number>;
    constructMs: number;
    wallMs: number;
    cpuMs: number;
    warmupMs: number;
    serializeCalls: number;
    providerBytes: number;
    heapMb: number;
    maxRssMb: number;
    profile?: Record<string, number>;
    counters?: Record<string, number>;
    serialization?: { provider: string; cpuMs: number; wallMs: number; chars: number }[];
}

const T = {
    mtls: "mtls-nginx:index:MtlsNginx",
    ca: "mtls-nginx:pki:CertificateAuthority",
    server: "mtls-nginx:pki:ServerCertificate",
    client: "mtls-nginx:pki:ClientCertificate",
    revocation: "mtls-nginx:revocation:CertificateRevocation",
    site: "mtls-nginx:nginx:Site",
    renewal: "pulumi-nodejs:dynamic/renewal:RenewalSchedule",
    pkcs12: "pulumi-nodejs:dynamic/pki:Pkcs12Bundle",
    crl: "pulumi-nodejs:dynamic/revocation:RevocationList",
    key: "tls:index/privateKey:PrivateKey",
    selfSigned: "tls:index/selfSignedCert:SelfSignedCert",
    csr: "tls:index/certRequest:CertRequest",
    signed: "tls:index/locallySignedCert:LocallySignedCert",
    command: "command:local:Command",
};

/** Registrations of MtlsNginx with n clients as configured here (checked against what the mock saw). */
export function expectedCounts(n: number): Record<string, number> {
    return {
        [T.mtls]: 1,
        [T.ca]: 1,
        [T.server]: 1,
        [T.client]: n,
        [T.revocation]: 1,
        [T.site]: 1,
        // root, intermediate, server, one per client
        [T.renewal]: 3 + n,
        [T.key]: 3 + n,
        [T.selfSigned]: 1,
        [T.csr]: 2 + n,
        [T.signed]: 2 + n,
        [T.pkcs12]: n,
        [T.crl]: 2,
        [T.command]: 1,
    };
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------------
// Child side: everything heavy is required lazily so the runner process never loads the SDK.
// ---------------------------------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-var-requires */
interface ChildFlags {
    /** CPU profile of the timed run, plus deterministic counts (SDK debug stacks, applies). */
    profile: boolean;
    /** Replace the SDK's debuggablePromise (a `new Error().stack` per promise) with a pass-through. */
    noStack: boolean;
}

async function child(kind: Kind | "serialize", clients: number, flags: ChildFlags): Promise<ChildResult> {
    const profile = flags.profile;
    const { performance } = require("perf_hooks") as typeof import("perf_hooks");
    const closure = require("@pulumi/pulumi/runtime/closure/serializeClosure");

    if (kind === "serialize") {
        // Cold: the first serialization of each provider in a fresh process (the SDK caches the result
        // per provider object, so a program pays this once per provider, not per resource).
        const { renewalScheduleProvider } = require("../components/renewal/provider");
        const { pkcs12Provider } = require("../components/pki/pkcs12/provider");
        const { revocationListProvider } = require("../components/revocation/provider");
        const serialization: ChildResult["serialization"] = [];
        for (const [name, provider] of [
            ["RenewalSchedule", renewalScheduleProvider],
            ["Pkcs12Bundle", pkcs12Provider],
            ["RevocationList", revocationListProvider],
        ] as const) {
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            const result = await closure.serializeFunction(() => provider, { allowSecrets: true });
            const c = process.cpuUsage(c0);
            serialization.push({ provider: name, cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - t0, chars: result.text.length });
        }
        return { kind: "components", clients: 0, registrations: 0, counts: {}, constructMs: 0, wallMs: 0, cpuMs: 0, warmupMs: 0, serializeCalls: 0, providerBytes: 0, heapMb: 0, maxRssMb: 0, serialization };
    }

    const original = closure.serializeFunction;
    let serializeCalls = 0;
    // The stub must be in place before the warm-up: the SDK caches the first serialization per provider.
    const stub = kind === "components-stub";
    closure.serializeFunction = (...args: unknown[]) => {
        serializeCalls++;
        return stub ? Promise.resolve({ text: "exports.handler = {};", containsSecrets: false }) : original(...args);
    };

    // Counting (profiled runs only) and the no-debug-stack variant wrap the SDK's debuggablePromise, which
    // the SDK calls through its module object (so a replaced export is what it calls).
    const debuggable = require("@pulumi/pulumi/runtime/debuggable");
    const originalDebuggable = debuggable.debuggablePromise;
    const counters: Record<string, number> = { stackCaptures: 0, serializedOutputs: 0, applies: 0 };
    let counting = false;
    debuggable.debuggablePromise = (p: Promise<unknown>, ctx: string) => {
        if (counting) {
            counters.stackCaptures++;
            if (String(ctx).startsWith("serializeProperty.await")) counters.serializedOutputs++;
        }
        return flags.noStack ? p : originalDebuggable(p, ctx);
    };
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    if (profile) {
        const outputProto = Object.getPrototypeOf(pulumi.output(1));
        const originalApply = outputProto.apply;
        outputProto.apply = function (this: unknown, ...args: unknown[]) {
            if (counting) counters.applies++;
            return originalApply.apply(this, args);
        };
    }
    const tls = require("@pulumi/tls") as typeof import("@pulumi/tls");
    const command = require("@pulumi/command") as typeof import("@pulumi/command");
    const settings = require("@pulumi/pulumi/runtime/settings");
    const { MtlsNginx } = require("../components/mtlsNginx") as typeof import("../components/mtlsNginx");
    const { RenewalSchedule } = require("../components/renewal/schedule") as typeof import("../components/renewal/schedule");
    const { Pkcs12Bundle } = require("../components/pki/pkcs12/bundle") as typeof import("../components/pki/pkcs12/bundle");
    const { RevocationList } = require("../components/revocation/revocationList") as typeof import("../components/revocation/revocationList");
    const { resolveRenewalPolicy } = require("../components/renewal/policy") as typeof import("../components/renewal/policy");
    const { makeHierarchy } = require("../test/support/x509") as typeof import("../test/support/x509");

    // One real certificate and key for every fake output (components parse certificates in applies).
    const { root } = await makeHierarchy({ name: "Bench" });
    const certPem = root.certPem;
    const keyPem = root.key.privateKeyPem;
    const csrPem = "-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n";
    const crlPem = "-----BEGIN X509 CRL-----\nAA==\n-----END X509 CRL-----\n";
    const day = 86400_000;
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();

    const counts: Record<string, number> = {};
    let providerBytes = 0;
    const mocks: import("@pulumi/pulumi").runtime.Mocks = {
        newResource(args) {
            counts[args.type] = (counts[args.type] ?? 0) + 1;
            const state: Record<string, any> = { ...args.inputs };
            if (typeof args.inputs.__provider === "string") providerBytes += args.inputs.__provider.length;
            switch (args.type) {
                case T.key:
                    state.privateKeyPem = keyPem;
                    state.privateKeyPemPkcs8 = keyPem;
                    state.publicKeyPem = "fake-public-key";
                    break;
                case T.selfSigned:
                case T.signed:
                    state.certPem = certPem;
                    break;
                case T.csr:
                    state.certRequestPem = csrPem;
                    break;
                case T.renewal:
                    state.windowStart = at(0);
                    state.windowEnd = at(365 * day);
                    state.renewAt = at(243 * day);
                    break;
                case T.pkcs12:
                    state.pfxBase64 = "AA==";
                    state.password = "fake-password";
                    state.certificateSha256 = "00";
                    break;
                case T.crl:
                    state.crlPem = crlPem;
                    state.trustedCaPem = certPem;
                    state.nextUpdate = at(7 * day);
                    state.refreshAt = at(3.5 * day);
                    state.revoked = [];
                    state.issuers = [];
                    break;
                case T.command:
                    state.stdout = "";
                    break;
            }
            return { id: args.custom ? `${args.name}-id` : "", state };
        },
        call: (args) => args.inputs,
    };

    /** A component with no children: what registering one costs. */
    class PlainComponent extends pulumi.ComponentResource {
        constructor(type: string, name: string) {
            super(type, name, {}, {});
            this.registerOutputs({});
        }
    }
    const clientPolicy = resolveRenewalPolicy(undefined, 365 * day, "bench");
    const program = (k: Kind, n: number, prefix: string) => {
        if (k === "components" || k === "components-stub") {
            new MtlsNginx(`${prefix}m`, {
                ca: { commonName: "Bench Root CA", intermediate: true },
                server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] },
                clients: Array.from({ length: n }, (_, i) => ({ name: `c${i}` })),
                site: { listen: { address: "127.0.0.1", port: 18443 }, mode: { kind: "static" } },
                target: { kind: "local", installDir: "/tmp/mtls-nginx-registration-bench" },
            });
        } else if (k === "bare") {
            const count = total(expectedCounts(n));
            for (let i = 0; i < count; i++) new tls.PrivateKey(`${prefix}k${i}`, { algorithm: "ECDSA", ecdsaCurve: "P256" });
        } else {
            // same-mix: the same types and counts, flat, constant inputs.
            let i = 0;
            for (const [type, count] of Object.entries(expectedCounts(n))) {
                for (let j = 0; j < count; j++, i++) {
                    const name = `${prefix}r${i}`;
                    switch (type) {
                        case T.renewal:
                            new RenewalSchedule(name, { validityMs: 365 * day, policy: clientPolicy, anchor: "self", generation: 0 });
                            break;
                        case T.pkcs12:
                            new Pkcs12Bundle(name, { privateKeyPem: keyPem, certificatePem: certPem, chainPem: certPem, profile: "compat", friendlyName: name });
                            break;
                        case T.crl:
                            new RevocationList(name, { issuerCertPem: certPem, issuerKeyPem: keyPem, issued: [] });
                            break;
                        case T.key:
                            new tls.PrivateKey(name, { algorithm: "ECDSA", ecdsaCurve: "P256" });
                            break;
                        case T.selfSigned:
                            new tls.SelfSignedCert(name, { privateKeyPem: keyPem, subject: { commonName: name }, validityPeriodHours: 8760, allowedUses: ["cert_signing"], isCaCertificate: true });
                            break;
                        case T.csr:
                            new tls.CertRequest(name, { privateKeyPem: keyPem, subject: { commonName: name } });
                            break;
                        case T.signed:
                            new tls.LocallySignedCert(name, {
                                certRequestPem: csrPem,
                                caCertPem: certPem,
                                caPrivateKeyPem: keyPem,
                                validityPeriodHours: 8760,
                                allowedUses: ["digital_signature", "client_auth"],
                                setSubjectKeyId: true,
                            });
                            break;
                        case T.command:
                            new command.local.Command(name, { create: "true", stdin: "payload", logging: "none" });
                            break;
                        default:
                            new PlainComponent(type, name);
                    }
                }
            }
        }
    };

    // Warm-up: every kind once, small (lazy SDK modules, JIT, the providers' one-time serialization).
    pulumi.runtime.setMocks(mocks, "bench", "bench", false);
    const w0 = performance.now();
    program("components", 3, "warm-a-");
    program("bare", 3, "warm-b-");
    program("same-mix", 3, "warm-c-");
    await settings.waitForRPCs();
    const warmupMs = performance.now() - w0;

    for (const key of Object.keys(counts)) delete counts[key];
    providerBytes = 0;
    pulumi.runtime.setMocks(mocks, "bench", "bench", false);
    (global as any).gc?.();

    let post: ((method: string, params?: object) => Promise<any>) | undefined;
    if (profile) {
        const inspector = require("inspector") as typeof import("inspector");
        const session = new inspector.Session();
        session.connect();
        post = (method, params) => new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
        await post("Profiler.enable");
        await post("Profiler.setSamplingInterval", { interval: 1000 });
        await post("Profiler.start");
    }
    const calls0 = serializeCalls;
    counting = profile;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    program(kind, clients, "");
    const t1 = performance.now();
    await settings.waitForRPCs();
    const t2 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    counting = false;
    let categories: Record<string, number> | undefined;
    if (post) {
        const { profile: p } = await post("Profiler.stop");
        categories = categorize(p);
        if (process.env.REGISTRATION_PROFILE_DIR) {
            // Raw profile for Chrome DevTools / speedscope.
            require("fs").writeFileSync(path.join(process.env.REGISTRATION_PROFILE_DIR, `registration-${kind}-${clients}.cpuprofile`), JSON.stringify(p));
        }
    }
    return {
        kind,
        clients,
        registrations: total(counts),
        counts: { ...counts },
        constructMs: t1 - t0,
        wallMs: t2 - t0,
        cpuMs: (cpu.user + cpu.system) / 1000,
        warmupMs,
        serializeCalls: serializeCalls - calls0,
        providerBytes,
        heapMb: process.memoryUsage().heapUsed / 2 ** 20,
        maxRssMb: process.resourceUsage().maxRSS / 1024,
        profile: categories,
        counters: profile ? { ...counters } : undefined,
    };
}
/* eslint-enable @typescript-eslint/no-var-requires */

/** Self time of a CPU profile by category (ms). */
function categorize(profile: { nodes: any[]; samples: number[]; timeDeltas: number[] }): Record<string, number> {
    const byId = new Map<number, any>(profile.nodes.map((n) => [n.id, n]));
    const out: Record<string, number> = {};
    const add = (k: string, us: number) => (out[k] = (out[k] ?? 0) + us / 1000);
    profile.samples.forEach((id, i) => {
        const node = byId.get(id);
        const us = profile.timeDeltas[i] ?? 0;
        const url: string = node.callFrame.url ?? "";
        const fn: string = node.callFrame.functionName ?? "";
        if (fn === "(garbage collector)") add("garbage collection", us);
        else if (fn === "(idle)") add("idle", us);
        else if (url.includes("source-map-support") || url.includes("trace-mapping") || fn === "get stack" || fn === "prepareStackTrace" || fn === "prepareStackTraceCallback" || fn === "debuggablePromise" || fn === "callsites" || url.startsWith("node:internal/url") || url === "node:url" || url === "node:path")
            add("stack traces (SDK debug stacks, source-map-support)", us);
        else if (url.includes("/components/")) add("our components (self)", us);
        else if (url.includes("@pulumi/")) add("SDK other", us);
        else add("other (node, V8, protobuf...)", us);
    });
    return out;
}

// ---------------------------------------------------------------------------------------------------
// Parent side.
// ---------------------------------------------------------------------------------------------------

function runChild(kind: Kind | "serialize", clients: number, flags: Partial<ChildFlags> = {}): Promise<ChildResult> {
    return new Promise((resolve, reject) => {
        const args = ["--expose-gc", "--max-old-space-size=4096", "-r", "ts-node/register", __filename, CHILD_FLAG, kind, String(clients), [flags.profile ? "profile" : "", flags.noStack ? "nostack" : ""].join(",")];
        const proc = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" } });
        let stdout = "";
        let stderr = "";
        proc.stdout.on("data", (d) => (stdout += d));
        proc.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => {
            try {
                proc.kill("SIGKILL");
            } catch {
                /* gone */
            }
        }, CHILD_TIMEOUT_MS);
        proc.on("error", reject);
        proc.on("close", (code, signal) => {
            clearTimeout(timer);
            const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
            if (code === 0 && line) resolve(JSON.parse(line.slice(7)));
            else reject(new Error(`registration child ${kind}/${clients} failed (code ${code}, signal ${signal}): ${stderr.split("\n").slice(-15).join("\n")}`));
        });
    });
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const s1 = (ms: number) => (ms / 1000).toFixed(2);
const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(0)}%`;

export async function main(): Promise<BenchSection> {
    const title = "Registration under mocks: MtlsNginx vs the bare SDK";
    const results: ChildResult[] = [];
    const log = (r: ChildResult) => process.stderr.write(`  [registration] ${r.kind} ${r.clients} clients: ${r.registrations} registrations, cpu ${s1(r.cpuMs)} s, wall ${s1(r.wallMs)} s\n`);

    const cold = (await runChild("serialize", 0)).serialization!;
    const kinds: Kind[] = ["components", "bare", "same-mix"];
    for (const n of SIZES) {
        for (let rep = 0; rep < REPS(n); rep++) {
            // Interleave, rotating the order, so drift in the machine's load spreads over the kinds.
            const order = kinds.map((_, i) => kinds[(i + rep) % kinds.length]);
            for (const kind of order) {
                const r = await runChild(kind, n);
                log(r);
                results.push(r);
            }
        }
    }
    const middle = SIZES.includes(100) ? 100 : SIZES[Math.floor(SIZES.length / 2)];
    for (let rep = 0; rep < REPS(middle); rep++) {
        const r = await runChild("components-stub", middle);
        log(r);
        results.push(r);
    }
    // What the SDK's per-promise debug stacks cost, and what the components cost without them.
    const noStack: ChildResult[] = [];
    for (let rep = 0; rep < REPS(middle); rep++) {
        for (const kind of kinds) {
            const r = await runChild(kind, middle, { noStack: true });
            log(r);
            noStack.push(r);
        }
    }
    const profiles: Record<string, ChildResult> = {};
    for (const kind of kinds) {
        profiles[kind] = await runChild(kind, middle, { profile: true });
    }

    const pick = (kind: Kind, n: number) => results.filter((r) => r.kind === kind && r.clients === n);
    const med = (kind: Kind, n: number, f: (r: ChildResult) => number) => median(pick(kind, n).map(f));
    const range = (kind: Kind, n: number) => {
        const xs = pick(kind, n).map((r) => r.cpuMs);
        return xs.length > 1 ? ` (${s1(Math.min(...xs))}-${s1(Math.max(...xs))})` : "";
    };
    const lines: string[] = [];
    lines.push(
        `Each cell: median of ${SIZES.map((n) => `${REPS(n)} (${n} clients)`).join(", ")} fresh child processes per kind, kinds interleaved; node ${process.version}, ts-node (transpile only, source-map-support on, as under \`pulumi up\`), trivial setMocks, after an in-process warm-up. CPU = user+system of the child during construction + waitForRPCs. Load average at the start of the run: ${os.loadavg().map((l) => l.toFixed(1)).join(" / ")}.`,
    );
    lines.push("");
    lines.push("| clients | registrations | components CPU s (min-max) | bare SDK (tls.PrivateKey) CPU s (min-max) | overhead vs bare (CPU) | same-mix CPU s | components vs same-mix | components wall s | bare wall s | overhead (wall) | CPU ms per client | ≤ 20% |");
    lines.push("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    const rows: { n: number; comp: number; bare: number; mix: number }[] = [];
    for (const n of SIZES) {
        const comp = med("components", n, (r) => r.cpuMs);
        const bare = med("bare", n, (r) => r.cpuMs);
        const mix = med("same-mix", n, (r) => r.cpuMs);
        const compWall = med("components", n, (r) => r.wallMs);
        const bareWall = med("bare", n, (r) => r.wallMs);
        const regs = pick("components", n)[0]?.registrations ?? total(expectedCounts(n));
        rows.push({ n, comp, bare, mix });
        const overhead = comp / bare - 1;
        lines.push(
            `| ${n} | ${regs} | ${s1(comp)}${range("components", n)} | ${s1(bare)}${range("bare", n)} | ${pct(overhead)} | ${s1(mix)} | ${pct(comp / mix - 1)} | ${s1(compWall)} | ${s1(bareWall)} | ${pct(compWall / bareWall - 1)} | ${(comp / n).toFixed(1)} | ${overhead <= TARGET_OVERHEAD ? "yes" : "NO"} |`,
        );
    }
    for (const r of rows) {
        lines.push("");
        lines.push(
            `Decomposition at ${r.n} clients (CPU): same-mix - bare = ${pct(r.mix / r.bare - 1)} of bare (what these resource types cost over tls.PrivateKey: output properties, \`__provider\` text); components - same-mix = ${pct((r.comp - r.mix) / r.bare)} of bare (what our component code adds to registering the very same resources: outputs wired between resources, applies, validation, registerOutputs).`,
        );
    }
    const mismatched = results.filter((r) => (r.kind === "components" || r.kind === "components-stub") && JSON.stringify(r.counts, Object.keys(r.counts).sort()) !== JSON.stringify(expectedCounts(r.clients), Object.keys(expectedCounts(r.clients)).sort()));
    if (mismatched.length > 0) lines.push("", `Note: registration counts differed from the expected 19 + 6n in ${mismatched.length} run(s): ${JSON.stringify(mismatched[0].counts)}`);

    // Linearity: CPU per registration / per client across sizes, and the log-log slope between sizes.
    lines.push("");
    lines.push("Growth (linear = slope 1.00; per-registration CPU should stay flat):");
    lines.push("");
    lines.push("| clients | components ms/registration | bare ms/registration | same-mix ms/registration |");
    lines.push("| ---: | ---: | ---: | ---: |");
    for (const r of rows) {
        const regs = total(expectedCounts(r.n));
        lines.push(`| ${r.n} | ${(r.comp / regs).toFixed(2)} | ${(r.bare / regs).toFixed(2)} | ${(r.mix / regs).toFixed(2)} |`);
    }
    for (let i = 1; i < rows.length; i++) {
        const a = rows[i - 1];
        const b = rows[i];
        const slope = (x: number, y: number) => (Math.log(y / x) / Math.log(total(expectedCounts(b.n)) / total(expectedCounts(a.n)))).toFixed(2);
        const marginal = (b.comp - a.comp) / (b.n - a.n);
        lines.push("");
        lines.push(
            `${a.n} -> ${b.n} clients: slope (log CPU / log registrations) components ${slope(a.comp, b.comp)}, bare ${slope(a.bare, b.bare)}, same-mix ${slope(a.mix, b.mix)}; marginal CPU per added client ${marginal.toFixed(1)} ms (components), ${(((b.bare - a.bare) / (b.n - a.n))).toFixed(1)} ms (bare, 6 registrations).`,
        );
    }

    // Attribution.
    const stubbed = pick("components-stub", middle);
    if (stubbed.length > 0) {
        const comp = med("components", middle, (r) => r.cpuMs);
        const stub = median(stubbed.map((r) => r.cpuMs));
        const bytes = pick("components", middle)[0]?.providerBytes ?? 0;
        lines.push("");
        lines.push(
            `Provider text: at ${middle} clients the dynamic resources carry ${(bytes / 2 ** 20).toFixed(1)} MiB of \`__provider\` text in total (${((bytes / middle) / 1024).toFixed(0)} kB per client); with serializeFunction stubbed to a 20-character provider the components take ${s1(stub)} s CPU instead of ${s1(comp)} s (${pct(stub / comp - 1)}). serializeFunction itself ran ${pick("components", middle)[0]?.serializeCalls ?? "?"} times in the timed run (the SDK caches it per provider object: once per provider per process, done in the warm-up).`,
        );
    }
    lines.push("");
    lines.push("One-time cost, first serialization of each dynamic provider in a fresh process (paid once per `pulumi up`, not per resource):");
    lines.push("");
    lines.push("| provider | CPU ms | wall ms | `__provider` text, chars |");
    lines.push("| --- | ---: | ---: | ---: |");
    for (const s of cold) lines.push(`| ${s.provider} | ${s.cpuMs.toFixed(0)} | ${s.wallMs.toFixed(0)} | ${s.chars} |`);

    lines.push("");
    const ns = (kind: Kind) => median(noStack.filter((r) => r.kind === kind).map((r) => r.cpuMs));
    const withStack = (kind: Kind) => med(kind, middle, (r) => r.cpuMs);
    lines.push("");
    lines.push(
        `Without the SDK's debug stacks (debuggablePromise replaced by a pass-through in the child; ${REPS(middle)} runs per kind at ${middle} clients; not something a user can switch off): components ${s1(ns("components"))} s, bare ${s1(ns("bare"))} s, same-mix ${s1(ns("same-mix"))} s CPU, i.e. components ${pct(ns("components") / ns("bare") - 1)} vs bare and ${pct(ns("components") / ns("same-mix") - 1)} vs same-mix; the stacks are ${((1 - ns("components") / withStack("components")) * 100).toFixed(0)}% of the components' registration CPU and ${((1 - ns("bare") / withStack("bare")) * 100).toFixed(0)}% of the bare SDK's.`,
    );
    lines.push("");
    lines.push(`CPU profile of one run per kind at ${middle} clients (inspector sampling, 1 ms; self time by category, ms; the profiler adds its own overhead) and deterministic counts of the same runs:`);
    lines.push("");
    const cats = [...new Set(Object.values(profiles).flatMap((p) => Object.keys(p.profile ?? {})))].filter((c) => c !== "idle").sort();
    lines.push(`| | components | bare | same-mix |`);
    lines.push("| --- | ---: | ---: | ---: |");
    for (const c of cats) {
        const cell = (r: ChildResult) => {
            const sum = Object.entries(r.profile ?? {}).filter(([k]) => k !== "idle").reduce((a, [, v]) => a + v, 0);
            const v = r.profile?.[c] ?? 0;
            return `${v.toFixed(0)} (${((100 * v) / sum).toFixed(0)}%)`;
        };
        lines.push(`| ${c} | ${kinds.map((k) => cell(profiles[k])).join(" | ")} |`);
    }
    const count = (k: Kind, c: string) => `${profiles[k].counters?.[c] ?? "?"} (${((profiles[k].counters?.[c] ?? NaN) / middle).toFixed(1)}/client)`;
    lines.push(`| SDK debug stack captures (debuggablePromise) | ${kinds.map((k) => count(k, "stackCaptures")).join(" | ")} |`);
    lines.push(`| of which Output-valued properties serialized | ${kinds.map((k) => count(k, "serializedOutputs")).join(" | ")} |`);
    lines.push(`| Output.apply calls | ${kinds.map((k) => count(k, "applies")).join(" | ")} |`);
    const compHeap = med("components", SIZES[SIZES.length - 1], (r) => r.maxRssMb);
    const bareHeap = med("bare", SIZES[SIZES.length - 1], (r) => r.maxRssMb);
    lines.push("");
    lines.push(`Peak RSS of the child at ${SIZES[SIZES.length - 1]} clients: components ${compHeap.toFixed(0)} MB, bare ${bareHeap.toFixed(0)} MB.`);
    return { title, lines };
}

if (require.main === module) {
    const i = process.argv.indexOf(CHILD_FLAG);
    if (i >= 0) {
        const [kind, n, flags = ""] = process.argv.slice(i + 1);
        const set = flags.split(",");
        child(kind as Kind | "serialize", Number(n), { profile: set.includes("profile"), noStack: set.includes("nostack") }).then(
            (r) => {
                process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
                process.exit(0);
            },
            (e) => {
                console.error(e);
                process.exit(1);
            },
        );
    } else {
        runStandalone(main);
    }
}
