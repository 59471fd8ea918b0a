/**
 * Conformance of our `command` plugin stand-in (scripts/engine/command) with pulumi-command v1.2.1,
 * under the real Pulumi engine. The same programs run against both plugins, each with its own
 * PULUMI_HOME and backend, and everything the engine reports is compared: steps and diffs per input
 * change, outputs (unknowns in previews), diagnostics and status lines, the checkpoint with and
 * without secrets, and what the commands themselves saw (stdin, environment, order of runs).
 *
 * Nothing is built here. Set:
 *   MTLS_NGINX_ENGINE_BIN                 a directory with pulumi, pulumi-language-nodejs, pulumi-resource-pulumi-nodejs
 *   MTLS_NGINX_STANDIN_COMMAND_PLUGIN     the stand-in binary (go build in scripts/engine/command)
 *   MTLS_NGINX_REFERENCE_COMMAND_PLUGIN   a pulumi-command v1.2.1 binary
 * The remote part also needs Debian's openssh-server (a throwaway sshd on 127.0.0.1; as root, its
 * privilege-separation directory /run/sshd is created when missing).
 *
 * Known, deliberate differences (not compared): the stand-in's wording of its advice when the SSH
 * server refuses an environment variable; assetPaths/archivePaths (refused by the stand-in's
 * check); a single output line over 64 KiB with logging on (the reference hangs, the stand-in logs it).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort } from "../support/ports";
import { EngineRun, EngineSide, LOCKED_KEY_PASSPHRASE, Scenario, ScenarioResource, ThrowawaySshd, UNKNOWN, killLeftovers, sshdUnavailable } from "./commandStandinHarness";

const ENGINE_BIN = process.env.MTLS_NGINX_ENGINE_BIN;
const STANDIN = process.env.MTLS_NGINX_STANDIN_COMMAND_PLUGIN;
const REFERENCE = process.env.MTLS_NGINX_REFERENCE_COMMAND_PLUGIN;

function whyNotRunnable(): string | undefined {
    const missing: string[] = [];
    if (!ENGINE_BIN) missing.push("MTLS_NGINX_ENGINE_BIN not set");
    else for (const b of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs"]) if (!fs.existsSync(path.join(ENGINE_BIN, b))) missing.push(`${b} not in MTLS_NGINX_ENGINE_BIN`);
    if (!STANDIN) missing.push("MTLS_NGINX_STANDIN_COMMAND_PLUGIN not set");
    else if (!fs.existsSync(STANDIN)) missing.push(`stand-in plugin ${STANDIN} missing`);
    if (!REFERENCE) missing.push("MTLS_NGINX_REFERENCE_COMMAND_PLUGIN not set");
    else if (!fs.existsSync(REFERENCE)) missing.push(`reference plugin ${REFERENCE} missing`);
    return missing.length > 0 ? missing.join("; ") : undefined;
}

const skipAll = whyNotRunnable();
const skipRemote = skipAll ?? sshdUnavailable();
if (skipRemote) {
    // Jest prints no titles for a file whose tests are all skipped: say why here too.
    // eslint-disable-next-line no-console
    console.log(`SKIPPED commandStandin.test.ts${skipAll ? "" : " (remote part)"}: ${skipRemote}`);
}
const maybe = skipAll ? describe.skip : describe;
const maybeRemote = skipRemote ? describe.skip : describe;

jest.setTimeout(600_000);

interface Pair<T> {
    reference: T;
    standin: T;
}

let tmp = "";
let sides: Pair<EngineSide>;

/** Runs f on both sides at once. */
async function both<T>(f: (side: EngineSide) => Promise<T>): Promise<Pair<T>> {
    const [reference, standin] = await Promise.all([f(sides.reference), f(sides.standin)]);
    return { reference, standin };
}

/** Runs an engine operation on both sides and asserts they report the same. */
async function same(what: string, f: (side: EngineSide) => Promise<unknown>): Promise<Pair<any>> {
    const r = await both(f);
    expect({ what, report: r.standin }).toEqual({ what, report: r.reference });
    return r;
}

