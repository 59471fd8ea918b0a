/**
 * The Docker target under mocks (DeploymentSimulator: real-crypto tls double, dynamic providers for real,
 * docker resources and the install command recorded, never run; a docker Container is REPLACED on any
 * input change, as the docker provider's ForceNew arguments do):
 * - the resources: pinned RemoteImage (tag, digest, tag+digest), Volume, optional Network and Provider,
 *   and a Container with published ports, the volume mount, a healthcheck, restart policy, read-only
 *   root, no privileges; the install command runs the install script through `docker exec -i` against
 *   the same Docker host (DOCKER_HOST), with the release on secret stdin;
 * - no key material in any plain (non-secret) input of any resource;
 * - rotations (CRL refresh, client and server renewals) change only the install command: the container,
 *   image and volume steps are "same";
 * - bad input fails at construction with an InputError naming the input and the fix, before anything is
 *   registered;
 * - stacks/Pulumi.docker.yaml through index.ts.
 */
import * as crypto from "crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { MtlsNginx, MtlsNginxArgs } from "../../../components/mtlsNginx";
import { containerArgs } from "../../../components/nginx/dockerRuntime";
import {
    DEFAULT_DOCKER_IMAGE,
    DockerTarget,
    DockerTargetSettings,
    dockerInstallCommand,
    dockerUninstallCommand,
    imagePinProblem,
    parseImageReference,
    renderContainerEntrypoint,
    renderHealthcheck,
} from "../../../components/nginx/dockerTarget";
import { decodePayload, renderInstallScript, renderUninstallScript } from "../../../components/nginx/install";
import { uninstallInput } from "../../../components/nginx/hostTarget";
import { NginxSite } from "../../../components/nginx/site";
import { DeploymentSimulator, Executor, RunResult, SimResource, Step } from "../../support/engine";
import { configReader, PROJECT_DIR, readStackFile, toProgramConfig } from "../../support/stackConfig";
import { inConfigNamespace, readStackConfig } from "../../../components/config/stackConfig";
import { issue, makeHierarchy } from "../../support/x509";

const CONTAINER = "docker:index/container:Container";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const VOLUME = "docker:index/volume:Volume";
const NETWORK = "docker:index/network:Network";
const PROVIDER = "pulumi:providers:docker";
const LOCAL = "command:local:Command";
const DIGEST = "sha256:" + "0123456789abcdef".repeat(4);
const DAY = 86400_000;

/** docker RemoteImage as the provider answers: the pulled image's id (`imageId`) and repo digest are outputs. */
const remoteImageExecutor: Executor = {
    create(ctx) {
        const imageId = "sha256:" + crypto.createHash("sha256").update(String(ctx.inputs.name)).digest("hex");
        const repository = String(ctx.inputs.name).split("@")[0].replace(/:[^:/]+$/, "");
        return { id: `${imageId}${ctx.inputs.name}`, outputs: { ...ctx.inputs, imageId, repoDigest: `${repository}@${DIGEST}` } };
    },
};

/** A simulator with the RemoteImage answers above (docker Containers: any input change replaces). */
function newSim(): DeploymentSimulator {
    return new DeploymentSimulator({ executors: { [IMAGE]: remoteImageExecutor } });
}

function imageIdOf(result: RunResult): string {
    return only(result, IMAGE).outputs.imageId;
}

function args(target: Partial<DockerTarget> = {}, overrides: Partial<MtlsNginxArgs> = {}): MtlsNginxArgs {
    return {
        ca: { commonName: "Docker Unit Root CA", intermediate: true },
        server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] },
        clients: [{ name: "alice", validity: "12d" }, { name: "bob" }],
        site: { listen: { address: "0.0.0.0", port: 8443 }, mode: { kind: "static" } },
        target: { kind: "docker", ports: [{ hostIp: "127.0.0.1", hostPort: 18443 }], ...target },
        revocation: { crlValidity: "7d" },
        ...overrides,
    };
}

