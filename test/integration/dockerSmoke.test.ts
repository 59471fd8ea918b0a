/**
 * OPT-IN smoke test of the Docker target with a real Docker engine. It runs only where `docker info`
 * succeeds; elsewhere jest reports its tests as skipped, and the file prints the reason.
 *
 * When it runs, it deploys MtlsNginx with `target: { kind: "docker" }` through the deployment simulator,
 * whose executors here do for real what the docker provider would: `docker pull` the pinned image
 * (nginx:1.28.0), `docker volume create`, `docker run` the container with exactly the arguments the
 * component declares (read-only root, tmpfs, init, dropped capabilities, no-new-privileges, restart
 * policy, healthcheck, 127.0.0.1:<free port> -> 8443), and the install command runs for real
 * (`docker exec -i <container> /bin/sh -c '<install script>'`, the release on stdin). Then it checks:
 * 1. the first release is live: alice's certificate gets 200, no certificate gets 400; the container
 *    becomes healthy;
 * 2. a server certificate rotation (generation 2) is installed by docker exec with a graceful reload:
 *    the new certificate is served, the container step is "same" and the container was neither
 *    recreated nor restarted (same id, same StartedAt);
 * 3. `docker restart` (as after a host reboot): the entry script starts nginx again with the current
 *    release from the volume;
 * 4. destroy: uninstall through docker exec, container and volume removed (the image is kept).
 * Names are unique per run (mtls-smoke-<random>); afterAll removes the container and volume whatever happens.
 * It needs network access to pull the image, and ports on 127.0.0.1 only.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MtlsNginx, MtlsNginxArgs } from "../../components/mtlsNginx";
import { curlGet, writeFile } from "../support/clients";
import { DeploymentSimulator, Executor, localCommandExecutor, RunResult } from "../support/engine";
import { makeTestDir } from "../support/nginx";
import { freePort } from "../support/ports";

const IMAGE = "docker:index/remoteImage:RemoteImage";
const VOLUME = "docker:index/volume:Volume";
const NETWORK = "docker:index/network:Network";
const CONTAINER = "docker:index/container:Container";

function dockerInfoOk(): boolean {
    const r = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
    return r.status === 0 && (r.stdout ?? "").trim() !== "";
}

const HAVE_DOCKER = dockerInfoOk();

function docker(args: string[], opts: { allowFailure?: boolean } = {}): string {
    const r = spawnSync("docker", args, { encoding: "utf8", timeout: 600_000 });
    if (r.status !== 0 && !opts.allowFailure) throw new Error(`docker ${args.slice(0, 3).join(" ")} ... failed (${r.status}): ${r.stderr}`);
    return (r.stdout ?? "").trim();
}

/** `docker run` arguments for the docker provider's Container inputs the component uses. */
function runArgs(i: Record<string, any>): string[] {
    const a = ["run", "-d", "--name", i.name];
    if (i.init) a.push("--init");
    if (i.readOnly) a.push("--read-only");
    if (i.privileged) a.push("--privileged");
    if (i.restart) a.push("--restart", i.restart);
    if (i.logDriver) a.push("--log-driver", i.logDriver);
    for (const [k, v] of Object.entries(i.logOpts ?? {})) a.push("--log-opt", `${k}=${v}`);
    for (const [p, o] of Object.entries(i.tmpfs ?? {})) a.push("--tmpfs", `${p}:${o}`);
    for (const c of i.capabilities?.drops ?? []) a.push("--cap-drop", c);
    for (const c of i.capabilities?.adds ?? []) a.push("--cap-add", c);
    for (const s of i.securityOpts ?? []) a.push("--security-opt", s);
    if (i.stopSignal) a.push("--stop-signal", i.stopSignal);
    if (i.stopTimeout) a.push("--stop-timeout", String(i.stopTimeout));
    for (const p of i.ports ?? []) a.push("-p", `${p.ip.includes(":") ? `[${p.ip}]` : p.ip}:${p.external}:${p.internal}/${p.protocol ?? "tcp"}`);
    for (const m of i.mounts ?? []) a.push("--mount", `type=${m.type},source=${m.source},target=${m.target}${m.readOnly ? ",readonly" : ""}`);
    for (const n of i.networksAdvanced ?? []) {
        a.push("--network", n.name);
        for (const alias of n.aliases ?? []) a.push("--network-alias", alias);
    }
    for (const l of i.labels ?? []) a.push("--label", `${l.label}=${l.value}`);
    const h = i.healthcheck;
    if (h) {
        expect(h.tests[0]).toBe("CMD-SHELL");
        a.push("--health-cmd", h.tests[1], "--health-interval", h.interval, "--health-timeout", h.timeout, "--health-retries", String(h.retries), "--health-start-period", h.startPeriod);
    }
    const [entrypoint, ...entryArgs] = i.entrypoints ?? [];
    if (entrypoint) a.push("--entrypoint", entrypoint);
    a.push(i.image, ...entryArgs, ...(i.command ?? []));
    return a;
}

