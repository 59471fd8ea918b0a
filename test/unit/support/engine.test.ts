/**
 * The deployment simulator: state across runs, the engine's create/same/update/replace/delete decisions,
 * real dynamic providers from their serialized form, preview without side effects, secrets, and the
 * local command executor.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import * as command from "@pulumi/command";
import { DeploymentSimulator, localCommandExecutor, RunResult, SimulationError, UNKNOWN } from "../../support/engine";

/**
 * A tiny self-contained dynamic provider. It logs every create/update/delete to the file named in its
 * `log` input, so the test can see what really ran (the provider runs from its serialized text,
 * outside jest's module registry: a counter in this file would not move).
 */
const widgetProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds: any, news: any) {
        const failures = typeof news.kind === "string" ? [] : [{ property: "kind", reason: "kind must be a string" }];
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: any, news: any) {
        if (olds.kind !== news.kind) return { changes: true, replaces: ["kind"] };
        return { changes: olds.label !== news.label };
    },
    async create(inputs: any) {
        const fs = require("fs");
        fs.appendFileSync(inputs.log, `create ${inputs.kind}/${inputs.label}\n`);
        if (inputs.label === "explode") throw new Error("the widget factory is on fire");
        return {
            id: `${inputs.kind}-${Math.random().toString(16).slice(2, 10)}`,
            outs: { ...inputs, createdAt: process.env.MTLS_NGINX_CLOCK ?? "real-time", token: `tok-${inputs.label}` },
        };
    },
    async update(_id: string, olds: any, news: any) {
        require("fs").appendFileSync(news.log, `update ${news.kind}/${olds.label}->${news.label}\n`);
        return { outs: { ...olds, label: news.label, token: `tok-${news.label}` } };
    },
    async delete(_id: string, props: any) {
        require("fs").appendFileSync(props.log, `delete ${props.kind}/${props.label}\n`);
    },
};

class Widget extends pulumi.dynamic.Resource {
    declare readonly label: pulumi.Output<string>;
    declare readonly token: pulumi.Output<string>;
    declare readonly createdAt: pulumi.Output<string>;
    declare readonly password: pulumi.Output<string>;
    constructor(name: string, args: { log: string; kind: string; label: pulumi.Input<string>; password?: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(widgetProvider, name, { ...args, token: undefined, createdAt: undefined }, { additionalSecretOutputs: ["token"], ...opts });
    }
}

interface Knobs {
    log: string;
    commonName?: string;
    baseKind?: string;
    baseLabel?: string;
    rotation?: string;
    withExtra?: boolean;
    withLoner?: boolean;
    /** Adds "late": with this replacementTrigger, or none when null. */
    lateTrigger?: string | null;
}

/** key + self-signed cert, a widget, a widget that is replaced with it, one with a replacementTrigger. */
function program(k: Knobs) {
    const key = new tls.PrivateKey("key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
    const cert = new tls.SelfSignedCert("cert", {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: k.commonName ?? "sim.example.test" },
        validityPeriodHours: 24,
        earlyRenewalHours: 2,
        allowedUses: ["digital_signature", "server_auth"],
    });
    const base = new Widget("base", { log: k.log, kind: k.baseKind ?? "gear", label: k.baseLabel ?? "one", password: pulumi.secret("hunter2") });
    const follower = new Widget("follower", { log: k.log, kind: "cog", label: "f" }, { replaceWith: [base] });
    const rotated = new Widget("rotated", { log: k.log, kind: "cam", label: "r" }, { replacementTrigger: k.rotation ?? "2027-01" });
    if (k.withExtra) new Widget("extra", { log: k.log, kind: "nut", label: "x" });
    if (k.withLoner) new Widget("loner", { log: k.log, kind: "bolt", label: "l" });
    if (k.lateTrigger !== undefined) new Widget("late", { log: k.log, kind: "pin", label: "t" }, k.lateTrigger === null ? {} : { replacementTrigger: k.lateTrigger });
    return { certPem: cert.certPem, keyPem: key.privateKeyPem, baseToken: base.token, baseLabel: base.label, createdAt: base.createdAt };
}

const ops = (r: RunResult) => Object.fromEntries(r.steps.filter((s) => s.custom).map((s) => [s.name, s.op]));

let dir: string;
let log: string;
const logLines = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) : []);

beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "engine-"));
    log = path.join(dir, "provider.log");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("DeploymentSimulator", () => {
    it("creates, then keeps everything the same, then replaces/updates exactly what changed, with replaceWith in the same run", async () => {
        const sim = new DeploymentSimulator();
        const first = await sim.run(() => program({ log }), { now: "2027-01-01T00:00:00Z" });
        expect(ops(first)).toEqual({ key: "create", cert: "create", base: "create", follower: "create", rotated: "create" });
        expect(first.stepFor("project-stack")?.op).toBe("create"); // the stack component
        expect(logLines().sort()).toEqual(["create cam/r", "create cog/f", "create gear/one"]);
        expect(first.outputs.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
        expect(first.outputs.createdAt).toBe("2027-01-01T00:00:00.000Z"); // providers see the simulated clock
        const certPem = first.outputs.certPem;

        const second = await sim.run(() => program({ log }), { now: "2027-01-01T06:00:00Z" });
        expect(ops(second)).toEqual({ key: "same", cert: "same", base: "same", follower: "same", rotated: "same" });
        expect(second.outputs.certPem).toBe(certPem);
        expect(logLines()).toHaveLength(3);

        // label: the provider's diff says update; kind: it says replace, and the follower is replaced with it
        const third = await sim.run(() => program({ log, baseLabel: "two" }), { now: "2027-01-01T07:00:00Z" });
        expect(ops(third)).toMatchObject({ base: "update", follower: "same" });
        expect(third.outputs.baseToken).toBe("tok-two");
        const fourth = await sim.run(() => program({ log, baseLabel: "two", baseKind: "sprocket" }), { now: "2027-01-01T08:00:00Z" });
        expect(ops(fourth)).toMatchObject({ base: "replace", follower: "replace", rotated: "same", key: "same", cert: "same" });
        expect(fourth.stepFor("base")?.reason).toMatch(/provider diff replaces: kind/);
        expect(fourth.stepFor("follower")?.reason).toMatch(/replaceWith: .*::base is replaced/);
        // create-before-delete: the replacements are created (the follower after base, whose URN it waits
        // for), the originals deleted at the end, dependents first
        expect(logLines().slice(3)).toEqual(["update gear/one->two", "create sprocket/two", "create cog/f", "delete cog/f", "delete gear/two"]);
        expect(fourth.outputs.baseToken).toBe("tok-two");

        // a tls input change replaces key and cert (ForceNew), and the cert is a new certificate
        const fifth = await sim.run(() => program({ log, baseLabel: "two", baseKind: "sprocket", commonName: "other.example.test" }), { now: "2027-01-01T09:00:00Z" });
        expect(ops(fifth)).toMatchObject({ key: "same", cert: "replace" });
        expect(fifth.stepFor("cert")?.changedKeys).toEqual(["subject"]);
        expect(fifth.outputs.certPem).not.toBe(certPem);
    });

    it("as the engine: a replacementTrigger added to an existing resource replaces nothing; a later change of it does", async () => {
        const sim = new DeploymentSimulator();
        await sim.run(() => program({ log, lateTrigger: null }), { now: "2027-01-01T00:00:00Z" });
        const added = await sim.run(() => program({ log, lateTrigger: "a" }), { now: "2027-01-01T01:00:00Z" });
        expect(ops(added).late).toBe("same");
        const changed = await sim.run(() => program({ log, lateTrigger: "b" }), { now: "2027-01-01T02:00:00Z" });
        expect(ops(changed).late).toBe("replace");
    });

    it("replaces on a changed replacementTrigger, and a tls certificate once it is due for renewal", async () => {
        const sim = new DeploymentSimulator();
        await sim.run(() => program({ log }), { now: "2027-01-01T00:00:00Z" });
        const rotated = await sim.run(() => program({ log, rotation: "2027-02" }), { now: "2027-01-01T01:00:00Z" });
        expect(ops(rotated)).toMatchObject({ rotated: "replace", base: "same", cert: "same" });
        expect(rotated.stepFor("rotated")?.reason).toMatch(/replacementTrigger changed: "2027-01" -> "2027-02"/);
        expect(sim.state.get(rotated.stepFor("rotated")!.urn)?.options.replacementTrigger).toBe("2027-02");

        // 24h validity, 2h early renewal: the provider's ModifyPlan replaces it from 22h after issue
        const early = await sim.run(() => program({ log, rotation: "2027-02" }), { now: "2027-01-01T21:59:59Z", preview: true });
        expect(ops(early)).toMatchObject({ cert: "same", key: "same" });
        const due = await sim.run(() => program({ log, rotation: "2027-02" }), { now: "2027-01-01T22:00:00Z" });
        expect(ops(due)).toMatchObject({ cert: "replace", key: "same" });
        expect(due.stepFor("cert")?.reason).toMatch(/ready for renewal/);
        expect(due.resource("cert")?.outputs.validityStartTime).toBe("2027-01-01T22:00:00Z");
    });

    it("plans without executing in preview mode, with unknown outputs for what would be created", async () => {
        const sim = new DeploymentSimulator();
        await sim.run(() => program({ log }), { now: "2027-01-01T00:00:00Z" });
        const before = logLines();
        let certPem: unknown;
        let extraToken: unknown = "not yet";
        const plan = await sim.run(
            () => {
                const out = program({ log, baseLabel: "changed", withExtra: true, baseKind: "gear" });
                const extra = new Widget("extra-2", { log, kind: "nut", label: "y" });
                extra.token.apply((t) => (extraToken = t));
                out.certPem.apply((p) => (certPem = p));
                return out;
            },
            { now: "2027-01-01T01:00:00Z", preview: true },
        );
        expect(plan.preview).toBe(true);
        expect(ops(plan)).toMatchObject({ base: "update", extra: "create", "extra-2": "create", cert: "same", follower: "same" });
        expect(logLines()).toEqual(before); // neither create nor update ran
        expect(certPem).toMatch(/BEGIN CERTIFICATE/); // "same": the old outputs
        expect(extraToken).toBe("not yet"); // unknown in preview: apply callbacks do not run
        expect(plan.resource("extra")?.id).toBe("");
        expect(plan.resource("extra")?.outputs.token).toBe(UNKNOWN);
        expect(plan.resource("extra")?.secretOutputs).toContain("token"); // a secret unknown, as the engine plans it
        // nothing was committed: the next real run still sees the original base
        const real = await sim.run(() => program({ log }), { now: "2027-01-01T02:00:00Z" });
        expect(ops(real)).toMatchObject({ base: "same" });
    });

    it("plans a replacement in preview when a replaced dependency makes an input unknown", async () => {
        const sim = new DeploymentSimulator();
        const keyed = (curve: string) => () => {
            const key = new tls.PrivateKey("k", { algorithm: "ECDSA", ecdsaCurve: curve });
            const cert = new tls.SelfSignedCert("c", { privateKeyPem: key.privateKeyPem, subject: { commonName: "x" }, validityPeriodHours: 1, allowedUses: ["digital_signature"] });
            return { cert: cert.certPem };
        };
        await sim.run(keyed("P256"));
        const plan = await sim.run(keyed("P384"), { preview: true });
        expect(ops(plan)).toEqual({ k: "replace", c: "replace" });
        expect(plan.resource("c")?.inputs.privateKeyPem).toBe(UNKNOWN);
        expect(plan.stepFor("c")?.changedKeys).toEqual(["privateKeyPem"]);
    });

    it("deletes resources that are gone from the program, running the provider's delete", async () => {
        const sim = new DeploymentSimulator();
        await sim.run(() => program({ log, withLoner: true }));
        expect(logLines()).toContain("create bolt/l");
        const preview = await sim.run(() => program({ log }), { preview: true });
        expect(preview.steps.filter((s) => s.op === "delete").map((s) => s.name)).toEqual(["loner"]);
        expect(logLines()).not.toContain("delete bolt/l");
        const up = await sim.run(() => program({ log }));
        expect(up.steps.filter((s) => s.op === "delete").map((s) => s.name)).toEqual(["loner"]);
        expect(logLines()).toContain("delete bolt/l");
        expect([...sim.state.values()].map((r) => r.name)).not.toContain("loner");

        const destroyed = await sim.destroy();
        expect(destroyed.steps.every((s) => s.op === "delete")).toBe(true);
        // reverse dependency order: the cert goes before the key it depends on
        const order = destroyed.steps.map((s) => s.name);
        expect(order.indexOf("cert")).toBeLessThan(order.indexOf("key"));
        expect(sim.state.size).toBe(0);
        expect(logLines().slice(-3).sort()).toEqual(["delete cam/r", "delete cog/f", "delete gear/one"]);
    });

    it("marks additionalSecretOutputs and outputs of secret inputs secret", async () => {
        const sim = new DeploymentSimulator();
        const result = await sim.run(() => program({ log }));
        const key = result.resource("key")!;
        expect(key.options.additionalSecretOutputs).toEqual(expect.arrayContaining(["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"]));
        expect(key.secretOutputs).toEqual(expect.arrayContaining(["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"]));
        expect(key.secretOutputs).not.toContain("publicKeyPem");
        const base = result.resource("base")!;
        expect(base.secretOutputs).toEqual(["password", "token"]); // token: additionalSecretOutputs; password: a secret input
        expect(base.secretInputs).toEqual(["password"]);
        expect(base.inputs.password).toBe("hunter2"); // the provider saw the plain value
        expect(result.resource("cert")!.secretInputs).toEqual(["privateKeyPem"]);
        // and the program sees them as secrets: stack outputs built from them are secret
        expect(result.secretOutputs.sort()).toEqual(["baseToken", "keyPem"]);
        expect(result.outputs.keyPem).toMatch(/BEGIN EC PRIVATE KEY/);
        let isSecret: Promise<boolean> | undefined;
        await sim.run(() => {
            const out = program({ log });
            isSecret = pulumi.isSecret(out.baseToken);
            return out;
        });
        expect(await isSecret).toBe(true);
    });

    it("records the options the program passed", async () => {
        const sim = new DeploymentSimulator();
        const result = await sim.run(() => program({ log }));
        const base = result.resource("base")!;
        const follower = result.resource("follower")!;
        expect(follower.options.replaceWith).toEqual([base.urn]);
        expect(result.resource("rotated")!.options.replacementTrigger).toBe("2027-01");
        const cert = result.resource("cert")!;
        expect(cert.options.dependencies).toContain(result.resource("key")!.urn);
        expect(cert.parent).toBe(result.stepFor("project-stack")!.urn);
    });

    it("fails the run loudly, naming the resource, when a provider throws or a check fails", async () => {
        const sim = new DeploymentSimulator();
        const failing = sim.run(() => {
            new Widget("bad", { log, kind: "gear", label: "explode" });
        });
        await expect(failing).rejects.toThrow(SimulationError);
        await expect(failing).rejects.toThrow(/urn:pulumi:stack::project::pulumi-nodejs:dynamic:Resource::bad: the widget factory is on fire/);
        await expect(sim.run(() => void new Widget("odd", { log, kind: 42 as any, label: "x" }))).rejects.toThrow(/::odd: check failed: kind: kind must be a string/);
        await expect(sim.run(() => void new tls.SelfSignedCert("c", { privateKeyPem: "nope", validityPeriodHours: 1, allowedUses: ["clientAuth"] }))).rejects.toThrow(
            /tls:index\/selfSignedCert:SelfSignedCert::c: .*allowed_uses\[0\] value must be one of/,
        );
        // the failed run committed nothing for the failed resources; the simulator is usable afterwards
        expect([...sim.state.values()].filter((r) => r.custom)).toEqual([]);
        const ok = await sim.run(() => program({ log }));
        expect(ops(ok).base).toBe("create");
    });

    it("keeps the original of a replacement when the update fails, and deletes it in the next successful update", async () => {
        const sim = new DeploymentSimulator();
        await sim.run(() => void new Widget("w", { log, kind: "gear", label: "one" }));
        const failing = sim.run(() => {
            const w = new Widget("w", { log, kind: "sprocket", label: "one" });
            new Widget("boom", { log, kind: "gear", label: w.label.apply(() => "explode") });
        });
        await expect(failing).rejects.toThrow(/::boom: the widget factory is on fire/);
        expect(logLines()).toEqual(["create gear/one", "create sprocket/one", "create gear/explode"]);
        const next = await sim.run(() => void new Widget("w", { log, kind: "sprocket", label: "one" }));
        expect(next.steps.filter((s) => s.op === "delete").map((s) => s.reason)).toEqual([expect.stringMatching(/failed before deleting it/)]);
        expect(logLines().slice(-1)).toEqual(["delete gear/one"]);
    });

    it("fails the run with an error thrown inside an apply that feeds a resource (an unhandled rejection)", async () => {
        const sim = new DeploymentSimulator();
        const run = sim.run(() => {
            const base = new Widget("base", { log, kind: "gear", label: "one" });
            new Widget("derived", {
                log,
                kind: "cog",
                label: base.label.apply((l): string => {
                    throw new TypeError(`cannot derive from ${l}`);
                }),
            });
        });
        await expect(run).rejects.toThrow(/cannot derive from one/);
    });

    it("replaces key and cert in the same update when a time-driven schedule is replaced (replaceWith + replacementTrigger)", async () => {
        const HOUR = 3600_000;
        // a schedule that asks to be replaced once the (simulated) clock passes renewAt
        const scheduleProvider: pulumi.dynamic.ResourceProvider = {
            async diff(_id: string, olds: any) {
                const now = new Date(process.env.MTLS_NGINX_CLOCK ?? Date.now()).getTime();
                return now >= Date.parse(olds.renewAt) ? { changes: true, replaces: ["renewAt"] } : { changes: false };
            },
            async create(inputs: any) {
                const start = new Date(process.env.MTLS_NGINX_CLOCK ?? Date.now()).getTime();
                const renewAt = new Date(start + inputs.renewAfterMs).toISOString();
                return { id: `sched-${renewAt}`, outs: { ...inputs, renewAt } };
            },
        };
        class Schedule extends pulumi.dynamic.Resource {
            declare readonly renewAt: pulumi.Output<string>;
            constructor(name: string, renewAfterMs: number) {
                super(scheduleProvider, name, { renewAfterMs, renewAt: undefined });
            }
        }
        const sim = new DeploymentSimulator();
        const renewing = () => {
            const schedule = new Schedule("sched", 20 * HOUR);
            const opts = { replaceWith: [schedule], replacementTrigger: schedule.id };
            const key = new tls.PrivateKey("rk", { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
            const cert = new tls.SelfSignedCert("rc", { privateKeyPem: key.privateKeyPem, subject: { commonName: "renewing" }, validityPeriodHours: 30, allowedUses: ["digital_signature"] }, opts);
            return { renewAt: schedule.renewAt, cert: cert.certPem };
        };
        const first = await sim.run(renewing, { now: "2027-05-01T00:00:00Z" });
        expect(first.outputs.renewAt).toBe("2027-05-01T20:00:00.000Z");
        const before = await sim.run(renewing, { now: "2027-05-01T19:59:59Z", preview: true });
        expect(ops(before)).toEqual({ sched: "same", rk: "same", rc: "same" });
        const plan = await sim.run(renewing, { now: "2027-05-01T20:00:00Z", preview: true });
        expect(ops(plan)).toEqual({ sched: "replace", rk: "replace", rc: "replace" });
        expect(plan.stepFor("rk")?.reason).toMatch(/replaceWith: .*::sched is replaced|replacementTrigger changed/);
        const up = await sim.run(renewing, { now: "2027-05-01T20:00:00Z" });
        expect(ops(up)).toEqual({ sched: "replace", rk: "replace", rc: "replace" });
        expect(up.outputs.cert).not.toBe(first.outputs.cert);
        expect(up.outputs.renewAt).toBe("2027-05-02T16:00:00.000Z");
        const after = await sim.run(renewing, { now: "2027-05-01T21:00:00Z" });
        expect(ops(after)).toEqual({ sched: "same", rk: "same", rc: "same" });
    });

    it("passes config to the program and program errors through unchanged", async () => {
        const sim = new DeploymentSimulator({ project: "mtls" });
        const result = await sim.run(
            () => {
                const cfg = new pulumi.Config();
                return { greeting: cfg.require("greeting"), secret: cfg.requireSecret("pw") };
            },
            { config: { greeting: "hello" , pw: "s3cret" }, secretConfig: ["pw"] },
        );
        expect(result.outputs).toEqual({ greeting: "hello", secret: "s3cret" });
        expect(result.secretOutputs).toEqual(["secret"]);
        await expect(sim.run(() => { throw new RangeError("bad input: clients[0].name"); })).rejects.toThrow(RangeError);
    });
});

describe("localCommandExecutor", () => {
    it("runs create with stdin, environment and dir, and returns stdout/stderr", async () => {
        const sim = new DeploymentSimulator({ executors: { "command:local:Command": localCommandExecutor } });
        const target = path.join(dir, "written.txt");
        const run = (content: string) =>
            sim.run(() => {
                const cmd = new command.local.Command("write", {
                    create: `cat > written.txt && echo "made $WHO" && echo warn >&2`,
                    update: `cat > written.txt && echo "updated from [$PULUMI_COMMAND_STDOUT]"`,
                    delete: `rm -f written.txt && echo bye > deleted.txt`,
                    stdin: content,
                    dir,
                    environment: { WHO: "tester" },
                });
                return { stdout: cmd.stdout, stderr: cmd.stderr };
            });
        const created = await run("secret material");
        expect(fs.readFileSync(target, "utf8")).toBe("secret material");
        expect(created.outputs).toEqual({ stdout: "made tester", stderr: "warn" });

        const updated = await run("new material");
        expect(updated.stepFor("write")?.op).toBe("update");
        expect(fs.readFileSync(target, "utf8")).toBe("new material");
        expect(updated.outputs.stdout).toBe("updated from [made tester]");

        await sim.destroy();
        expect(fs.existsSync(target)).toBe(false);
        expect(fs.readFileSync(path.join(dir, "deleted.txt"), "utf8")).toBe("bye\n");
    });

    it("replaces a Command when its triggers change, even with an update script (the SDK sends replaceOnChanges)", async () => {
        const sim = new DeploymentSimulator({ executors: { "command:local:Command": localCommandExecutor } });
        const run = (trigger: string) => sim.run(() => void new command.local.Command("t", { create: "echo c", update: "echo u", triggers: [trigger], dir }));
        await run("a");
        const second = await run("b");
        expect(second.stepFor("t")).toMatchObject({ op: "replace", reason: expect.stringMatching(/replaceOnChanges: triggers\[\*\]/) });
        expect(second.resource("t")?.options.replaceOnChanges).toEqual(["triggers[*]"]);
    });

    it("fails the run with the command's output when it exits non-zero", async () => {
        const sim = new DeploymentSimulator({ executors: { "command:local:Command": localCommandExecutor } });
        const failing = sim.run(() => void new command.local.Command("boom", { create: "echo partial; echo 'no such thing' >&2; exit 3", dir }));
        await expect(failing).rejects.toThrow(/urn:pulumi:stack::project::command:local:Command::boom: exit status 3: running "echo partial; .*exit 3":\npartial\nno such thing/);
    });

    it("records command resources without running them by default", async () => {
        const sim = new DeploymentSimulator();
        const marker = path.join(dir, "ran");
        const result = await sim.run(() => void new command.local.Command("quiet", { create: `touch ${marker}` }));
        expect(result.stepFor("quiet")?.op).toBe("create");
        expect(fs.existsSync(marker)).toBe(false);
    });
});