function program(a: MtlsNginxArgs = args()) {
    return () => {
        const m = new MtlsNginx("box", a);
        return {
            url: m.url,
            releaseId: m.site.releaseId,
            nextRenewal: m.nextRenewal,
            crlNextUpdate: m.crlNextUpdate,
            clientRenewAt: m.clients.alice.renewAt,
            serverRenewAt: m.serverCertificate!.renewAt,
        };
    };
}

function ofType(result: RunResult, type: string): SimResource[] {
    return [...result.resources.values()].filter((r) => r.type === type);
}

function only(result: RunResult, type: string): SimResource {
    const found = ofType(result, type);
    expect(found.map((r) => r.name)).toHaveLength(1);
    return found[0];
}

function stepsOfType(result: RunResult, type: string): Step[] {
    return result.steps.filter((s) => s.type === type);
}

/** The settings NginxSite resolved (read back from the component, for comparing command strings). */
let settings: DockerTargetSettings;

describe("NginxSite with a Docker target: the resources", () => {
    let result: RunResult;
    beforeAll(async () => {
        result = await newSim().run(() => {
            const m = new MtlsNginx("box", args());
            settings = m.site.target as DockerTargetSettings;
            return { url: m.url, releaseId: m.site.releaseId };
        });
    });

    it("creates the image, volume, container and install command as children of the site, named <site>-<role>", () => {
        const site = result.resource("box-site")!;
        const children = [...result.resources.values()].filter((r) => r.parent === site.urn).map((r) => `${r.type} ${r.name}`);
        expect(children.sort()).toEqual([`${CONTAINER} box-site-container`, `${IMAGE} box-site-image`, `${VOLUME} box-site-volume`, `${LOCAL} box-site-install`].sort());
        expect(ofType(result, NETWORK)).toEqual([]);
        expect(ofType(result, PROVIDER)).toEqual([]); // the default provider: docker:host / DOCKER_HOST / local socket
        expect(result.outputs.url).toBe("https://localhost:18443/"); // the published host port
    });

    it("pulls a pinned image (default nginx:1.28.0, fixed for CVE-2025-23419) and keeps it on destroy", () => {
        const image = only(result, IMAGE);
        expect(image.inputs).toMatchObject({ name: DEFAULT_DOCKER_IMAGE, keepLocally: true });
        expect(DEFAULT_DOCKER_IMAGE).toBe("nginx:1.28.0");
        // the container runs the image the provider pulled (by its id)
        expect(only(result, CONTAINER).inputs.image).toBe(imageIdOf(result));
        expect(imageIdOf(result)).toMatch(/^sha256:[0-9a-f]{64}$/);
    });

    it("runs the container read-only, unprivileged, with init, a restart policy, log limits and no-new-privileges", () => {
        const c = only(result, CONTAINER).inputs;
        expect(c).toMatchObject({
            name: "mtls-nginx-box",
            privileged: false,
            readOnly: true,
            init: true,
            restart: "unless-stopped",
            logDriver: "json-file",
            logOpts: { "max-size": "10m", "max-file": "3" },
            securityOpts: ["no-new-privileges:true"],
            tmpfs: { "/tmp": expect.stringContaining("size="), "/run": expect.any(String), "/var/cache/nginx": expect.any(String) },
            capabilities: { drops: expect.arrayContaining(["NET_RAW", "MKNOD"]) },
            stopSignal: "SIGTERM",
        });
        expect(c.capabilities.adds).toBeUndefined();
        expect(c.uploads).toBeUndefined(); // uploads are ForceNew: nothing goes in that way
        expect(only(result, CONTAINER).options.deleteBeforeReplace).toBe(true); // fixed name and ports
    });

    it("publishes host ip:port -> the site's port, and mounts the releases volume at /etc/nginx/mtls", () => {
        const c = only(result, CONTAINER).inputs;
        expect(c.ports).toEqual([{ ip: "127.0.0.1", external: 18443, internal: 8443, protocol: "tcp" }]);
        const volume = only(result, VOLUME);
        expect(volume.inputs.name).toBe("mtls-nginx-box");
        expect(c.mounts).toEqual([{ type: "volume", source: "mtls-nginx-box", target: "/etc/nginx/mtls" }]);
        expect(c.volumes).toBeUndefined();
    });

    it("starts the entry script (supervising nginx) and checks health by a TLS handshake on the site's port", () => {
        const c = only(result, CONTAINER).inputs;
        expect(c.entrypoints).toEqual(["/bin/sh", "-c"]);
        expect(c.command).toEqual([renderContainerEntrypoint(settings), "mtls-nginx"]);
        expect(c.command[0]).toContain("MTLS_CONF=/etc/nginx/mtls/current/nginx.conf");
        expect(c.healthcheck).toEqual({ tests: ["CMD-SHELL", renderHealthcheck(settings)], interval: "30s", timeout: "5s", retries: 3, startPeriod: "60s" });
        expect(c.healthcheck.tests[1]).toContain("https://127.0.0.1:8443/");
        expect(c).toEqual(expect.objectContaining(JSON.parse(JSON.stringify(containerArgs(settings)))));
    });

    it("installs through `docker exec -i <container> /bin/sh -c <install script>`, the release on secret stdin, nothing logged", () => {
        const install = only(result, LOCAL);
        const { create, update, delete: del, stdin, triggers, logging, environment } = install.inputs;
        const files = decodePayload(stdin);
        const hash = triggers[0];
        const script = renderInstallScript({ ...settings.script, releaseId: result.outputs.releaseId, expectedContentHash: hash });
        expect(create).toBe(dockerInstallCommand(settings, "mtls-nginx-box", script));
        expect(create.startsWith("docker exec -i mtls-nginx-box /bin/sh -c '# mtls-nginx install script for site box")).toBe(true);
        expect(update).toBe(create);
        expect(del).toBe(dockerUninstallCommand(settings, "mtls-nginx-box", renderUninstallScript(uninstallInput({ ...settings.script, releaseId: result.outputs.releaseId }))));
        expect(install.secretInputs).toContain("stdin");
        expect(logging).toBe("none");
        expect(install.inputs.addPreviousOutputInEnv).toBe(false);
        expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(["server.crt", "server.key", "client-ca.pem", "crl.pem", "site.conf", "nginx.conf"]));
        // the container's layout: dedicated instance under /etc/nginx/mtls, listening on the container's interfaces
        const siteConf = files.find((f) => f.path === "site.conf")!.content;
        expect(siteConf).toMatch(/listen 0\.0\.0\.0:8443 ssl/);
        expect(siteConf).toContain(`/etc/nginx/mtls/releases/${result.outputs.releaseId}/server.crt`);
        expect(files.find((f) => f.path === "nginx.conf")!.content).toContain("pid /etc/nginx/mtls/run/nginx.pid;");
        // the live check runs inside the container, on its loopback
        expect(script).toContain("MTLS_LIVE_CONNECT=127.0.0.1:8443");
        expect(environment).toEqual({ MTLS_NGINX_CONTAINER_ID: only(result, CONTAINER).id });
    });

    it("keeps key material out of every plain (non-secret) input of every resource", () => {
        // Every private key of the stack (tls PrivateKey outputs, and the server key of the release).
        const keys = ofType(result, "tls:index/privateKey:PrivateKey").map((k) => k.outputs.privateKeyPem as string);
        keys.push(decodePayload(only(result, LOCAL).inputs.stdin).find((f) => f.path === "server.key")!.content);
        expect(keys.length).toBeGreaterThanOrEqual(5); // root, intermediate, server, alice, bob
        const secrets = keys.flatMap(secretParts);
        let scanned = 0;
        for (const r of result.resources.values()) {
            for (const [k, v] of Object.entries(r.inputs)) {
                if (r.secretInputs.includes(k)) continue;
                scanned++;
                const strings = stringsIn(v);
                // A dynamic provider's serialized source (__provider) names "PRIVATE KEY" in its input checks
                // (code, not a key): there, only PEM armour counts; everywhere else the words themselves.
                const found = strings.some((t) => (k === "__provider" ? /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(t) : /PRIVATE KEY/.test(t)));
                const leaked = strings.some((t) => holdsSecret(t, secrets));
                expect({ resource: r.name, input: k, privateKey: found, secret: leaked }).toEqual({ resource: r.name, input: k, privateKey: false, secret: false });
            }
        }
        expect(scanned).toBeGreaterThan(50);
        // the scan does find a key where there is one (the secret stdin)
        expect(holdsSecret(only(result, LOCAL).inputs.stdin, secrets)).toBe(true);
        // and the docker resources carry no certificate content at all
        for (const type of [CONTAINER, IMAGE, VOLUME]) expect(JSON.stringify(only(result, type).inputs)).not.toMatch(/BEGIN (CERTIFICATE|X509 CRL)/);
    });
});

