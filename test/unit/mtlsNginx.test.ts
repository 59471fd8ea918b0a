/**
 * MtlsNginx under mocks (real-crypto tls double, commands recorded, not run): the resource graph, the
 * install command's inputs, outputs, composition (existing CA, brought server certificate, revocation
 * off) and the composition example.
 */
import * as pulumi from "@pulumi/pulumi";
import { decodePayload } from "../../components/nginx/install";
import { MtlsNginx, MtlsNginxArgs } from "../../components/mtlsNginx";
import { CertificateAuthority } from "../../components/pki/certificateAuthority";
import { DeploymentSimulator, RunResult } from "../support/engine";
import { issue, makeHierarchy } from "../support/x509";

function args(overrides: Partial<MtlsNginxArgs> = {}): MtlsNginxArgs {
    return {
        ca: { commonName: "Unit Root CA", intermediate: true },
        server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] },
        clients: [{ name: "alice" }, { name: "bob", keyAlgorithm: "RSA-2048", pkcs12: { profile: "modern" } }],
        site: { listen: { address: "127.0.0.1", port: 18443 }, mode: { kind: "static" } },
        target: { kind: "local", installDir: "/tmp/mtls-unit/nginx" },
        ...overrides,
    };
}

function outputsOf(m: MtlsNginx) {
    return { url: m.url, nextRenewal: m.nextRenewal, crlNextUpdate: m.crlNextUpdate, trust: m.trustBundlePem, siteConf: m.site.siteConf, releaseId: m.site.releaseId };
}

