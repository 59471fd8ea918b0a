/**
 * The fleet stack (stacks/Pulumi.fleet.yaml): `target` as a list of SSH hosts sharing the deploy key,
 * `rollout` with its gate; the program under the simulator registers one host component per host;
 * bad fleet config names the config key (`mtls-nginx:target[1].name`) and the fix.
 */
import * as pulumi from "@pulumi/pulumi";
import { inConfigNamespace, readStackConfig } from "../../../components/config/stackConfig";
import { FleetTargets } from "../../../components/fleet/hosts";
import { MtlsNginx } from "../../../components/mtlsNginx";
import { DeploymentSimulator } from "../../support/engine";
import { configReader, PROJECT_DIR, readStackFile } from "../../support/stackConfig";
import { fakePem, issue, makeHierarchy } from "../../support/x509";

function fleet(): Record<string, any> {
    const values = JSON.parse(JSON.stringify(readStackFile("fleet")));
    values["mtls-nginx:serverCertificatePem"] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    values["mtls-nginx:serverPrivateKeyPem"] = fakePem("PRIVATE KEY", "MIIB");
    values["mtls-nginx:sshPrivateKey"] = fakePem("OPENSSH PRIVATE KEY", "b3Bl");
    return values;
}

describe("the fleet stack", () => {
    it("reads target as three SSH hosts by name, each with the shared deploy key, and the rollout", () => {
        const args = readStackConfig(configReader(fleet()), PROJECT_DIR);
        const hosts = args.target as FleetTargets;
        expect(Array.isArray(hosts)).toBe(true);
        expect(hosts.map((h) => [h.name, h.kind])).toEqual([
            ["eu-1", "ssh"],
            ["eu-2", "ssh"],
            ["us-1", "ssh"],
        ]);
        const c = (hosts[1] as unknown as { connection: { host: string; port: number; user: string; privateKey: pulumi.Output<string> } }).connection;
        expect(c).toMatchObject({ host: "eu-2.mtls.example.com", port: 22, user: "deploy" });
        expect(pulumi.Output.isInstance(c.privateKey)).toBe(true);
        expect(hosts[0]).toMatchObject({ sudo: true, nginx: { kind: "system", reload: "systemctl" } });
        expect(args.rollout).toEqual({ batchSize: 1, gate: { path: "/", timeoutSeconds: 10 } });
    });

    it("is the prod stack's site, clients and CA, on a list of hosts", () => {
        const prod = readStackFile("prod");
        const f = readStackFile("fleet");
        for (const key of ["mtls-nginx:ca", "mtls-nginx:server", "mtls-nginx:clients", "mtls-nginx:site", "mtls-nginx:revocation", "mtls-nginx:cadence"]) expect(f[key]).toEqual(prod[key]);
    });

    it("runs as a program: one host component (install, drift check, gate) per host, chained in list order", async () => {
        const web = await makeHierarchy({ name: "Web PKI" });
        const leaf = await issue({ subject: "CN=mtls.example.com", dnsNames: ["mtls.example.com"], usage: "server" }, web.root);
        const values = { ...fleet(), "mtls-nginx:serverCertificatePem": leaf.certPem, "mtls-nginx:serverPrivateKeyPem": leaf.key.privateKeyPem };
        const r = await new DeploymentSimulator().run(() => {
            inConfigNamespace(() => new MtlsNginx("mtls", readStackConfig(configReader(values), PROJECT_DIR)));
        });
        const hostComponents = [...r.resources.values()].filter((x) => x.type === "mtls-nginx:fleet:Host").map((x) => x.name);
        expect(hostComponents).toEqual(["mtls-site-host-eu-1", "mtls-site-host-eu-2", "mtls-site-host-us-1"]);
        const install = r.resource("mtls-site-host-us-1-install")!;
        expect(install.options.dependencies).toContain(r.resource("mtls-site-host-eu-2-gate")!.urn);
        expect(r.resource("mtls-probe-cert")).toBeDefined();
    });
});

describe("bad fleet config names the key and the fix", () => {
    const cases: [string, (c: Record<string, any>) => void, RegExp][] = [
        ["an unknown key in a host", (c) => (c["mtls-nginx:target"][1].hots = "x"), /^mtls-nginx:target\[1\]\.hots: unknown key\. Fix: did you mean "host"\?/],
        ["a duplicate host name", (c) => (c["mtls-nginx:target"][2].name = "eu-1"), /^mtls-nginx:target\[2\]\.name: duplicate name "eu-1" \(also at index 0\)/],
        ["a host without its SSH host", (c) => delete c["mtls-nginx:target"][1].host, /^mtls-nginx:target\[1\]\.host: is required for an ssh target\. Fix: set target\[1\]\.host and target\[1\]\.user/],
        ["a batch size of 0", (c) => (c["mtls-nginx:rollout"].batchSize = 0), /^mtls-nginx:rollout\.batchSize: 0 is not a whole number of at least 1/],
        ["an unknown rollout key", (c) => (c["mtls-nginx:rollout"].batchsize = 2), /^mtls-nginx:rollout\.batchsize: unknown key\. Fix: did you mean "batchSize"\?/],
        ["a gate path without a slash", (c) => (c["mtls-nginx:rollout"].gate.path = "healthz"), /^mtls-nginx:rollout\.gate\.path: "healthz" is not a request path/],
        ["rollout with a single target", (c) => (c["mtls-nginx:target"] = c["mtls-nginx:target"][0]), /^mtls-nginx:(target\.name: unknown key|rollout: applies to a list of targets only)/],
    ];
    it.each(cases)("%s", async (_t, change, message) => {
        const values = fleet();
        change(values);
        const sim = new DeploymentSimulator();
        await expect(sim.run(() => void inConfigNamespace(() => new MtlsNginx("mtls", readStackConfig(configReader(values), PROJECT_DIR))))).rejects.toThrow(message);
    });
});