/** The secret numbers of a private key (EC: d; RSA: d, p, q), as bytes (public parts would match certificates and CSRs). */
function secretParts(pem: string): Buffer[] {
    const jwk = crypto.createPrivateKey(pem).export({ format: "jwk" }) as Record<string, string>;
    return ["d", "p", "q"].filter((n) => jwk[n]).map((n) => Buffer.from(jwk[n], "base64url"));
}

/** Every string inside a value. */
function stringsIn(v: unknown): string[] {
    if (typeof v === "string") return [v];
    if (Array.isArray(v)) return v.flatMap(stringsIn);
    if (v && typeof v === "object") return Object.values(v).flatMap(stringsIn);
    return [];
}

/** True when text holds one of the secrets: as hex, or inside base64 (PEM bodies, base64 of a PEM, payload lines), two levels deep. */
function holdsSecret(text: string, secrets: Buffer[], depth = 0): boolean {
    if (secrets.some((s) => text.toLowerCase().includes(s.toString("hex")))) return true;
    const runs = text.replace(/-----[A-Z0-9 ]+-----/g, " ").replace(/\r?\n/g, "").match(/[A-Za-z0-9+/]{40,}={0,2}/g) ?? [];
    for (const run of runs) {
        const bytes = Buffer.from(run, "base64");
        if (secrets.some((s) => bytes.includes(s))) return true;
        if (depth < 1 && holdsSecret(bytes.toString("latin1"), secrets, depth + 1)) return true;
    }
    return false;
}