describe("MtlsNginx", () => {
    let result: RunResult;
    beforeAll(async () => {
        result = await new DeploymentSimulator().run(() => outputsOf(new MtlsNginx("mtls", args())), { now: new Date() });
    });

    it("composes the CA, server, clients, revocation and site as named children", () => {
        const top = result.resource("mtls")!;
        expect(top.type).toBe("mtls-nginx:index:MtlsNginx");
        const children = [...result.resources.values()].filter((r) => r.parent === top.urn).map((r) => `${r.type} ${r.name}`);
        expect(children.sort()).toEqual(
            [
                "mtls-nginx:pki:CertificateAuthority mtls-ca",
                "mtls-nginx:pki:ServerCertificate mtls-server",
                "mtls-nginx:pki:ClientCertificate mtls-client-alice",
                "mtls-nginx:pki:ClientCertificate mtls-client-bob",
                "mtls-nginx:revocation:CertificateRevocation mtls-revocation",
                "mtls-nginx:nginx:Site mtls-site",
            ].sort(),
        );
        expect(result.resource("mtls-revocation-root")!.type).toBe("pulumi-nodejs:dynamic/revocation:RevocationList");
        expect(result.resource("mtls-revocation-issuing")!.type).toBe("pulumi-nodejs:dynamic/revocation:RevocationList");
    });

    it("installs through a local command: script without key material, payload on secret stdin, content hash trigger, no logging", () => {
        const install = result.resource("mtls-site-install")!;
        expect(install.type).toBe("command:local:Command");
        const { create, update, delete: del, stdin, triggers, logging } = install.inputs;
        for (const script of [create, update, del]) {
            expect(script).not.toMatch(/PRIVATE KEY/);
            expect(script).toMatch(/^#!\/bin\/sh|set -eu/m);
        }
        expect(create).toBe(update);
        expect(install.secretInputs).toContain("stdin");
        expect(logging).toBe("none");
        const files = decodePayload(stdin);
        const key = files.find((f) => f.path === "server.key")!;
        expect(key.mode).toBe(0o600);
        expect(key.content).toMatch(/PRIVATE KEY/);
        expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(["server.crt", "client-ca.pem", "crl.pem", "site.conf", "nginx.conf", "www/index.html"]));
        expect(triggers).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    });

    it("renders the site for the hierarchy: verify depth 2, CRLs for both CAs, trust bundle of both", () => {
        const conf = result.outputs.siteConf as string;
        expect(conf).toMatch(/ssl_verify_client on;/);
        expect(conf).toMatch(/ssl_verify_depth 2;/);
        expect(conf).toMatch(/ssl_crl \/tmp\/mtls-unit\/nginx\/releases\/[0-9a-f]{16}\/crl.pem;/);
        const files = decodePayload(result.resource("mtls-site-install")!.inputs.stdin);
        expect(files.find((f) => f.path === "crl.pem")!.content.match(/BEGIN X509 CRL/g)).toHaveLength(2);
        expect((result.outputs.trust as string).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    });

    it("exports the URL, the next renewal (the earliest certificate) and the CRL's nextUpdate", () => {
        expect(result.outputs.url).toBe("https://localhost:18443/");
        expect(result.outputs.nextRenewal.certificate).toBe("server certificate"); // 90 days: the shortest-lived
        expect(Date.parse(result.outputs.nextRenewal.at)).toBeGreaterThan(Date.now() + 59 * 86400_000);
        expect(Date.parse(result.outputs.crlNextUpdate)).toBeGreaterThan(Date.now() + 6 * 86400_000);
    });
});

describe("MtlsNginx composition", () => {
    it("uses an existing CA instead of making one, and can turn revocation off", async () => {
        const result = await new DeploymentSimulator().run(() => {
            const ca = new CertificateAuthority("shared", { commonName: "Shared Root CA" });
            const m = new MtlsNginx("site2", args({ ca, revocation: { enabled: false } }));
            return { conf: m.site.siteConf, same: m.ca === ca };
        });
        expect(result.outputs.same).toBe(true);
        expect([...result.resources.values()].filter((r) => r.type === "mtls-nginx:pki:CertificateAuthority").map((r) => r.name)).toEqual(["shared"]);
        expect([...result.resources.values()].some((r) => r.type.includes("RevocationList"))).toBe(false);
        expect(result.outputs.conf).not.toMatch(/ssl_crl/);
        expect(result.outputs.conf).toMatch(/ssl_verify_depth 1;/);
    });

    it("serves a brought server certificate (e.g. from certbot) and keeps its key secret", async () => {
        const other = await makeHierarchy({ name: "ACME" });
        const leaf = await issue({ subject: "CN=mtls.example.com", usage: "server", dnsNames: ["mtls.example.com"] }, other.issuer);
        const result = await new DeploymentSimulator().run(() => {
            const m = new MtlsNginx(
                "byo",
                args({ server: { provided: { certificatePem: leaf.certPem + other.root.certPem, privateKeyPem: pulumi.secret(leaf.key.privateKeyPem) } }, site: { serverNames: ["mtls.example.com"], mode: { kind: "static" } } }),
            );
            return { url: m.url };
        });
        expect([...result.resources.values()].some((r) => r.type === "mtls-nginx:pki:ServerCertificate")).toBe(false);
        const install = result.resource("byo-site-install")!;
        const files = decodePayload(install.inputs.stdin);
        expect(files.find((f) => f.path === "server.crt")!.content).toContain(leaf.certPem.trim().split("\n")[1]);
        expect(files.find((f) => f.path === "server.key")!.content).toBe(leaf.key.privateKeyPem);
        expect(install.secretInputs).toContain("stdin");
        expect(result.outputs.url).toBe("https://mtls.example.com/");
    });

    it("rejects a brought certificate without names to serve, and other bad args, before creating anything", async () => {
        for (const [bad, message] of [
            [args({ server: { provided: { certificatePem: "x", privateKeyPem: "y" } } }), /site\.serverNames: no server names/],
            [args({ clients: [{ name: "alice" }, { name: "alice" }] }), /clients\[1\]\.name: duplicate name "alice"/],
            [args({ target: { kind: "local" } }), /target\.installDir: no install directory given/],
            [args({ cadence: "-1d" }), /cadence: negative duration/],
        ] as [MtlsNginxArgs, RegExp][]) {
            const sim = new DeploymentSimulator();
            await expect(sim.run(() => new MtlsNginx("bad", bad))).rejects.toThrow(message);
            expect([...sim.state.values()].filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
        }
    });

    it("bounds every duration, naming the argument as written, before creating anything", async () => {
        for (const [bad, message] of [
            [args({ ca: { commonName: "Unit Root CA", validity: "99999999d" } }), /^ca\.validity: "99999999d" is longer than 9132d \(25 years\)/],
            [args({ ca: { commonName: "Unit Root CA", validity: "9".repeat(400) + "d" } }), /^ca\.validity: "9+"… \(401 characters\) is longer than 9132d/],
            [args({ clients: [{ name: "alice", validity: "9".repeat(400) + "d" }] }), /^clients\[0\]\.validity: "9+"… \(401 characters\) is longer than 9132d/],
            [args({ revocation: { crlValidity: "400d" } }), /^revocation\.crlValidity: "400d" is longer than 366d \(a year\)/],
            [args({ revocation: { crlValidity: "30m" } }), /^revocation\.crlValidity: "30m" is shorter than 1h/],
            [args({ cadence: "400d" }), /^cadence: "400d" is longer than 366d \(a year\)/],
        ] as [MtlsNginxArgs, RegExp][]) {
            const sim = new DeploymentSimulator();
            await expect(sim.run(() => new MtlsNginx("bad", bad))).rejects.toThrow(message);
            expect([...sim.state.values()].filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
        }
    });

    it("warns at construction about a revocation naming a client not declared, and refuses one no client can have", async () => {
        const warn = jest.spyOn(pulumi.log, "warn");
        try {
            await new DeploymentSimulator().run(() => new MtlsNginx("typo", args({ revocation: { revocations: [{ client: "nobody", reason: "keyCompromise" }] } })), { preview: true });
            const messages = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith("revocation.revocations[0].client: "));
            expect(messages).toHaveLength(1);
            expect(messages[0]).toMatch(/"nobody" is not among the clients declared now \("alice", "bob"\)\. .*revokes nothing/);
        } finally {
            warn.mockRestore();
        }
        const sim = new DeploymentSimulator();
        await expect(sim.run(() => new MtlsNginx("bad", args({ revocation: { revocations: [{ client: "Alice", reason: "keyCompromise" }] } })))).rejects.toThrow(
            /^revocation\.revocations\[0\]\.client: "Alice" can never be a client name, so it would revoke nothing\. Fix: /,
        );
        expect([...sim.state.values()].filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
    });

    it("still revokes a removed client by name with the reason given (why the check above is a warning)", async () => {
        const sim = new DeploymentSimulator();
        const program = (clients: MtlsNginxArgs["clients"], revocation?: MtlsNginxArgs["revocation"]) => () => {
            const m = new MtlsNginx("removed", args({ clients, revocation }));
            return { revoked: m.revocation!.revoked, carol: m.clients.carol?.serialHex };
        };
        const first = await sim.run(program([{ name: "alice" }, { name: "carol" }]), { now: new Date() });
        const warn = jest.spyOn(pulumi.log, "warn");
        try {
            const second = await sim.run(program([{ name: "alice" }], { revocations: [{ client: "carol", reason: "keyCompromise" }] }), { now: new Date() });
            expect(second.outputs.revoked).toEqual([expect.objectContaining({ name: "carol", serialHex: first.outputs.carol, reason: "keyCompromise" })]);
            expect(warn.mock.calls.map((c) => String(c[0])).filter((m) => m.startsWith('revocation.revocations[0].client: "carol" is not among'))).toHaveLength(1);
        } finally {
            warn.mockRestore();
        }
    });

    it("warns at preview when a renewal window is shorter than two runs at the stated cadence", async () => {
        const warn = jest.spyOn(pulumi.log, "warn");
        try {
            await new DeploymentSimulator().run(
                () => new MtlsNginx("tight", args({ cadence: "24h", clients: [{ name: "alice", validity: "3d" }, { name: "bob" }] })),
                { preview: true },
            );
            const messages = warn.mock.calls.map((c) => String(c[0]));
            expect(messages.filter((m) => /client alice: only 1d 0h between renewal .* less than two runs/.test(m))).toHaveLength(1);
            expect(messages.some((m) => /client bob/.test(m))).toBe(false);
        } finally {
            warn.mockRestore();
        }
    });

    it("runs the composition example: one CA, two sites, the second reusing the first's CRLs with an allowlist", async () => {
        const result = await new DeploymentSimulator().run(
            () => {
                let exports: Record<string, unknown> = {};
                jest.isolateModules(() => {
                    exports = require("../../examples/existing-app/index");
                });
                return exports;
            },
            { config: { "project:people": JSON.stringify(["alice", "bob", "carol"]), "project:onCall": JSON.stringify(["alice"]), "project:sshPrivateKey": "key" }, secretConfig: ["project:sshPrivateKey"] },
        );
        expect([...result.resources.values()].filter((r) => r.type === "mtls-nginx:pki:CertificateAuthority").map((r) => r.name)).toEqual(["corp"]);
        expect([...result.resources.values()].filter((r) => r.type === "command:remote:Command").map((r) => r.name).sort()).toEqual(["admin-install", "grafana-site-install"]);
        const admin = decodePayload(result.resource("admin-install")!.inputs.stdin);
        const grafana = decodePayload(result.resource("grafana-site-install")!.inputs.stdin);
        expect(admin.find((f) => f.path === "crl.pem")!.content).toBe(grafana.find((f) => f.path === "crl.pem")!.content);
        expect(admin.find((f) => f.path === "site.conf")!.content).toMatch(/alice/);
        expect(result.resource("admin-install")!.secretInputs).toEqual(expect.arrayContaining(["stdin", "connection"]));
        expect(Object.keys(result.outputs.bundles).sort()).toEqual(["alice", "bob", "carol"]);
    });
});
