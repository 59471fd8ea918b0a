/**
 * A fleet under the DeploymentSimulator (commands recorded, not run): NginxSite and MtlsNginx with a list
 * of hosts. The dependency chain for batch sizes 1, 2 and 3 over 1, 3 and 10 hosts; resource names
 * `<site>-host-<name>`; nothing created inside an apply; reordering the list changes nothing; removing a
 * host deletes only its resources and adding one creates only its; the probe certificate (allowlisted,
 * its key only on the gate's secret stdin); one certificate per host on request; bad input refused
 * before any resource, naming the input and the fix.
 */
import * as pulumi from "@pulumi/pulumi";
import { MtlsNginx, MtlsNginxArgs, probeCommonName } from "../../../components/mtlsNginx";
import { decodePayload } from "../../../components/nginx/install";
import { NginxSite, NginxSiteArgs } from "../../../components/nginx/site";
import { DeploymentSimulator, RunResult, SimResource } from "../../support/engine";
import { fakePem, issue, makeHierarchy } from "../../support/x509";

const SSH_KEY = fakePem("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAAfakefake");

function sshHost(name: string, n: number) {
    return { name, kind: "ssh" as const, connection: { host: `192.0.2.${n}`, user: "deploy", privateKey: pulumi.secret(SSH_KEY) } };
}

let material: { fullChainPem: string; keyPem: string; caPem: string; probeCert: string; probeKey: string };
beforeAll(async () => {
    const ca = await makeHierarchy({ name: "Fleet" });
    const leaf = await issue({ subject: "CN=mtls.example.com", dnsNames: ["mtls.example.com"], usage: "server" }, ca.root);
    const probe = await issue({ subject: "CN=gate-probe", usage: "client" }, ca.root);
    material = { fullChainPem: leaf.certPem, keyPem: leaf.key.privateKeyPem, caPem: ca.root.certPem, probeCert: probe.certPem, probeKey: probe.key.privateKeyPem };
});

function server() {
    return { fullChainPem: pulumi.output(material.fullChainPem), keyPem: pulumi.secret(material.keyPem), fingerprintSha256: pulumi.output("x"), notAfter: pulumi.output("x") };
}

function siteArgs(hosts: NginxSiteArgs["target"], rollout?: NginxSiteArgs["rollout"], site: Partial<NginxSiteArgs["site"]> = {}): NginxSiteArgs {
    return {
        site: { siteName: "edge", serverNames: ["mtls.example.com"], verifyDepth: 1, mode: { kind: "proxy", upstream: "http://127.0.0.1:8080" }, ...site },
        server: server(),
        clientCaPem: pulumi.output(material.caPem),
        target: hosts,
        ...(rollout ? { rollout } : {}),
    };
}

const gated = () => ({ gate: { probe: { certPem: material.probeCert, keyPem: pulumi.secret(material.probeKey), commonName: "gate-probe" } } });

/** Custom resources of a run, by name. */
function customs(r: RunResult): Map<string, SimResource> {
    return new Map([...r.resources.values()].filter((x) => x.custom).map((x) => [x.name, x]));
}

/** Names of the resources a resource depends on (explicit dependsOn and inputs), among `among`. */
function deps(r: SimResource, among: (name: string) => boolean): string[] {
    return r.options.dependencies.map((u) => u.slice(u.lastIndexOf("::") + 2)).filter(among).sort();
}