describe("Docker target options", () => {
    it.each([
        ["a tag", "nginx:1.28.0"],
        ["a digest", `nginx@${DIGEST}`],
        ["a tag and a digest", `nginx:1.28.0@${DIGEST}`],
        ["a private registry with a port", `registry.example.com:5000/team/nginx:1.27.4-bookworm`],
    ])("pins the image by %s", async (_what, image) => {
        const result = await newSim().run(program(args({ image })));
        expect(only(result, IMAGE).inputs.name).toBe(image);
        expect(only(result, CONTAINER).inputs.image).toBe(imageIdOf(result));
    });

    it("parses references like Docker does and tells pinned from moving", () => {
        expect(parseImageReference(`nginx:1.28.0@${DIGEST}`)).toEqual({ repository: "nginx", tag: "1.28.0", digest: DIGEST });
        expect(parseImageReference("localhost:5000/nginx")).toEqual({ repository: "localhost:5000/nginx" });
        expect(parseImageReference("docker.io/library/nginx:1.28.0")).toEqual({ repository: "docker.io/library/nginx", tag: "1.28.0" });
        expect(typeof parseImageReference("NGINX:1.28.0")).toBe("string");
        expect(typeof parseImageReference("nginx::1")).toBe("string");
        const pin = (ref: string) => imagePinProblem(parseImageReference(ref) as { repository: string }, ref);
        expect(pin("nginx:1.28.0")).toBeUndefined();
        expect(pin("nginx:1.28.0-alpine")).toBeUndefined();
        expect(pin(`nginx@${DIGEST}`)).toBeUndefined();
        expect(pin("nginx:1.28")).toMatch(/moves/);
        expect(pin("nginx:stable")).toMatch(/moves/);
        expect(pin("nginx")).toMatch(/latest/);
    });

    it("talks to a remote Docker host over ssh: a provider for the resources, the same DOCKER_HOST for docker exec", async () => {
        const host = "ssh://deploy@docker.example.com:2222";
        const result = await newSim().run(program(args({ host })));
        const provider = only(result, PROVIDER);
        expect(provider.name).toBe("box-site-docker");
        expect(provider.inputs.host).toBe(host);
        for (const type of [IMAGE, VOLUME, CONTAINER]) expect(only(result, type).options.provider).toBe(`${provider.urn}::${provider.id}`);
        expect(only(result, LOCAL).inputs.environment).toMatchObject({ DOCKER_HOST: host });
    });

    it("uses a provider it is given, and its host for docker exec", async () => {
        const result = await newSim().run(() => {
            const provider = new docker.Provider("mine", { host: "tcp://10.0.0.5:2376" });
            new MtlsNginx("box", args({ provider }));
        });
        const provider = only(result, PROVIDER);
        expect(provider.name).toBe("mine");
        expect(only(result, CONTAINER).options.provider).toBe(`${provider.urn}::${provider.id}`);
        expect(only(result, LOCAL).inputs.environment).toMatchObject({ DOCKER_HOST: "tcp://10.0.0.5:2376" });
    });

    it("passes the docker:host stack config to docker exec (the default provider reads it too)", async () => {
        const result = await newSim().run(program(), { config: { "docker:host": "ssh://ops@build.example.com" } });
        expect(ofType(result, PROVIDER)).toEqual([]);
        expect(only(result, LOCAL).inputs.environment).toMatchObject({ DOCKER_HOST: "ssh://ops@build.example.com" });
    });

    it("creates a network on request, or joins an existing one with aliases", async () => {
        const created = await newSim().run(program(args({ network: { name: "mtls-net", create: true, aliases: ["edge"] } })));
        expect(only(created, NETWORK).inputs).toMatchObject({ name: "mtls-net", driver: "bridge" });
        expect(only(created, CONTAINER).inputs.networksAdvanced).toEqual([{ name: "mtls-net", aliases: ["edge"] }]);
        const joined = await newSim().run(program(args({ network: { name: "backend" }, ports: [] })));
        expect(ofType(joined, NETWORK)).toEqual([]);
        expect(only(joined, CONTAINER).inputs.networksAdvanced).toEqual([{ name: "backend" }]);
        expect(only(joined, CONTAINER).inputs.ports).toEqual([]);
    });

    it("honours restart, logging, healthcheck and read-only settings; publishes every IPv4 address by default", async () => {
        const result = await newSim().run(
            program(args({ ports: undefined, restart: "always", logDriver: "journald", healthcheck: false, readOnlyRootFilesystem: false, containerName: "edge", volumeName: "edge-data" })),
        );
        const c = only(result, CONTAINER).inputs;
        expect(c).toMatchObject({ name: "edge", restart: "always", logDriver: "journald", logOpts: {}, readOnly: false, privileged: false });
        expect(c.healthcheck).toBeUndefined();
        expect(c.ports).toEqual([{ ip: "0.0.0.0", external: 8443, internal: 8443, protocol: "tcp" }]);
        expect(c.mounts[0].source).toBe("edge-data");
        expect(only(result, LOCAL).inputs.create).toMatch(/^docker exec -i edge /);
    });

    it("works with NginxSite directly", async () => {
        const { root } = await makeHierarchy({ name: "Direct" });
        const leaf = await issue({ subject: "CN=direct.example", usage: "server", dnsNames: ["direct.example"] }, root);
        const result = await newSim().run(() => {
            const site = new NginxSite("direct", {
                site: { siteName: "direct", serverNames: ["direct.example"], verifyDepth: 1, listen: { address: "0.0.0.0", port: 443 }, mode: { kind: "static" } },
                server: { fullChainPem: pulumi.output(leaf.certPem), keyPem: pulumi.secret(leaf.key.privateKeyPem) } as any,
                clientCaPem: root.certPem,
                target: { kind: "docker" },
            });
            return { url: site.url };
        });
        expect(result.outputs.url).toBe("https://direct.example/");
        expect(only(result, CONTAINER).inputs.ports).toEqual([{ ip: "0.0.0.0", external: 443, internal: 443, protocol: "tcp" }]);
        expect(only(result, LOCAL).secretInputs).toContain("stdin");
    });
});