/** What the docker provider does, through the docker CLI (the default Docker host of this machine). */
const dockerExecutors: Record<string, Executor> = {
    [IMAGE]: {
        create(ctx) {
            docker(["pull", ctx.inputs.name]);
            const imageId = docker(["image", "inspect", "--format", "{{.Id}}", ctx.inputs.name]);
            return { id: `${imageId}${ctx.inputs.name}`, outputs: { ...ctx.inputs, imageId, repoDigest: "" } };
        },
        delete() {
            /* keepLocally: true */
        },
    },
    [VOLUME]: {
        create(ctx) {
            docker(["volume", "create", ...(ctx.inputs.labels ?? []).flatMap((l: any) => ["--label", `${l.label}=${l.value}`]), ctx.inputs.name]);
            return { id: ctx.inputs.name, outputs: { ...ctx.inputs } };
        },
        delete(ctx) {
            docker(["volume", "rm", "-f", ctx.inputs.name]);
        },
    },
    [NETWORK]: {
        create(ctx) {
            const id = docker(["network", "create", "--driver", ctx.inputs.driver ?? "bridge", ctx.inputs.name]);
            return { id, outputs: { ...ctx.inputs } };
        },
        delete(ctx) {
            docker(["network", "rm", ctx.inputs.name]);
        },
    },
    [CONTAINER]: {
        create(ctx) {
            const id = docker(runArgs(ctx.inputs));
            return { id, outputs: { ...ctx.inputs } };
        },
        delete(ctx) {
            docker(["rm", "-f", ctx.inputs.name]);
        },
    },
    "command:local:Command": localCommandExecutor,
};

const NO_DOCKER = "no Docker engine (docker info failed)";
// Jest prints no titles for a file whose tests are all skipped: say why here too.
// eslint-disable-next-line no-console
if (!HAVE_DOCKER) console.log(`SKIPPED dockerSmoke.test.ts: ${NO_DOCKER}`);