describe("the rollout's dependency chain", () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);
    const cases: [number, number][] = [];
    for (const n of [1, 3, 10]) for (const size of [1, 2, 3]) cases.push([n, size]);

    it.each(cases)("%i hosts, batch size %i: every install waits for the whole previous batch's gates, every gate for its install", async (n, size) => {
        const r = await new DeploymentSimulator().run(() => {
            new NginxSite("edge-site", siteArgs(names(n).map((h, i) => sshHost(h, i + 1)), { batchSize: size, ...gated() }));
        });
        const all = customs(r);
        const fleetResource = (name: string) => /-host-h\d+-(install|gate)$/.test(name);
        names(n).forEach((h, i) => {
            const batch = Math.floor(i / size);
            const previous = names(n).slice((batch - 1) * size, batch * size);
            const install = all.get(`edge-site-host-${h}-install`)!;
            expect(install.type).toBe("command:remote:Command");
            expect(install.parent).toMatch(new RegExp(`::edge-site-host-${h}$`));
            expect(deps(install, fleetResource)).toEqual(batch === 0 ? [] : previous.map((p) => `edge-site-host-${p}-gate`).sort());
            expect(deps(all.get(`edge-site-host-${h}-gate`)!, fleetResource)).toEqual([`edge-site-host-${h}-install`]);
        });
        // The simulator, like the engine, runs a resource after what it depends on: installs in batch order.
        const order = r.steps.filter((s) => /-install$/.test(s.name)).map((s) => Number(/-host-h(\d+)-/.exec(s.name)![1]) - 1);
        order.forEach((i, k) => order.slice(k + 1).forEach((j) => expect(Math.floor(j / size)).toBeGreaterThanOrEqual(Math.floor(i / size))));
    });

    it("without a gate, installs wait for the previous batch's installs", async () => {
        const r = await new DeploymentSimulator().run(() => {
            new NginxSite("edge-site", siteArgs(names(3).map((h, i) => sshHost(h, i + 1)), { batchSize: 1, gate: false }));
        });
        const all = customs(r);
        expect([...all.keys()].filter((k) => k.endsWith("-gate"))).toEqual([]);
        expect(deps(all.get("edge-site-host-h3-install")!, (x) => x.endsWith("-install"))).toEqual(["edge-site-host-h2-install"]);
    });
});

