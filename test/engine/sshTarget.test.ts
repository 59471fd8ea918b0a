/**
 * The SSH target for real: the prod-shaped stack (stacks/Pulumi.prod.yaml: the host's own nginx over SSH,
 * a provided server certificate, secrets set with `pulumi config set --secret`) under the real engine,
 * whose remote.Command logs in to a host in a network namespace of the test's own (its own sshd and
 * nginx). Only what points the stack at that host changes: host, user root (no sudo), directories,
 * the nginx's config path and reload command. Install, mTLS through the site, a server-certificate
 * rotation (as certbot's renewal would bring), and destroy.
 */
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { pemSha256, writeFile } from "../support/clients";
import { namespaceHostsUnavailable, NamespaceHost, siteGet, siteServedSha256, startNamespaceHost } from "../support/netnsHost";
import { describeEngine, EngineProject, pemFromP12, urnName } from "../support/realEngine";
import { issue, makeHierarchy, FixtureCert } from "../support/x509";

const SITE_NAME = "mtls.example.com";

const get = (host: NamespaceHost, caFile: string, client?: { cert: string; key: string }) => siteGet(host, SITE_NAME, caFile, client);
const servedSha256 = (host: NamespaceHost) => siteServedSha256(host, SITE_NAME);

const unavailable = namespaceHostsUnavailable();

(unavailable ? describe.skip : describeEngine)(`the prod-shaped SSH stack on a real host (network namespace, own sshd and nginx)${unavailable ? ` [skipped: ${unavailable}]` : ""}`, () => {
    let host: NamespaceHost;
    let project: EngineProject;
    let webCa: { root: FixtureCert; issuer: FixtureCert };
    let caFile: string;
    const credentials: Record<string, { cert: string; key: string }> = {};

    /** A server certificate from the test's "public" CA, set as certbot's deploy hook would. */
    async function provideServerCertificate(): Promise<string> {
        const leaf = await issue({ subject: `CN=${SITE_NAME}`, dnsNames: [SITE_NAME], days: 90, usage: "server" }, webCa.issuer);
        await project.pulumi(["config", "set", "serverCertificatePem", "--", leaf.certPem + webCa.issuer.certPem]);
        await project.pulumi(["config", "set", "--secret", "serverPrivateKeyPem"], { input: leaf.key.privateKeyPem });
        return pemSha256(leaf.certPem);
    }

    beforeAll(async () => {
        host = await startNamespaceHost("ssh");
        project = new EngineProject("ssh");
        webCa = await makeHierarchy({ name: "Test Web PKI", intermediate: true });
        caFile = writeFile(project.root, "web-ca.crt", webCa.root.certPem);
        await project.pulumi(["stack", "select", "--create", "prod"]);
        const file = project.stackFile("prod");
        const doc = parse(fs.readFileSync(file, "utf8"));
        Object.assign(doc.config["mtls-nginx:target"], {
            host: host.address,
            user: "root",
            sudo: false,
            installDir: path.join(host.dir, "site"),
            nginx: {
                kind: "system",
                includeLink: path.join(host.nginx.confD, "mtls-example.conf"),
                reload: { command: host.nginx.reloadCommand },
                errorLog: host.nginx.errorLog,
                args: host.nginx.args,
            },
        });
        fs.writeFileSync(file, stringify(doc));
        await project.pulumi(["config", "set", "--secret", "sshPrivateKey"], { input: host.clientKeyPem });
    });

    afterAll(async () => {
        try {
            await project?.cleanup();
        } finally {
            await host?.stop();
        }
    });

    it("pulumi up installs over SSH; alice gets the upstream through mTLS, no certificate gets 400", async () => {
        const served = await provideServerCertificate();
        const up = await project.pulumi(["up", "--yes"]);
        expect(up.stdout).toMatch(/command:remote:Command/);
        expect(await servedSha256(host)).toBe(served);
        expect(fs.readlinkSync(path.join(host.nginx.confD, "mtls-example.conf"))).toBe(path.join(host.dir, "site", "current", "site.conf"));

        const outputs = await project.outputs(true);
        for (const name of ["alice", "ci-deployer"]) {
            const pem = pemFromP12(project.root, outputs.clients[name].pkcs12Base64, outputs.clients[name].password);
            credentials[name] = { cert: writeFile(project.root, `${name}.crt`, pem.certPem), key: writeFile(project.root, `${name}.key`, pem.keyPem, 0o600) };
        }
        const alice = get(host, caFile, credentials.alice);
        expect(alice.status).toBe(200);
        expect(alice.body).toMatch(/^upstream on .*CN=alice/);
        expect(get(host, caFile).status).toBe(400);
        // The connection (with the SSH key) is a secret in the state; the key is nowhere in plain text.
        const install = (await project.exportState()).resources.find((r) => urnName(r.urn) === "mtls-site-install")!;
        expect(install.type).toBe("command:remote:Command");
        expect(JSON.stringify(install.outputs!.connection)).toMatch(/4dabf18193072939515e22adb298388d/);
        expect((await project.exportState()).text).not.toContain(host.clientKeyPem.split("\n")[2]);
    });

    it("a server-certificate rotation runs over SSH: the new certificate is served, clients keep getting in", async () => {
        const before = await servedSha256(host);
        const renewed = await provideServerCertificate();
        expect(renewed).not.toBe(before);
        const plan = await project.previewSteps();
        expect(plan.filter((s) => s.op !== "same").map((s) => `${urnName(s.urn)}: ${s.op}`).sort()).toEqual(["mtls-site-install: replace", "mtls-site-served: update"]);
        await project.pulumi(["up", "--yes"]);
        expect(await servedSha256(host)).toBe(renewed);
        expect(get(host, caFile, credentials["ci-deployer"]).status).toBe(200);
        await project.pulumi(["preview", "--expect-no-changes"]);
    });

    it("pulumi destroy removes the site over SSH: the include link is gone, the host's nginx still runs its own server", async () => {
        expect(fs.existsSync(path.join(host.nginx.confD, "mtls-example.conf"))).toBe(true);
        await project.pulumi(["destroy", "--yes"]);
        expect(fs.existsSync(path.join(host.nginx.confD, "mtls-example.conf"))).toBe(false);
        expect(fs.existsSync(path.join(host.dir, "site", "releases"))).toBe(false);
        expect(host.nginxRunning()).toBe(true);
        const upstream = host.exec("curl", ["-s", "http://127.0.0.1:8080/"]);
        expect(upstream.stdout).toMatch(/^upstream on /);
        expect(() => get(host, caFile, credentials.alice)).toThrow(/Connection refused|Failed to connect|exit code 7|status 7/i);
    });
});