describe("rotation, CRL refresh and renewal never touch the container", () => {
    let sim: DeploymentSimulator;
    let first: RunResult;
    const T0 = new Date(Math.floor(Date.now() / 1000) * 1000);

    beforeAll(async () => {
        sim = newSim(); // docker Container: any input change would be a replacement
        first = await sim.run(program(), { now: T0 });
    });

    function expectDockerUntouched(result: RunResult) {
        for (const type of [CONTAINER, IMAGE, VOLUME]) {
            expect(stepsOfType(result, type).map((s) => [s.name, s.op, s.changedKeys])).toEqual([[only(first, type).name, "same", []]]);
        }
    }

    it("a run with nothing due changes nothing at all", async () => {
        const again = await sim.run(program(), { now: new Date(T0.getTime() + 3600_000) });
        expect(again.steps.filter((s) => s.custom && s.op !== "same")).toEqual([]);
    });

    it("a CRL refresh (past refreshAt) updates the install command only", async () => {
        const at = new Date(T0.getTime() + 4 * DAY); // 7d CRLs are re-signed after half their validity
        const plan = await sim.run(program(), { now: at, preview: true });
        expectDockerUntouched(plan);
        const up = await sim.run(program(), { now: at });
        expectDockerUntouched(up);
        const install = up.stepFor("box-site-install")!;
        expect(["update", "replace"]).toContain(install.op);
        expect(up.outputs.releaseId).not.toBe(first.outputs.releaseId);
        expect(up.outputs.crlNextUpdate).not.toBe(first.outputs.crlNextUpdate);
    });

    it("a client renewal (past alice's renewAt) rotates her certificate and leaves the container alone", async () => {
        const at = new Date(Date.parse(first.outputs.clientRenewAt) + 60_000);
        const up = await sim.run(program(), { now: at });
        expect(up.steps.filter((s) => s.name.startsWith("box-client-alice") && s.op === "replace").length).toBeGreaterThan(0);
        expect(up.outputs.clientRenewAt).not.toBe(first.outputs.clientRenewAt);
        expectDockerUntouched(up);
        expect(stepsOfType(up, CONTAINER)[0].op).toBe("same");
    });

    it("a server certificate renewal (past its renewAt) installs a new release with the new certificate; the container step is same", async () => {
        const installed = [...sim.state.values()].find((r) => r.name === "box-site-install")!;
        const oldCert = decodePayload(installed.inputs.stdin).find((f) => f.path === "server.crt")!.content;
        const at = new Date(Date.parse(first.outputs.serverRenewAt) + 60_000);
        const plan = await sim.run(program(), { now: at, preview: true });
        expectDockerUntouched(plan);
        const up = await sim.run(program(), { now: at });
        expectDockerUntouched(up);
        expect(up.steps.filter((s) => s.name.startsWith("box-server") && s.op === "replace").length).toBeGreaterThan(0);
        const install = up.stepFor("box-site-install")!;
        expect(["update", "replace"]).toContain(install.op);
        const newCert = decodePayload(only(up, LOCAL).inputs.stdin).find((f) => f.path === "server.crt")!.content;
        expect(newCert).not.toBe(oldCert);
        // the only custom resources that changed besides the PKI and revocation ones: the install command
        const changed = up.steps.filter((s) => s.custom && s.op !== "same").map((s) => s.type);
        expect(changed.filter((t) => t.startsWith("docker:"))).toEqual([]);
    });
});

