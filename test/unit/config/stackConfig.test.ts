/**
 * Stack config: every kind of bad config fails at preview with an error that names the config key,
 * before any resource is registered; good config maps onto MtlsNginxArgs.
 */
import { fakePem } from "../../support/x509";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { inConfigNamespace, readStackConfig } from "../../../components/config/stackConfig";
import { MtlsNginx } from "../../../components/mtlsNginx";
import { DeploymentSimulator } from "../../support/engine";
import { configReader, PROJECT_DIR, readStackFile } from "../../support/stackConfig";

function dev(): Record<string, any> {
    return JSON.parse(JSON.stringify(readStackFile("dev")));
}

async function attempt(values: Record<string, unknown>) {
    const sim = new DeploymentSimulator();
    const run = sim.run(() => {
        inConfigNamespace(() => new MtlsNginx("mtls", readStackConfig(configReader(values), PROJECT_DIR)));
    });
    return { run, sim };
}

async function expectConfigError(values: Record<string, unknown>, message: RegExp) {
    const { run, sim } = await attempt(values);
    await expect(run).rejects.toThrow(message);
    expect([...sim.state.values()].filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
}

describe("readStackConfig", () => {
    it("maps the dev stack onto MtlsNginxArgs, resolving the install directory against the project", () => {
        const args = readStackConfig(configReader(dev()), "/project");
        expect(args.target).toMatchObject({ kind: "local", installDir: path.resolve("/project", ".dev/nginx"), nginx: { kind: "dedicated" } });
        expect(args.clients.map((c) => c.name)).toEqual(["alice", "bob"]);
        expect(args.cadence).toBe("24h");
        expect(args.site.listen).toEqual({ address: "127.0.0.1", port: 8443 });
    });

    it("reads the prod stack's SSH target and brought server certificate from secrets", async () => {
        const values = { ...readStackFile("prod") } as Record<string, unknown>;
        values["mtls-nginx:serverCertificatePem"] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        values["mtls-nginx:serverPrivateKeyPem"] = fakePem("PRIVATE KEY", "MIIB");
        values["mtls-nginx:sshPrivateKey"] = fakePem("OPENSSH PRIVATE KEY", "b3Bl");
        const args = readStackConfig(configReader(values), "/project");
        expect(args.server).toHaveProperty("provided");
        expect(args.target.kind).toBe("ssh");
        const connection = (args.target as { connection: pulumi.Input<{ host: string; user: string; privateKey: pulumi.Input<string> }> }).connection;
        const c = connection as { host: string; user: string; privateKey: pulumi.Output<string> };
        expect(c.host).toBe("mtls.example.com");
        expect(pulumi.Output.isInstance(c.privateKey)).toBe(true);
        expect(await (c.privateKey as any).isSecret).toBe(true);
    });
});

describe("bad stack config names the config key and the fix, before anything is registered", () => {
    const cases: [string, (c: Record<string, any>) => void, RegExp][] = [
        ["a missing required key", (c) => delete c["mtls-nginx:ca"], /^mtls-nginx:ca: is not set\. Fix: set it in stacks\/Pulumi\.<stack>\.yaml/],
        ["clients that are not a list", (c) => (c["mtls-nginx:clients"] = { alice: {} }), /mtls-nginx:clients: expected a list, got object/],
        ["an unknown key, with a suggestion", (c) => (c["mtls-nginx:site"].listn = c["mtls-nginx:site"].listen), /mtls-nginx:site\.listn: unknown key\. Fix: did you mean "listen"\?/],
        ["a wrong type", (c) => (c["mtls-nginx:site"].listen.port = "8443"), /mtls-nginx:site\.listen\.port: expected a number, got string/],
        ["a duration that is not a string", (c) => (c["mtls-nginx:ca"].validity = 3650), /mtls-nginx:ca\.validity: expected a duration string, got number\. Fix: quote it/],
        ["a duplicate client name", (c) => c["mtls-nginx:clients"].push({ name: "alice" }), /mtls-nginx:clients\[2\]\.name: duplicate name "alice"/],
        ["an invalid client name", (c) => (c["mtls-nginx:clients"][0].name = "Alice Smith"), /mtls-nginx:clients\[0\]\.name: "Alice Smith" is not a valid name/],
        ["an unknown key algorithm", (c) => (c["mtls-nginx:ca"].keyAlgorithm = "RSA-1024"), /mtls-nginx:ca\.keyAlgorithm: unknown key algorithm "RSA-1024"\. Fix: use one of ECDSA-P256/],
        ["a client CN over 64 characters", (c) => (c["mtls-nginx:clients"][1].commonName = "b".repeat(65)), /mtls-nginx:clients\[1\]\.commonName: .*at most 64/],
        ["an unknown PKCS#12 profile", (c) => (c["mtls-nginx:clients"][1].pkcs12.profile = "legacy"), /mtls-nginx:clients\[1\]\.pkcs12\.profile: .*compat.*modern/],
        ["a client outliving its CA", (c) => (c["mtls-nginx:clients"][0].validity = "4000d"), /mtls-nginx:clients\[0\]\.validity: .*longer than the validity of its issuer/],
        ["renewBefore not shorter than the validity", (c) => (c["mtls-nginx:clients"][0].renewal = { renewBefore: "400d" }), /mtls-nginx:clients\[0\]\.renewal\.renewBefore: .*every run/],
        ["a port out of range", (c) => (c["mtls-nginx:site"].listen.port = 70000), /mtls-nginx:site\.listen\.port: /],
        ["a hostile server name", (c) => (c["mtls-nginx:site"].serverNames = ["example.com; return 200"]), /mtls-nginx:site\.serverNames\[0\]: /],
        ["an unknown target kind", (c) => (c["mtls-nginx:target"].kind = "kubernetes"), /mtls-nginx:target\.kind: "kubernetes" is not a/],
        ["a bad cadence", (c) => (c["mtls-nginx:cadence"] = "nightly"), /mtls-nginx:cadence: "nightly" is not a duration/],
        ["server.provided without the certificate", (c) => (c["mtls-nginx:server"] = { provided: true }), /mtls-nginx:serverCertificatePem: is not set, but server\.provided is true\. Fix: run `pulumi config set serverCertificatePem/],
        [
            "an ssh target without its key",
            (c) => (c["mtls-nginx:target"] = { kind: "ssh", host: "h.example.com", user: "deploy" }),
            /mtls-nginx:sshPrivateKey: is not set, but target\.kind is ssh\. Fix: run `pulumi config set --secret sshPrivateKey/,
        ],
        ["a client both declared and revoked by name", (c) => (c["mtls-nginx:revocation"] = { revocations: [{ client: "alice", reason: "keyCompromise" }] }), /mtls-nginx:clients\[0\]\.name: client "alice" is both declared and revoked/],
        ["an unknown revocation reason", (c) => (c["mtls-nginx:revocation"] = { revocations: [{ serial: "0A1B", reason: "lost" }] }), /mtls-nginx:revocation\.revocations\[0\]\.reason: "lost" is not a revocation reason/],
    ];

    it.each(cases)("%s", async (_label, mutate, message) => {
        const config = dev();
        mutate(config);
        await expectConfigError(config, message);
    });

    it("reports several problems in one preview", async () => {
        const config = dev();
        config["mtls-nginx:site"].listn = 1;
        config["mtls-nginx:ca"].validity = 10;
        await expectConfigError(config, /2 invalid inputs:\n {2}- mtls-nginx:ca\.validity: .*\n {2}- mtls-nginx:site\.listn:/);
    });
});