describe("resources per host", () => {
    let r: RunResult;
    let constructedWhileConstructing = 0;
    let constructed: string[] = [];
    beforeAll(async () => {
        constructed = [];
        r = await new DeploymentSimulator().run(() => {
            pulumi.runtime.registerStackTransformation((a) => {
                constructed.push(a.name);
                return undefined;
            });
            const site = new NginxSite("edge-site", siteArgs([sshHost("eu-1", 1), sshHost("eu-2", 2), { ...sshHost("us-1", 3), sudo: true }], gated()));
            constructedWhileConstructing = constructed.length;
            return { hosts: site.hostFacts, releaseId: site.releaseId, url: site.url };
        });
    });

    it("names every host's resources <site>-host-<name>: a component with its install, drift check and gate", () => {
        const fleet = [...r.resources.values()].filter((x) => x.name.startsWith("edge-site-host-")).map((x) => `${x.type} ${x.name}`);
        expect(fleet.sort()).toEqual(
            ["eu-1", "eu-2", "us-1"]
                .flatMap((h) => [
                    `mtls-nginx:fleet:Host edge-site-host-${h}`,
                    `command:remote:Command edge-site-host-${h}-install`,
                    `pulumi-nodejs:dynamic/nginx:ServedRelease edge-site-host-${h}-served`,
                    `command:local:Command edge-site-host-${h}-gate`,
                ])
                .sort(),
        );
    });

    it("creates no resource inside an apply: every one exists when the constructor returns", () => {
        expect(constructedWhileConstructing).toBe(constructed.length);
        expect(constructed.length).toBe([...r.resources.values()].filter((x) => x.type !== "pulumi:pulumi:Stack").length);
    });

    it("installs the same release on every host (same content hash and payload), with its key on secret stdin only", () => {
        const installs = ["eu-1", "eu-2", "us-1"].map((h) => customs(r).get(`edge-site-host-${h}-install`)!);
        expect(new Set(installs.map((i) => /MTLS_EXPECT_HASH=([0-9a-f]{64})/.exec(i.inputs.create)![1])).size).toBe(1);
        // No trigger: a new release is an in-place update (no replaced command to delete after the rollout).
        for (const i of installs) expect(i.inputs.triggers).toBeUndefined();
        expect(new Set(installs.map((i) => i.inputs.stdin)).size).toBe(1);
        for (const i of installs) {
            expect(i.secretInputs.sort()).toEqual(["connection", "stdin"]);
            expect(i.inputs.logging).toBe("none");
            expect(i.inputs.create).not.toMatch(/PRIVATE KEY/);
            expect(i.inputs.create).toContain(`MTLS_RELEASE=${r.outputs.releaseId}`);
        }
        expect(decodePayload(installs[0].inputs.stdin).find((f) => f.path === "server.key")!.content).toBe(material.keyPem);
        // Each host's command names it, wraps for /bin/sh, and keeps its own settings (sudo on us-1 only).
        expect(installs[1].inputs.create).toMatch(/^\/bin\/sh -c '/);
        expect(installs[1].inputs.create).toContain("mtls-nginx: host eu-2: the install failed");
        expect(installs[0].inputs.create).not.toContain("sudo -n");
        expect(installs[2].inputs.create).toContain("sudo -n /bin/sh -c");
    });

    it("gates with the probe key on the gate command's secret stdin, never in its command or environment", () => {
        const gate = customs(r).get("edge-site-host-eu-2-gate")!;
        expect(gate.inputs.create).toBe('exec node -e "$MTLS_NGINX_PROBE"');
        expect(gate.inputs.environment.MTLS_NGINX_PROBE).toMatch(/mtls-nginx-gate/);
        expect(gate.secretInputs).toEqual(["stdin"]);
        expect(gate.inputs.logging).toBe("none");
        const request = JSON.parse(gate.inputs.stdin);
        expect(request).toMatchObject({ label: "eu-2", host: "192.0.2.2", port: 443, serverName: "mtls.example.com", path: "/", expectRelease: r.outputs.releaseId, keyPem: material.probeKey });
        expect(request.expectFingerprint).toMatch(/^[0-9a-f]{64}$/);
        expect(JSON.stringify({ create: gate.inputs.create, env: gate.inputs.environment })).not.toContain(material.probeKey.split("\n")[1]);
    });

    it("outputs per-host facts keyed by host name", () => {
        expect(Object.keys(r.outputs.hosts)).toEqual(["eu-1", "eu-2", "us-1"]);
        expect(r.outputs.url).toBe("https://mtls.example.com/");
    });
});

describe("changing the list", () => {
    const hosts = { a: sshHost("a", 1), b: sshHost("b", 2), c: sshHost("c", 3), d: sshHost("d", 4) };
    const program = (list: (keyof typeof hosts)[]) => () => {
        new NginxSite("edge-site", siteArgs(list.map((k) => hosts[k]), gated()));
    };
    let sim: DeploymentSimulator;
    beforeAll(async () => {
        sim = new DeploymentSimulator();
        await sim.run(program(["a", "b", "c"]));
    });
    const changed = (r: RunResult) => r.steps.filter((s) => s.op !== "same").map((s) => `${s.name}: ${s.op}`).sort();

    it("reordering replaces nothing and changes nothing (names are keys; the order is in dependencies only)", async () => {
        const r = await sim.run(program(["c", "a", "b"]));
        expect(changed(r)).toEqual([]);
        const install = r.resource("edge-site-host-a-install")!;
        expect(deps(install, (n) => n.endsWith("-gate"))).toEqual(["edge-site-host-c-gate"]);
    });

    it("removing a host deletes its resources only (its install's delete uninstalls the site there)", async () => {
        const r = await sim.run(program(["c", "a"]));
        expect(changed(r)).toEqual(["edge-site-host-b-gate: delete", "edge-site-host-b-install: delete", "edge-site-host-b-served: delete", "edge-site-host-b: delete"].sort());
    });

    it("adding a host creates its resources only", async () => {
        const r = await sim.run(program(["c", "a", "d"]));
        expect(changed(r)).toEqual(["edge-site-host-d-gate: create", "edge-site-host-d-install: create", "edge-site-host-d-served: create", "edge-site-host-d: create"].sort());
        expect(deps(r.resource("edge-site-host-d-install")!, (n) => n.endsWith("-gate"))).toEqual(["edge-site-host-a-gate"]);
    });
});

describe("MtlsNginx with a list of hosts", () => {
    function args(overrides: Partial<MtlsNginxArgs> = {}): MtlsNginxArgs {
        return {
            ca: { commonName: "Fleet Root CA", intermediate: true },
            server: { dnsNames: ["mtls.example.com"] },
            clients: [{ name: "alice" }],
            site: { mode: { kind: "proxy", upstream: "http://127.0.0.1:8080" }, allow: { commonNames: ["alice"] } },
            target: [sshHost("eu-1", 1), { ...sshHost("eu-2", 2), serverNames: ["eu-2.mtls.example.com"] }],
            ...overrides,
        };
    }
    let r: RunResult;
    const constructed: string[] = [];
    let atReturn = 0;
    beforeAll(async () => {
        r = await new DeploymentSimulator().run(() => {
            pulumi.runtime.registerStackTransformation((a) => {
                constructed.push(a.name);
                return undefined;
            });
            const m = new MtlsNginx("mtls", args());
            atReturn = constructed.length;
            return { hosts: m.hosts, releaseId: m.site.releaseId, probeCn: m.probe!.settings.commonName, probeValidityMs: m.probe!.settings.validityMs };
        });
    });

    it("creates every resource (host certificates, probe, hosts) while constructing, none inside an apply", () => {
        expect(atReturn).toBe(constructed.length);
        expect(constructed.length).toBe([...r.resources.values()].filter((x) => x.type !== "pulumi:pulumi:Stack").length);
    });

    it("issues a short-lived probe certificate (no bundle), allowlisted by its common name, and revokes it like the others", () => {
        const cn = probeCommonName("mtls");
        expect(r.outputs.probeCn).toBe(cn);
        expect(r.outputs.probeValidityMs).toBe(7 * 24 * 3600 * 1000);
        expect([...r.resources.values()].some((x) => x.name === "mtls-probe-pkcs12")).toBe(false);
        const conf = decodePayload(customs(r).get("mtls-site-host-eu-1-install")!.inputs.stdin).find((f) => f.path === "site.conf")!.content;
        expect(conf).toMatch(/CN=mtls\\+-nginx\\+-gate\\+-probe\\+\.mtls\(/);
        const issued = customs(r).get("mtls-revocation-issuing")!.inputs.issued.map((i: { name: string }) => i.name);
        expect(issued).toEqual(expect.arrayContaining(["alice", "~server", "~server-eu-2", "~probe"]));
    });

    it("passes the probe's chain and key to every gate on secret stdin", () => {
        const request = JSON.parse(customs(r).get("mtls-site-host-eu-2-gate")!.inputs.stdin);
        expect(request.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2); // leaf + intermediate
        expect(request.keyPem).toMatch(/PRIVATE KEY/);
        expect(customs(r).get("mtls-site-host-eu-2-gate")!.secretInputs).toEqual(["stdin"]);
        expect(request.serverName).toBe("eu-2.mtls.example.com");
    });

    it("gives a host with its own serverNames its own certificate and release; the others share one", () => {
        expect(customs(r).get("mtls-server-eu-2-cert")).toBeDefined();
        const one = customs(r).get("mtls-site-host-eu-1-install")!;
        const two = customs(r).get("mtls-site-host-eu-2-install")!;
        expect(/MTLS_EXPECT_HASH=(\w+)/.exec(one.inputs.create)![1]).not.toEqual(/MTLS_EXPECT_HASH=(\w+)/.exec(two.inputs.create)![1]);
        const served = (i: SimResource) => decodePayload(i.inputs.stdin).find((f) => f.path === "server.crt")!.content;
        expect(served(two)).not.toBe(served(one));
        expect(decodePayload(two.inputs.stdin).find((f) => f.path === "site.conf")!.content).toMatch(/server_name eu-2\.mtls\.example\.com;/);
        expect(Object.keys(r.outputs.hosts)).toEqual(["eu-1", "eu-2"]);
    });

    it("with gate: false issues no probe and adds nothing to the allow list", async () => {
        const plain = await new DeploymentSimulator().run(() => {
            new MtlsNginx("mtls", args({ rollout: { gate: false } }));
        });
        expect([...plain.resources.values()].filter((x) => /probe|-gate$/.test(x.name))).toEqual([]);
    });
});

describe("bad fleet input is refused before any resource, naming the input and the fix", () => {
    const mtls = (target: unknown, extra: Partial<MtlsNginxArgs> = {}): MtlsNginxArgs => ({
        ca: { commonName: "Fleet Root CA" },
        server: { dnsNames: ["mtls.example.com"] },
        clients: [{ name: "alice" }],
        site: { mode: { kind: "static" } },
        target: target as MtlsNginxArgs["target"],
        ...extra,
    });
    const cases: [string, () => unknown, RegExp][] = [
        ["duplicate host names", () => new MtlsNginx("m", mtls([sshHost("eu-1", 1), sshHost("eu-1", 2)])), /^target\[1\]\.name: duplicate name "eu-1" \(also at index 0\)\. Fix: give every host a unique name/],
        ["a host without a name", () => new MtlsNginx("m", mtls([{ kind: "local", installDir: "/tmp/x" }])), /^target\[0\]\.name: undefined is not a host name/],
        ["an empty list", () => new MtlsNginx("m", mtls([])), /^target: is an empty list/],
        ["batchSize 0", () => new MtlsNginx("m", mtls([sshHost("a", 1)], { rollout: { batchSize: 0 } })), /^rollout\.batchSize: 0 is not a whole number of at least 1/],
        ["rollout with a single target", () => new MtlsNginx("m", mtls({ kind: "local", installDir: "/tmp/x" }, { rollout: { batchSize: 2 } })), /^rollout: applies to a list of targets only/],
        ["a docker host in a list", () => new MtlsNginx("m", mtls([{ name: "c", kind: "docker" }])), /^target\[0\]\.kind: "docker" cannot be one host of a list/],
        ["a host's bad setting, named by its position", () => new MtlsNginx("m", mtls([sshHost("a", 1), { ...sshHost("b", 2), installDir: "relative/dir" }])), /^target\[1\]\.installDir: /],
        ["two hosts installing into the same place", () => new MtlsNginx("m", mtls([sshHost("a", 1), { ...sshHost("b", 1) }])), /^target\[1\]: installs into \/etc\/nginx\/mtls\/m on 192\.0\.2\.1:22, as target\[0\] does/],
        ["a bad per-host server name", () => new MtlsNginx("m", mtls([{ ...sshHost("a", 1), serverNames: ["bad name"] }])), /^target\[0\]\.serverNames/],
        [
            "per-host names with a brought certificate",
            () => new MtlsNginx("m", { ...mtls([{ ...sshHost("a", 1), serverNames: ["a.example.com"] }]), server: { provided: { certificatePem: "x", privateKeyPem: pulumi.secret("y") } }, site: { mode: { kind: "static" }, serverNames: ["mtls.example.com"] } }),
            /^target\[0\]\.serverNames: a host's own names get their own certificate from the CA, but the server certificate is brought/,
        ],
        ["a bad gate", () => new MtlsNginx("m", mtls([sshHost("a", 1)], { rollout: { gate: { path: "healthz" } } })), /^rollout\.gate\.path: "healthz" is not a request path/],
        ["a gate that is not an object", () => new MtlsNginx("m", mtls([sshHost("a", 1)], { rollout: { gate: "on" as never } })), /^rollout\.gate: "on" is not a gate/],
        ["a rollout that is not an object", () => new MtlsNginx("m", mtls([sshHost("a", 1)], { rollout: "fast" as never })), /^rollout: "fast" is not a rollout/],
        ["a probe given to MtlsNginx", () => new MtlsNginx("m", mtls([sshHost("a", 1)], { rollout: { gate: { probe: { certPem: "c", keyPem: "k" } } as never } })), /^rollout\.gate\.probe: MtlsNginx issues the gate's probe certificate itself/],
        ["a client using the probe's name", () => new MtlsNginx("m", { ...mtls([sshHost("a", 1)]), clients: [{ name: "x", commonName: "mtls-nginx-gate-probe.m" }] }), /^clients\[0\]\.commonName: "mtls-nginx-gate-probe\.m" is the rollout gate's probe certificate's common name/],
        [
            "an NginxSite gate the allow list would refuse",
            () => new NginxSite("s", siteArgs([sshHost("a", 1)], gated(), { allow: { commonNames: ["alice"] } })),
            /^rollout\.gate\.probe: site\.allow does not admit the probe \("gate-probe" is not in site\.allow\.commonNames\)/,
        ],
        ["an NginxSite gate without a probe on an mTLS-only site", () => new NginxSite("s", siteArgs([sshHost("a", 1)], { gate: {} })), /^rollout\.gate\.probe: no probe certificate, and the site requires a client certificate/],
    ];
    it.each(cases)("%s", async (_title, build, message) => {
        const sim = new DeploymentSimulator();
        await expect(sim.run(() => void build())).rejects.toThrow(message);
        expect([...sim.state.values()].filter((x) => x.type !== "pulumi:pulumi:Stack")).toEqual([]);
    });
});