/** Applies a scenario on both sides: preview, then up, then the checkpoint both ways, then the logs. */
async function step(label: string, scenario: Scenario, logs: string[]): Promise<Pair<EngineRun>> {
    await same(`${label}: preview`, (s) => s.preview(scenario));
    const run = await same(`${label}: up`, (s) => s.up(scenario));
    await same(`${label}: checkpoint`, (s) => s.checkpoint(false));
    await same(`${label}: checkpoint --show-secrets`, (s) => s.checkpoint(true));
    await same(`${label}: what the commands saw`, async (s) => Object.fromEntries(logs.map((n) => [n, s.log(n)])));
    return run;
}

const local = (name: string, args: Record<string, unknown>, extra: Partial<ScenarioResource> = {}): ScenarioResource => ({ kind: "local", name, args, ...extra });

maybe(`command stand-in agrees with pulumi-command v1.2.1 under the real engine${skipAll ? ` (SKIPPED: ${skipAll})` : ""}`, () => {
    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtls-nginx-command-standin-"));
        sides = {
            reference: new EngineSide("reference", REFERENCE!, ENGINE_BIN!, tmp),
            standin: new EngineSide("standin", STANDIN!, ENGINE_BIN!, tmp),
        };
        await both((s) => s.setUp());
    });

    afterAll(() => {
        killLeftovers();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    test("local: create, update (with and without an update command), replace, refresh and destroy", async () => {
        await both((s) => s.newStack("local-lifecycle"));
        const log = (n: string) => `>> {WORK}/${n}.log`;
        const main = (o: { create: string; update?: string; foo: string; triggers: string[] }) =>
            local(
                "main",
                {
                    create: o.create,
                    ...(o.update ? { update: o.update } : {}),
                    delete: `echo "delete main prev=[$PULUMI_COMMAND_STDOUT] preverr=[$PULUMI_COMMAND_STDERR]" ${log("main")}`,
                    stdin: "stdin-secret",
                    environment: { FOO: o.foo },
                    dir: "{WORK}",
                    triggers: o.triggers,
                },
                { secret: ["stdin"] },
            );
        const create1 = `echo "create main stdin=[$(cat)] foo=[$FOO] dir=[$(pwd)] prev=[$PULUMI_COMMAND_STDOUT]" ${log("main")}; echo out-1; echo out-2; echo; echo err-1 >&2`;
        const update = `echo "update main stdin=[$(cat)] foo=[$FOO] prev=[$PULUMI_COMMAND_STDOUT] preverr=[$PULUMI_COMMAND_STDERR]" ${log("main")}; printf updated-no-newline`;
        // Shaped like NginxSite's installer: secret stdin, logging none, no previous output, create = update.
        const quietRun = `echo "run quiet stdin=[$(cat)] prev=[$PULUMI_COMMAND_STDOUT]" ${log("quiet")}; echo quiet-out; echo quiet-err >&2`;
        const quiet = (stdin: string, hash: string) =>
            local(
                "quiet",
                { create: quietRun, update: quietRun, delete: `echo "delete quiet prev=[$PULUMI_COMMAND_STDOUT]" ${log("quiet")}`, stdin, triggers: [hash], logging: "none", addPreviousOutputInEnv: false },
                { secret: ["stdin"] },
            );
        const others = [
            local("interp", { create: 'echo "shell=[$0]"', interpreter: ["/bin/bash", "-c"] }),
            local("dependent", { create: "echo dependent" }, { createAfter: "main" }),
            local("nocreate", { delete: `echo "delete nocreate prev=[$PULUMI_COMMAND_STDOUT]" ${log("nocreate")}` }),
            local("secretcreate", { create: "echo secret-create-ran" }, { secret: ["create"] }),
        ];
        const logs = ["main", "quiet", "nocreate"];

        const first = await step("create", { resources: [main({ create: create1, update, foo: "one", triggers: ["t1"] }), quiet("payload-1", "h1"), ...others] }, logs);
        expect(first.reference.succeeded).toBe(true);
        expect(sides.reference.log("main")).toBe("create main stdin=[stdin-secret] foo=[one] dir=[<ROOT>/work] prev=[]\n");
        expect(first.reference.diagnostics.filter((d) => d.startsWith("quiet"))).toEqual([]);
        // Secrecy is by name: stdin (or create) secret in, the same field secret out; stdout and stderr
        // are never secret. (Compared above for every field; stated here because our installer relies on it.)
        const saved = (await same("secrecy", (s) => s.checkpoint(false))).reference as Array<{ urn: string; outputs: Record<string, unknown> }>;
        const outputsOf = (n: string) => saved.find((r) => r.urn.endsWith(`::${n}`))!.outputs;
        expect(outputsOf("quiet")).toMatchObject({ stdin: { secret: "<ciphertext>" }, stdout: "quiet-out", stderr: "quiet-err" });
        expect(outputsOf("secretcreate")).toMatchObject({ create: { secret: "<ciphertext>" }, stdout: "secret-create-ran" });

        // create and environment change, update set: an update running `update` with the previous output.
        // quiet's stdin changes: an update running its update command, without the previous output.
        await step("change create and environment", { resources: [main({ create: `${create1} # v2`, update, foo: "two", triggers: ["t1"] }), quiet("payload-2", "h1"), ...others] }, logs);
        expect(sides.reference.log("main")).toContain("update main stdin=[stdin-secret] foo=[two] prev=[out-1\nout-2\n] preverr=[err-1]");
        expect(sides.reference.log("quiet")).toBe("run quiet stdin=[payload-1] prev=[]\nrun quiet stdin=[payload-2] prev=[]\n");

        // No update command: the update runs `create`.
        await step("drop update, change environment", { resources: [main({ create: `${create1} # v2`, foo: "three", triggers: ["t1"] }), quiet("payload-2", "h1"), ...others] }, logs);
        expect(sides.reference.log("main")).toContain("create main stdin=[stdin-secret] foo=[three] dir=[<ROOT>/work] prev=[updated-no-newline]");

        // Triggers: a replacement (create of the new one, then delete of the old one with its output).
        await step("change triggers", { resources: [main({ create: `${create1} # v2`, foo: "three", triggers: ["t2"] }), quiet("payload-2", "h2"), ...others] }, logs);
        expect(sides.reference.log("main")).toMatch(/create main stdin=\[stdin-secret\] foo=\[three\] dir=\[<ROOT>\/work\] prev=\[\]\ndelete main prev=\[out-1\nout-2\n\] preverr=\[err-1\]\n$/);

        await same("refresh", (s) => s.refresh());
        await same("checkpoint after refresh", (s) => s.checkpoint(true));

        await same("destroy", (s) => s.destroy());
        await same("what the deletes saw", async (s) => Object.fromEntries(logs.map((n) => [n, s.log(n)])));
        await same("checkpoint after destroy", (s) => s.checkpoint(true));
        expect(sides.reference.log("nocreate")).toBe("delete nocreate prev=[]\n");
    });

    test("local: each kind of input change, alone, gives the same step and runs the same command", async () => {
        await both((s) => s.newStack("local-variants"));
        // Every variant is its own resource, created alike, then changed in one input: one preview and
        // one update cover them all. Each command logs which resource ran what, with what it saw.
        const run = (name: string, op: string) =>
            `echo "${name} ${op} stdin=[$(cat)] foo=[$FOO] dir=[$(pwd)] prev=[$PULUMI_COMMAND_STDOUT]" >> {WORK}/${name}.log; echo ${op}-out`;
        const base = (name: string): Record<string, unknown> => ({
            create: run(name, "create"),
            update: run(name, "update"),
            delete: run(name, "delete"),
            stdin: "variant-stdin",
            // A given PULUMI_COMMAND_STDOUT is overridden by the previous output, once there is one.
            environment: { FOO: "f1", PULUMI_COMMAND_STDOUT: "from-environment" },
            dir: "{WORK}",
            interpreter: ["/bin/sh", "-c"],
            triggers: ["t1"],
            logging: "stdout",
            addPreviousOutputInEnv: true,
        });
        const variants: Record<string, (name: string) => Record<string, unknown>> = {
            same: () => ({}),
            create: (n) => ({ create: `${run(n, "create")} # v2` }),
            update: (n) => ({ update: `${run(n, "update")} # v2` }),
            dropUpdate: () => ({ update: undefined }),
            delete: (n) => ({ delete: `${run(n, "delete")} # v2` }),
            stdin: () => ({ stdin: "variant-stdin-2" }),
            emptyStdin: () => ({ stdin: "" }),
            environment: () => ({ environment: { FOO: "f2", PULUMI_COMMAND_STDOUT: "from-environment" } }),
            dir: () => ({ dir: "/" }),
            interpreter: () => ({ interpreter: ["/bin/bash", "-c"] }),
            triggers: () => ({ triggers: ["t2"] }),
            addTrigger: () => ({ triggers: ["t1", "t2"] }),
            dropTriggers: () => ({ triggers: undefined }),
            logging: () => ({ logging: "none" }),
            noPreviousOutput: () => ({ addPreviousOutputInEnv: false }),
        };
        const scenario = (changed: boolean): Scenario => ({
            resources: Object.entries(variants).map(([variant, change]) => {
                const name = `v-${variant}`;
                const args = { ...base(name), ...(changed ? change(name) : {}) };
                for (const k of Object.keys(args)) if (args[k] === undefined) delete args[k];
                return local(name, args, { secret: ["stdin"] });
            }),
        });
        const logs = Object.keys(variants).map((v) => `v-${v}`);
        await step("create the variants", scenario(false), logs);
        const changed = await step("change one input each", scenario(true), logs);
        const ops = Object.fromEntries(Object.entries(changed.reference.steps).map(([n, s]) => [n, (s as Array<{ op: string }>).map((x) => x.op)]));
        const replaced = ["create-replacement", "replace", "delete-replaced"];
        expect(ops).toEqual({
            ...Object.fromEntries(Object.keys(variants).filter((v) => v !== "same").map((v) => [`v-${v}`, ["update"]])),
            "v-triggers": replaced,
            "v-addTrigger": replaced,
            "v-dropTriggers": replaced,
        });
        await same("destroy", (s) => s.destroy());
        const seen = await same("what the deletes saw", async (s) => Object.fromEntries(logs.map((n) => [n, s.log(n)])));
        // What our installer relies on: update runs `update` (or `create`), with the previous output
        // unless addPreviousOutputInEnv is false; the stdin is fed; an empty stdin is no stdin.
        expect(seen.reference["v-stdin"]).toContain("v-stdin update stdin=[variant-stdin-2] foo=[f1] dir=[<ROOT>/work] prev=[create-out]");
        expect(seen.reference["v-dropUpdate"]).toContain("v-dropUpdate create stdin=[variant-stdin] foo=[f1] dir=[<ROOT>/work] prev=[create-out]");
        expect(seen.reference["v-noPreviousOutput"]).toContain("v-noPreviousOutput update stdin=[variant-stdin] foo=[f1] dir=[<ROOT>/work] prev=[from-environment]");
        expect(seen.reference["v-same"]).toBe(
            "v-same create stdin=[variant-stdin] foo=[f1] dir=[<ROOT>/work] prev=[from-environment]\nv-same delete stdin=[variant-stdin] foo=[f1] dir=[<ROOT>/work] prev=[create-out]\n",
        );
    });

    test("local: failing commands report the command and its output, and keep the state as it was", async () => {
        await both((s) => s.newStack("local-failures"));
        const failing = "echo out-before; sleep 0.3; echo err-before >&2; exit 3";
        const base = [
            local("failcreate", { create: failing, stdin: "never-printed" }, { secret: ["stdin"] }),
            local("nodir", { create: "echo hi", dir: "{WORK}/missing" }),
            local("nointerp", { create: "echo hi", interpreter: ["{WORK}/no-such-shell", "-c"] }),
            local("faildelete", { create: "echo made", delete: "echo cannot-delete; sleep 0.3; echo cannot >&2; exit 4" }),
        ];
        const failupdate = (v: string) => local("failupdate", { create: "echo v1", update: "echo update-out; exit 5", environment: { V: v } });

        const first = await step("failing creates", { resources: [...base, failupdate("1")] }, []);
        expect(first.reference.succeeded).toBe(false);
        expect(first.reference.diagnostics).toContain(
            `failcreate error: exit status 3: running ${JSON.stringify(failing)}:\nout-before\nerr-before\n\n`,
        );

        const second = await step("failing update", { resources: [...base, failupdate("2")] }, []);
        expect(second.reference.diagnostics).toContain('failupdate error: exit status 5: running "echo update-out; exit 5":\nupdate-out\n\n');

        await same("destroy with a failing delete", (s) => s.destroy());
        await same("checkpoint after the failed destroy", (s) => s.checkpoint(true));
    });

    test("local: logging decides which lines reach the engine, never what is captured", async () => {
        await both((s) => s.newStack("local-logging"));
        const print = "echo o1; echo; echo o2; sleep 0.3; echo e1 >&2; sleep 0.3; printf o3-no-newline";
        const modes: Array<string | undefined> = [undefined, "stdout", "stderr", "stdoutAndStderr", "none", "bogus"];
        const resources = modes.map((m) => local(`log-${m ?? "unset"}`, { create: print, ...(m ? { logging: m } : {}) }));
        const run = await step("logging modes", { resources }, []);
        expect(run.reference.diagnostics.filter((d) => d.startsWith("log-none") || d.startsWith("log-bogus"))).toEqual([]);
    });

    maybeRemote(`remote${skipRemote && !skipAll ? ` (SKIPPED: ${skipRemote})` : ""}`, () => {
        let sshd: ThrowawaySshd | undefined;

        beforeAll(async () => {
            sshd = new ThrowawaySshd(tmp);
            await sshd.start();
        });

        afterAll(() => sshd?.stop());

        const remote = (name: string, args: Record<string, unknown>, connection: Record<string, unknown> = {}, extra: Partial<ScenarioResource> = {}): ScenarioResource => ({
            kind: "remote",
            name,
            args,
            connection: { host: "127.0.0.1", port: sshd!.port, user: sshd!.user, privateKeyFile: sshd!.clientKeyFile, ...connection },
            ...extra,
        });

        test("remote: create, update, replace and destroy over SSH, through a proxy, with a pinned host key", async () => {
            await both((s) => s.newStack("remote-lifecycle"));
            const log = (n: string) => `>> {WORK}/${n}.log`;
            const rmain = (o: { create: string; accepted: string; triggers: number[]; perDialTimeout?: number }) =>
                remote(
                    "rmain",
                    {
                        create: o.create,
                        update: `echo "update rmain stdin=[$(cat)] acc=[$MTLS_ACCEPTED] prev=[$PULUMI_COMMAND_STDOUT] preverr=[$PULUMI_COMMAND_STDERR]" ${log("rmain")}; echo rupdated`,
                        delete: `echo "delete rmain prev=[$PULUMI_COMMAND_STDOUT] preverr=[$PULUMI_COMMAND_STDERR]" ${log("rmain")}`,
                        stdin: "remote-secret",
                        environment: { MTLS_ACCEPTED: o.accepted },
                        triggers: o.triggers,
                    },
                    o.perDialTimeout ? { perDialTimeout: o.perDialTimeout } : {},
                    { secret: ["stdin"] },
                );
            const create = `echo "create rmain stdin=[$(cat)] acc=[$MTLS_ACCEPTED] prev=[$PULUMI_COMMAND_STDOUT]" ${log("rmain")}; echo rout; echo rerr >&2`;
            // Shaped like NginxSite's SSH installer: /bin/sh -c wrapper, secret stdin, logging none.
            const quietRun = `/bin/sh -c 'echo "run rquiet stdin=[$(cat)] prev=[$PULUMI_COMMAND_STDOUT]" ${log("rquiet")}; echo q-out; echo q-err >&2'`;
            const rquiet = (stdin: string) =>
                remote(
                    "rquiet",
                    { create: quietRun, update: quietRun, delete: `/bin/sh -c 'echo "delete rquiet" ${log("rquiet")}'`, stdin, triggers: ["h1"], logging: "none", addPreviousOutputInEnv: false },
                    {},
                    { secret: ["stdin"] },
                );
            const others = () => [
                remote("rproxy", { create: "echo via-proxy" }, { proxy: { host: "127.0.0.1", port: sshd!.port, user: sshd!.user, privateKeyFile: sshd!.clientKeyFile } }),
                remote("rhostkey", { create: "echo pinned" }, { hostKey: sshd!.hostPublicKey }),
                remote("rlocked", { create: "echo unlocked" }, { privateKeyFile: sshd!.lockedKeyFile, privateKeyPassword: LOCKED_KEY_PASSPHRASE }),
            ];
            const logs = ["rmain", "rquiet"];

            const first = await step("create", { resources: [rmain({ create, accepted: "a1", triggers: [1] }), rquiet("payload-1"), ...others()] }, logs);
            expect(first.reference.succeeded).toBe(true);
            expect(sides.reference.log("rmain")).toBe("create rmain stdin=[remote-secret] acc=[a1] prev=[]\n");

            // PULUMI_COMMAND_STDOUT is accepted by the server, PULUMI_COMMAND_STDERR is not (a warning).
            const second = await step("change create, environment and connection", { resources: [rmain({ create: `${create} # v2`, accepted: "a2", triggers: [1], perDialTimeout: 7 }), rquiet("payload-2"), ...others()] }, logs);
            expect(second.reference.diagnostics).toContain("rmain warning: Unable to set 'PULUMI_COMMAND_STDERR' <advice>\n");
            expect(sides.reference.log("rmain")).toContain("update rmain stdin=[remote-secret] acc=[a2] prev=[rout] preverr=[]");

            await step("change triggers", { resources: [rmain({ create: `${create} # v2`, accepted: "a2", triggers: [2], perDialTimeout: 7 }), rquiet("payload-2"), ...others()] }, logs);

            await same("destroy", (s) => s.destroy());
            await same("what the deletes saw", async (s) => Object.fromEntries(logs.map((n) => [n, s.log(n)])));
        });

        test("remote: each kind of input change, alone, gives the same step and runs the same command", async () => {
            await both((s) => s.newStack("remote-variants"));
            const run = (name: string, op: string) =>
                `echo "${name} ${op} stdin=[$(cat)] acc=[$MTLS_ACCEPTED] prev=[$PULUMI_COMMAND_STDOUT]" >> {WORK}/${name}.log; echo ${op}-out`;
            const base = (name: string): Record<string, unknown> => ({
                create: run(name, "create"),
                update: run(name, "update"),
                delete: run(name, "delete"),
                stdin: "variant-stdin",
                environment: { MTLS_ACCEPTED: "a1" },
                triggers: [1],
                logging: "stdoutAndStderr",
            });
            const variants: Record<string, { args?: (name: string) => Record<string, unknown>; connection?: Record<string, unknown> }> = {
                same: {},
                create: { args: (n) => ({ create: `${run(n, "create")} # v2` }) },
                dropUpdate: { args: () => ({ update: undefined }) },
                delete: { args: (n) => ({ delete: `${run(n, "delete")} # v2` }) },
                stdin: { args: () => ({ stdin: "variant-stdin-2" }) },
                environment: { args: () => ({ environment: { MTLS_ACCEPTED: "a2" } }) },
                triggers: { args: () => ({ triggers: [2] }) },
                logging: { args: () => ({ logging: "none" }) },
                noPreviousOutput: { args: () => ({ addPreviousOutputInEnv: false }) },
                perDialTimeout: { connection: { perDialTimeout: 9 } },
                dialErrorLimit: { connection: { dialErrorLimit: 3 } },
                hostKey: { connection: { hostKey: sshd!.hostPublicKey } },
            };
            const scenario = (changed: boolean): Scenario => ({
                resources: Object.entries(variants).map(([variant, change]) => {
                    const name = `r-${variant}`;
                    const args = { ...base(name), ...(changed && change.args ? change.args(name) : {}) };
                    for (const k of Object.keys(args)) if (args[k] === undefined) delete args[k];
                    return remote(name, args, changed ? change.connection : {}, { secret: ["stdin"] });
                }),
            });
            const logs = Object.keys(variants).map((v) => `r-${v}`);
            await step("create the variants", scenario(false), logs);
            const changed = await step("change one input each", scenario(true), logs);
            const ops = Object.fromEntries(Object.entries(changed.reference.steps).map(([n, s]) => [n, (s as Array<{ op: string }>).map((x) => x.op)]));
            expect(ops).toEqual({
                ...Object.fromEntries(Object.keys(variants).filter((v) => v !== "same").map((v) => [`r-${v}`, ["update"]])),
                "r-triggers": ["create-replacement", "replace", "delete-replaced"],
            });
            await same("destroy", (s) => s.destroy());
            const seen = await same("what the deletes saw", async (s) => Object.fromEntries(logs.map((n) => [n, s.log(n)])));
            expect(seen.reference["r-perDialTimeout"]).toContain("r-perDialTimeout update stdin=[variant-stdin] acc=[a1] prev=[create-out]");
            expect(seen.reference["r-noPreviousOutput"]).toContain("r-noPreviousOutput update stdin=[variant-stdin] acc=[a1] prev=[]");
        });

        test("remote: dial, authentication, host key, environment and command failures", async () => {
            await both((s) => s.newStack("remote-failures"));
            const closedPort = await freePort();
            const failing = "echo out-before; sleep 0.3; echo err-before >&2; exit 3";
            const resources = [
                remote("refused", { create: "echo hi" }, { port: closedPort, dialErrorLimit: 1 }),
                remote("strangerkey", { create: "echo hi" }, { privateKeyFile: sshd!.strangerKeyFile, dialErrorLimit: 0 }),
                remote("wronghostkey", { create: "echo hi" }, { hostKey: sshd!.strangerPublicKey, dialErrorLimit: 0 }),
                remote("junkhostkey", { create: "echo hi" }, { hostKey: "junk" }),
                remote("envrefused", { create: "echo hi", environment: { NOT_ACCEPTED: "x" } }),
                remote("wrongpassphrase", { create: "echo hi" }, { privateKeyFile: sshd!.lockedKeyFile, privateKeyPassword: "not-it" }),
                remote("nopassphrase", { create: "echo hi" }, { privateKeyFile: sshd!.lockedKeyFile }),
                remote("noagent", { create: "echo hi" }, { agentSocketPath: "{WORK}/no-agent.sock" }),
                remote("rfail", { create: failing, stdin: "never-printed" }, {}, { secret: ["stdin"] }),
            ];
            const run = await step("failures", { resources }, []);
            expect(run.reference.diagnostics).toContain(`refused error: after 1 failed attempts: dial tcp 127.0.0.1:${closedPort}: connect: connection refused\n`);
            expect(run.reference.diagnostics).toContain(`rfail error: Process exited with status 3: running ${JSON.stringify(failing)}:\nout-before\nerr-before\n\n`);
            await same("destroy", (s) => s.destroy());
        });
    });

    test("previews mark outputs unknown the same way", async () => {
        // Covered by every step's preview; this checks the comparison sees unknowns at all.
        await both((s) => s.newStack("unknowns"));
        const p = await same("preview", (s) => s.preview({ resources: [local("u", { create: "echo u" })] }));
        expect(JSON.stringify(p.reference.outputs)).toContain(UNKNOWN);
    });
});