describe("bad Docker target input fails at construction, naming the input and the fix, with nothing registered", () => {
    const cases: [string, Partial<DockerTarget> | ((a: MtlsNginxArgs) => void), RegExp][] = [
        ["an image without tag or digest", { image: "nginx" }, /^target\.image: "nginx" names no tag or digest, so Docker would pull "latest".*Fix: pin an exact version tag/],
        ["a moving tag", { image: "nginx:latest" }, /^target\.image: "nginx:latest" uses the tag "latest", which moves/],
        ["a minor-version tag", { image: "nginx:1.28" }, /^target\.image: .*"1\.28", which moves/],
        ["an unknown reference format", { image: "Nginx Server:1.28.0" }, /^target\.image: .*contains whitespace: not an image reference\. Fix: use e\.g\. "nginx:1\.28\.0"/],
        ["a malformed digest", { image: "nginx@sha256:abc" }, /^target\.image: .*not sha256:<64 lowercase hex digits>/],
        ["two published ports on the same host ip:port", { ports: [{ hostIp: "127.0.0.1", hostPort: 18443 }, { hostIp: "0.0.0.0", hostPort: 18443 }] }, /^target\.ports\[1\]\.hostPort: 0\.0\.0\.0:18443 conflicts with target\.ports\[0\] \(127\.0\.0\.1:18443\).*Fix: give each published port its own/],
        ["a container port the site does not listen on", { ports: [{ hostPort: 443, containerPort: 443 }] }, /^target\.ports\[0\]\.containerPort: 443 is not the port the site listens on in the container \(site\.listen\.port is 8443\).*Fix: publish containerPort 8443/],
        ["a host ip that is not an address", { ports: [{ hostIp: "localhost", hostPort: 18443 }] }, /^target\.ports\[0\]\.hostIp: "localhost" is not an IP address/],
        ["no published port and no network", { ports: [] }, /^target\.ports: is empty and no network is given/],
        ["an ssh Docker host without a user", { host: "ssh://docker.example.com" }, /^target\.host: "ssh:\/\/docker\.example\.com" names no user.*Fix: write ssh:\/\/<user>@docker\.example\.com/],
        ["a Docker host with an unknown scheme", { host: "docker.example.com:2376" }, /^target\.host: .*has no supported scheme/],
        ["privileged mode", { privileged: true }, /^target\.privileged: true is refused.*Fix: remove privileged/],
        ["an unknown restart policy", { restart: "sometimes" as any }, /^target\.restart: "sometimes" is not a restart policy/],
        ["an install directory on a tmpfs mount point", { installDir: "/run" }, /^target\.installDir: \/run is a tmpfs mount point of the container/],
        ["an install directory the volume would hide", { installDir: "/etc" }, /^target\.installDir: \/etc is a system directory of the image/],
        ["a container name Docker refuses", { containerName: "-bad name" }, /^target\.containerName: "-bad name" is not a container name/],
        ["a host-target setting (from a stack written for ssh)", { user: "deploy", sudo: true } as any, /^2 invalid inputs:\n  - target\.user: is a setting of the host targets, not of a docker target\. Fix: remove it \(write the user into target\.host[\s\S]*target\.sudo/],
        ["a live-check host", { liveCheck: { host: "10.0.0.1" } as any }, /^target\.liveCheck\.host: is not used by a docker target: the check runs inside the container/],
        ["a healthcheck interval of zero", { healthcheck: { intervalSeconds: 0 } }, /^target\.healthcheck\.intervalSeconds: 0 is not a whole number in 1\.\.3600/],
        ["a listen address inside the container", (a) => (a.site.listen = { address: "127.0.0.1", port: 8443 }), /^site\.listen\.address: "127\.0\.0\.1" is an address inside the container.*Fix: listen on "0\.0\.0\.0"/],
        ["an IPv6 listen address", (a) => (a.site.listen = { address: "0.0.0.0", port: 8443, ipv6Address: "::" }), /^site\.listen\.ipv6Address: is not supported in a container/],
    ];

    it.each(cases)("%s", async (_what, change, message) => {
        const a = args();
        if (typeof change === "function") change(a);
        else a.target = { ...(a.target as DockerTarget), ...change };
        const sim = newSim();
        await expect(sim.run(program(a))).rejects.toThrow(message);
        expect([...sim.state.values()].filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
    });

    it("a host together with a provider", async () => {
        const sim = newSim();
        const run = sim.run(() => new MtlsNginx("box", args({ host: "unix:///var/run/docker.sock", provider: new docker.Provider("p", {}) })));
        await expect(run).rejects.toThrow(/^target\.host: is given together with target\.provider\. Fix: give one of them/);
    });

    it("a docker:host stack config without a user names that config key", async () => {
        const sim = newSim();
        await expect(sim.run(program(), { config: { "docker:host": "ssh://build.example.com" } })).rejects.toThrow(/^docker:host: "ssh:\/\/build\.example\.com" names no user/);
    });

    it("collects several problems in one error", async () => {
        const sim = newSim();
        await expect(sim.run(program(args({ image: "nginx", privileged: true, restart: "never" as any })))).rejects.toThrow(/3 invalid inputs:[\s\S]*target\.image[\s\S]*target\.restart[\s\S]*target\.privileged/);
    });
});

describe("stacks/Pulumi.docker.yaml", () => {
    it("maps onto a docker target (host is the Docker host; installDir stays a container path)", () => {
        const values = JSON.parse(JSON.stringify(readStackFile("docker")));
        expect(readStackConfig(configReader(values), "/project").target).toEqual({ kind: "docker", image: "nginx:1.28.0", ports: [{ hostIp: "127.0.0.1", hostPort: 8443 }], restart: "unless-stopped" });
        values["mtls-nginx:target"].host = "ssh://deploy@docker.example.com";
        values["mtls-nginx:target"].installDir = "/srv/mtls";
        expect(readStackConfig(configReader(values), "/project").target).toMatchObject({ host: "ssh://deploy@docker.example.com", installDir: "/srv/mtls" });
    });

    it("names the config key of a docker target mistake", async () => {
        const values = JSON.parse(JSON.stringify(readStackFile("docker")));
        values["mtls-nginx:target"].user = "deploy";
        values["mtls-nginx:target"].ports[0].hostPort = 8443.5;
        const sim = newSim();
        await expect(sim.run(() => inConfigNamespace(() => new MtlsNginx("mtls", readStackConfig(configReader(values), PROJECT_DIR))))).rejects.toThrow(
            /mtls-nginx:target\.user: is a setting of the host targets[\s\S]*mtls-nginx:target\.ports\[0\]\.hostPort: 8443\.5 is not a whole number/,
        );
        expect([...sim.state.values()].filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
    });

    it("runs index.ts with the Docker target: a pinned image, a local-only published port, the install through docker exec", async () => {
        const config = readStackFile("docker") as Record<string, any>;
        expect(config["mtls-nginx:target"].kind).toBe("docker");
        const result = await newSim().run(
            () => {
                let exports: Record<string, unknown> = {};
                jest.isolateModules(() => {
                    exports = require("../../../index");
                });
                return exports;
            },
            { config: toProgramConfig(config), now: new Date() },
        );
        expect(only(result, IMAGE).inputs.name).toBe("nginx:1.28.0");
        const c = only(result, CONTAINER).inputs;
        expect(c.ports).toEqual([{ ip: "127.0.0.1", external: 8443, internal: 8443, protocol: "tcp" }]);
        expect(c.readOnly).toBe(true);
        expect(only(result, LOCAL).inputs.create).toMatch(/^docker exec -i mtls-nginx-mtls \/bin\/sh -c /);
        expect(result.outputs.url).toBe("https://localhost:8443/");
    });
});