(HAVE_DOCKER ? describe : describe.skip)(`Docker smoke test: MtlsNginx in a real container${HAVE_DOCKER ? "" : ` [skipped: ${NO_DOCKER}]`}`, () => {
    const suffix = crypto.randomBytes(3).toString("hex");
    const name = `mtls-smoke-${suffix}`;
    let dir: string;
    let port: number;
    let sim: DeploymentSimulator;
    let first: RunResult;
    let caFile: string;
    let alice: { cert: string; key: string };

    const args = (generation: number): MtlsNginxArgs => ({
        ca: { commonName: "Smoke Root CA", intermediate: true },
        server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], generation },
        clients: [{ name: "alice" }],
        site: { listen: { address: "0.0.0.0", port: 8443 }, mode: { kind: "static" } },
        target: {
            kind: "docker",
            containerName: name,
            volumeName: name,
            ports: [{ hostIp: "127.0.0.1", hostPort: port }],
            healthcheck: { intervalSeconds: 2, timeoutSeconds: 2, retries: 3, startPeriodSeconds: 5 },
            liveCheck: { timeoutSeconds: 20 },
        },
    });
    const program = (generation: number) => () => {
        const m = new MtlsNginx("smoke", args(generation));
        return {
            releaseId: m.site.releaseId,
            caCertPem: m.caCertPem,
            serverCertPem: m.serverCertificate!.certPem,
            alice: pulumi.all({ cert: m.clients.alice.fullChainPem, key: m.clients.alice.keyPem }),
        };
    };
    const inspect = (format: string) => docker(["inspect", "--format", format, name]);
    const fingerprint = (pem: string) => new crypto.X509Certificate(pem).fingerprint256;
    const served = () => {
        const r = spawnSync("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"], { input: "", encoding: "utf8", timeout: 15_000 });
        const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout ?? "")?.[0];
        return pem ? fingerprint(pem) : "";
    };
    async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        while (!check()) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; docker logs:\n${docker(["logs", "--tail", "50", name], { allowFailure: true })}`);
            await new Promise((r) => setTimeout(r, 500));
        }
    }

    beforeAll(async () => {
        dir = makeTestDir("docker-smoke");
        port = await freePort();
        sim = new DeploymentSimulator({ executors: dockerExecutors });
        first = await sim.run(program(1), { now: new Date() });
        const files = path.join(dir, "client");
        fs.mkdirSync(files, { mode: 0o700 });
        caFile = writeFile(files, "ca.crt", first.outputs.caCertPem);
        alice = { cert: writeFile(files, "alice.crt", first.outputs.alice.cert), key: writeFile(files, "alice.key", first.outputs.alice.key, 0o600) };
    }, 900_000);

    afterAll(async () => {
        docker(["rm", "-f", name], { allowFailure: true });
        docker(["volume", "rm", "-f", name], { allowFailure: true });
    }, 120_000);

    it("installs the first release with docker exec; alice gets in, no certificate does not; the container turns healthy", async () => {
        expect(first.resource("smoke-site-install")!.outputs.stdout).toContain(`release ${first.outputs.releaseId} is live (start;`);
        const ok = curlGet({ port, caFile }, { kind: "pem", cert: alice.cert, key: alice.key });
        expect(ok.status).toBe(200);
        expect(ok.body).toContain("You are in.");
        expect(curlGet({ port, caFile }, { kind: "none" }).status).toBe(400);
        await waitFor("the container to be healthy", () => inspect("{{.State.Health.Status}}") === "healthy");
        expect(inspect("{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Privileged}} {{.HostConfig.RestartPolicy.Name}}")).toBe("true false unless-stopped");
    }, 120_000);

    it("rotates the server certificate through docker exec without recreating or restarting the container", async () => {
        const before = { id: inspect("{{.Id}}"), started: inspect("{{.State.StartedAt}}") };
        const rotated = await sim.run(program(2), { now: new Date() });
        expect(rotated.stepFor("smoke-site-container")!.op).toBe("same");
        expect(rotated.stepFor("smoke-site-image")!.op).toBe("same");
        expect(["update", "replace"]).toContain(rotated.stepFor("smoke-site-install")!.op);
        expect(rotated.resource("smoke-site-install")!.outputs.stdout).toContain(`release ${rotated.outputs.releaseId} is live (reload; previous: ${first.outputs.releaseId}`);
        expect(served()).toBe(fingerprint(rotated.outputs.serverCertPem));
        expect({ id: inspect("{{.Id}}"), started: inspect("{{.State.StartedAt}}") }).toEqual(before);
        expect(curlGet({ port, caFile }, { kind: "pem", cert: alice.cert, key: alice.key }).status).toBe(200);
    }, 300_000);

    it("after docker restart, the entry script serves the current release from the volume again", async () => {
        docker(["restart", name]);
        await waitFor("the site to answer after the restart", () => curlGet({ port, caFile }, { kind: "pem", cert: alice.cert, key: alice.key }).status === 200);
        expect(docker(["logs", name], { allowFailure: true })).toMatch(/starting nginx with release [0-9a-f]{16}/);
    }, 120_000);

    it("destroy uninstalls through docker exec and removes the container and the volume", async () => {
        await sim.destroy();
        expect(docker(["ps", "-a", "--filter", `name=^${name}$`, "--format", "{{.Names}}"])).toBe("");
        expect(docker(["volume", "ls", "--filter", `name=^${name}$`, "--format", "{{.Name}}"])).toBe("");
    }, 120_000);
});
