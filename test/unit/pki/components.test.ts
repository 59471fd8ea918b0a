/**
 * The PKI components under mocks, with the real-crypto @pulumi/tls double: resource graph, inputs,
 * secrets, outputs, and real software (openssl) accepting what comes out.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CertificateAuthority } from "../../../components/pki/certificateAuthority";
import { ClientCertificate } from "../../../components/pki/clientCertificate";
import { ServerCertificate } from "../../../components/pki/serverCertificate";
import { DeploymentSimulator, RunResult } from "../../support/engine";

const TYPES = {
    ca: "mtls-nginx:pki:CertificateAuthority",
    client: "mtls-nginx:pki:ClientCertificate",
    server: "mtls-nginx:pki:ServerCertificate",
    key: "tls:index/privateKey:PrivateKey",
    selfSigned: "tls:index/selfSignedCert:SelfSignedCert",
    csr: "tls:index/certRequest:CertRequest",
    signed: "tls:index/locallySignedCert:LocallySignedCert",
    renewal: "pulumi-nodejs:dynamic/renewal:RenewalSchedule",
    pkcs12: "pulumi-nodejs:dynamic/pki:Pkcs12Bundle",
};

function program(opts: { intermediate?: boolean; clients?: string[]; prefix?: string; rsa?: boolean } = {}) {
    return () => {
        const prefix = opts.prefix ?? "";
        const ca = new CertificateAuthority(`${prefix}ca`, { commonName: `${prefix}Example Root CA`, organization: "Example", intermediate: opts.intermediate });
        const server = new ServerCertificate(`${prefix}server`, { issuer: ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
        const clients = (opts.clients ?? ["alice"]).map(
            (name) =>
                new ClientCertificate(`${prefix}client-${name}`, {
                    issuer: ca,
                    commonName: name,
                    organization: "Example",
                    uris: [`spiffe://example.org/${name}`],
                    emailAddresses: [`${name}@example.org`],
                    keyAlgorithm: opts.rsa ? "RSA-2048" : undefined,
                }),
        );
        return {
            caCert: ca.certPem,
            caChain: ca.chainPem,
            caKey: ca.keyPem,
            caTrust: ca.trustBundlePem,
            caDepth: ca.verifyDepth,
            caNotAfter: ca.notAfter,
            caFingerprint: ca.fingerprintSha256,
            serverChain: server.fullChainPem,
            serverKey: server.keyPem,
            clients: clients.map((c) => ({
                cert: c.certPem,
                key: c.keyPem,
                fullChain: c.fullChainPem,
                serial: c.serialHex,
                sha1: c.fingerprintSha1,
                sha256: c.fingerprintSha256,
                notBefore: c.notBefore,
                notAfter: c.notAfter,
                renewAt: c.renewAt,
                p12: c.pkcs12Base64,
                password: c.pkcs12Password,
            })),
        };
    };
}

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pki-components-"))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, content: string): string {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    return file;
}

function byType(result: RunResult, type: string) {
    return [...result.resources.values()].filter((r) => r.type === type);
}

describe("CertificateAuthority, ClientCertificate, ServerCertificate under mocks", () => {
    let result: RunResult;
    beforeAll(async () => {
        result = await new DeploymentSimulator().run(program({ intermediate: true }), { now: new Date() });
    });

    it("registers the expected resource graph with ${name}-<role> names and component parents", () => {
        const names = [...result.resources.values()].map((r) => `${r.type} ${r.name}`).sort();
        expect(names).toEqual(
            [
                `${TYPES.ca} ca`,
                `${TYPES.renewal} ca-root-renewal`,
                `${TYPES.key} ca-root-key`,
                `${TYPES.selfSigned} ca-root-cert`,
                `${TYPES.renewal} ca-intermediate-renewal`,
                `${TYPES.key} ca-intermediate-key`,
                `${TYPES.csr} ca-intermediate-csr`,
                `${TYPES.signed} ca-intermediate-cert`,
                `${TYPES.server} server`,
                `${TYPES.renewal} server-renewal`,
                `${TYPES.key} server-key`,
                `${TYPES.csr} server-csr`,
                `${TYPES.signed} server-cert`,
                `${TYPES.client} client-alice`,
                `${TYPES.renewal} client-alice-renewal`,
                `${TYPES.key} client-alice-key`,
                `${TYPES.csr} client-alice-csr`,
                `${TYPES.signed} client-alice-cert`,
                `${TYPES.pkcs12} client-alice-pkcs12`,
                "pulumi:pulumi:Stack project-stack",
            ].sort(),
        );
        const caUrn = result.resource("ca")!.urn;
        for (const child of ["ca-root-key", "ca-root-cert", "ca-intermediate-cert", "ca-root-renewal"]) {
            expect(result.resource(child)!.parent).toBe(caUrn);
        }
        expect(result.resource("client-alice-pkcs12")!.parent).toBe(result.resource("client-alice")!.urn);
    });

    it("asks @pulumi/tls for CA certificates with cert_signing, crl_signing, digital_signature and explicit ECDSA P-256 keys", () => {
        const root = result.resource("ca-root-cert")!.inputs;
        expect(root.isCaCertificate).toBe(true);
        expect(root.allowedUses).toEqual(["cert_signing", "crl_signing", "digital_signature"]);
        expect(root.validityPeriodHours).toBe(3650 * 24);
        const intermediate = result.resource("ca-intermediate-cert")!.inputs;
        expect(intermediate.maxPathLength).toBe(0);
        expect(intermediate.validityPeriodHours).toBe(1095 * 24);
        for (const key of byType(result, TYPES.key)) {
            expect(key.inputs).toMatchObject({ algorithm: "ECDSA", ecdsaCurve: "P256" });
        }
        expect(result.resource("client-alice-cert")!.inputs).toMatchObject({ allowedUses: ["digital_signature", "client_auth"], validityPeriodHours: 365 * 24 });
        expect(result.resource("server-cert")!.inputs).toMatchObject({ allowedUses: ["digital_signature", "server_auth"], validityPeriodHours: 90 * 24 });
    });

    it("rotates keys and certificates with their renewal schedule (replaceWith and replacementTrigger)", () => {
        for (const name of ["client-alice-key", "client-alice-csr", "client-alice-cert"]) {
            const r = result.resource(name)!;
            expect(r.options.replaceWith).toEqual([result.resource("client-alice-renewal")!.urn]);
            expect(r.options.replacementTrigger).toBe(result.resource("client-alice-renewal")!.id);
        }
    });

    it("marks keys, bundles and passwords secret", () => {
        const secret = result.secretOutputs;
        expect(secret).toEqual(expect.arrayContaining(["caKey", "serverKey"]));
        const key = result.resource("client-alice-key")!;
        expect(key.secretOutputs).toEqual(expect.arrayContaining(["privateKeyPem", "privateKeyPemPkcs8"]));
        const bundle = result.resource("client-alice-pkcs12")!;
        expect(bundle.secretOutputs).toEqual(expect.arrayContaining(["pfxBase64", "password"]));
        expect(bundle.secretInputs).toEqual(expect.arrayContaining(["privateKeyPem"]));
    });

    it("wires outputs: verify depth, chain, trust bundle, fingerprints, validity and renewAt", () => {
        const o = result.outputs;
        expect(o.caDepth).toBe(2);
        expect(o.caChain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
        expect(o.caTrust).toBe(o.caChain);
        const alice = o.clients[0];
        expect(alice.serial).toMatch(/^[0-9A-F]+$/);
        expect(alice.sha1).toMatch(/^[0-9a-f]{40}$/);
        expect(alice.sha256).toMatch(/^[0-9a-f]{64}$/);
        const life = Date.parse(alice.notAfter) - Date.parse(alice.notBefore);
        expect(life).toBe(365 * 86400_000);
        expect(Date.parse(alice.renewAt)).toBe(Math.floor((Date.parse(alice.notAfter) - life / 3) / 1000) * 1000);
        expect(alice.fullChain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2); // leaf + intermediate, no root
        const renewal = result.resource("client-alice-renewal")!.outputs;
        expect(Date.parse(renewal.renewAt)).toBeLessThanOrEqual(Date.parse(alice.renewAt));
        expect(Date.parse(alice.renewAt) - Date.parse(renewal.renewAt)).toBeLessThan(60_000);
    });

    it("produces certificates openssl verifies with the purpose and depth the hierarchy needs", () => {
        const o = result.outputs;
        const root = write("root.pem", o.caChain.split(/(?=-----BEGIN CERTIFICATE-----)/)[1]);
        const intermediate = write("intermediate.pem", o.caCert);
        const client = write("alice.pem", o.clients[0].cert);
        const server = write("server.pem", o.serverChain);
        const verify = (purpose: string, leaf: string, extra: string[] = []) =>
            execFileSync("openssl", ["verify", "-purpose", purpose, "-CAfile", root, "-untrusted", intermediate, ...extra, leaf], { encoding: "utf8" });
        expect(verify("sslclient", client)).toMatch(/OK/);
        expect(verify("sslserver", server)).toMatch(/OK/);
        expect(verify("sslclient", client, ["-verify_depth", String(o.caDepth)])).toMatch(/OK/);
        expect(() => verify("sslserver", client)).toThrow(/unsuitable certificate purpose/);
        expect(() => verify("sslclient", client, ["-verify_depth", "0"])).toThrow();
        const text = execFileSync("openssl", ["x509", "-in", client, "-noout", "-text"], { encoding: "utf8" });
        expect(text).toMatch(/Version: 3/);
        expect(text).toMatch(/TLS Web Client Authentication/);
        expect(text).not.toMatch(/TLS Web Server Authentication/);
        expect(text).toMatch(/URI:spiffe:\/\/example.org\/alice/);
        expect(text).toMatch(/URI:mailto:alice@example.org/);
        expect(text).toMatch(/ASN1 OID: prime256v1/);
    });

    it("builds a PKCS#12 bundle that OpenSSL 3 reads without -legacy, holding the key, leaf and intermediate", () => {
        const alice = result.outputs.clients[0];
        const p12 = path.join(tmp, "alice.p12");
        fs.writeFileSync(p12, Buffer.from(alice.p12, "base64"));
        const pass = write("alice.pass", alice.password);
        expect(alice.password).toMatch(/^[\x21-\x7e]{20,}$/);
        const certs = execFileSync("openssl", ["pkcs12", "-in", p12, "-passin", `file:${pass}`, "-nokeys"], { encoding: "utf8" });
        expect(certs.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
        expect(certs).toMatch(/friendlyName: alice/);
    });
});

describe("composition", () => {
    it("hosts many clients and two CAs in one stack without name collisions", async () => {
        const sim = new DeploymentSimulator();
        const result = await sim.run(
            () => {
                const a = program({ prefix: "a-", clients: ["alice", "bob", "carol"] })();
                const b = program({ prefix: "b-", clients: ["alice"], rsa: true })();
                return { a: a.clients.length, b: b.clients.length };
            },
            { now: new Date() },
        );
        const urns = [...result.resources.keys()];
        expect(new Set(urns).size).toBe(urns.length);
        expect([...result.resources.values()].filter((r) => r.type === TYPES.signed)).toHaveLength(4 + 2);
        expect(result.resource("b-client-alice-key")!.inputs).toMatchObject({ algorithm: "RSA", rsaBits: 2048 });
    });
});

describe("bad input fails at construction, before any resource is registered", () => {
    const cases: [string, () => void, RegExp][] = [
        ["empty CN", () => new CertificateAuthority("ca", { commonName: "" }), /ca\.commonName: the common name is empty/],
        ["CN over 64", () => new CertificateAuthority("ca", { commonName: "x".repeat(65) }), /ca\.commonName: .*at most 64/],
        ["unknown key algorithm", () => new CertificateAuthority("ca", { commonName: "CA", keyAlgorithm: "DSA-1024" as never }), /ca\.keyAlgorithm: unknown key algorithm "DSA-1024".*ECDSA-P256/],
        [
            "intermediate longer than root",
            () => new CertificateAuthority("ca", { commonName: "CA", validity: "365d", intermediate: { validity: "400d" } }),
            /ca\.intermediate\.validity: .*longer than the root's/,
        ],
        ["renewBefore >= validity", () => new CertificateAuthority("ca", { commonName: "CA", validity: "30d", renewal: { renewBefore: "30d" } }), /ca\.renewal\.renewBefore: .*every run/],
    ];
    it.each(cases)("%s", async (_label, construct, message) => {
        const sim = new DeploymentSimulator();
        await expect(sim.run(construct, { now: new Date() })).rejects.toThrow(message);
        expect([...sim.state.values()].filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
    });

    it("leaf validity longer than its issuer's, unknown PKCS#12 profile, bad passwords", async () => {
        const sim = new DeploymentSimulator();
        const attempt = (f: (ca: CertificateAuthority) => void) =>
            sim.run(() => {
                const ca = new CertificateAuthority("ca", { commonName: "CA", validity: "365d" });
                f(ca);
            });
        await expect(attempt((ca) => new ClientCertificate("c", { issuer: ca, commonName: "c", validity: "400d" }))).rejects.toThrow(
            /client\.validity: 400d 0h is longer than the validity of its issuer "CA"/,
        );
        await expect(attempt((ca) => new ClientCertificate("c", { issuer: ca, commonName: "c", pkcs12: { profile: "legacy" as never } }))).rejects.toThrow(
            /client\.pkcs12\.profile: .*"legacy".*compat.*modern/,
        );
        await expect(attempt((ca) => new ClientCertificate("c", { issuer: ca, commonName: "c", pkcs12: { password: "" } }))).rejects.toThrow(/client\.pkcs12\.password: /);
        await expect(attempt((ca) => new ClientCertificate("c", { issuer: ca, commonName: "c", pkcs12: { password: "pässwörd" } }))).rejects.toThrow(
            /client\.pkcs12\.password: .*ASCII/,
        );
        await expect(attempt((ca) => new ServerCertificate("s", { issuer: ca }))).rejects.toThrow(/server: no DNS name or IP address/);
    });
});
