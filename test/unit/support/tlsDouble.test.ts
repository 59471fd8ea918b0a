/**
 * The @pulumi/tls double: real SDK resource classes under `setMocks` must yield PEMs that OpenSSL accepts,
 * with the extensions terraform-provider-tls (Go crypto/x509) would put in them.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync, spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { tlsCreate, tlsDouble, tlsDoubleTypes, tlsPlan, TLS_LOCALLY_SIGNED_CERT, TLS_PRIVATE_KEY, TLS_SELF_SIGNED_CERT } from "../../support/tlsDouble";
import { pemBegin } from "../../support/x509";

const CLOCK = "2027-03-01T12:00:00.250Z";

function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

let dir: string;
const write = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
};
const openssl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8" });
const text = (certPem: string) => openssl("x509", "-noout", "-text", "-in", write(`c-${crypto.randomBytes(4).toString("hex")}.pem`, certPem));
const verify = (purpose: "sslclient" | "sslserver", root: string, leaf: string, untrusted: string[] = []) =>
    // certificates start at the simulated clock: verify at that time
    spawnSync("openssl", ["verify", "-attime", String(Math.floor(Date.parse(CLOCK) / 1000) + 60), "-purpose", purpose, "-CAfile", write("root.pem", root), ...(untrusted.length ? ["-untrusted", write("chain.pem", untrusted.join(""))] : []), write("leaf.pem", leaf)], {
        encoding: "utf8",
    });

beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tlsdouble-"));
    process.env.MTLS_NGINX_CLOCK = CLOCK;
    pulumi.runtime.setMocks(
        {
            newResource: (args) => tlsDouble(args) ?? { id: `${args.name}-id`, state: args.inputs },
            call: () => ({}),
        },
        "project",
        "stack",
        false,
    );
});

afterAll(() => {
    delete process.env.MTLS_NGINX_CLOCK;
    fs.rmSync(dir, { recursive: true, force: true });
});

describe("tlsDouble under setMocks", () => {
    it("handles exactly the four tls resource types and nothing else", () => {
        expect([...tlsDoubleTypes].sort()).toEqual([
            "tls:index/certRequest:CertRequest",
            "tls:index/locallySignedCert:LocallySignedCert",
            "tls:index/privateKey:PrivateKey",
            "tls:index/selfSignedCert:SelfSignedCert",
        ]);
        expect(tlsDouble({ type: "command:local:Command", name: "x", inputs: {} })).toBeUndefined();
    });

    it("generates keys in the provider's formats: RSA 2048 PKCS#1, ECDSA P224 by default as SEC1, ED25519 PKCS#8", async () => {
        const rsa = new tls.PrivateKey("rsa", { algorithm: "RSA" });
        const ec = new tls.PrivateKey("ec", { algorithm: "ECDSA" });
        const p384 = new tls.PrivateKey("p384", { algorithm: "ECDSA", ecdsaCurve: "P384" });
        const ed = new tls.PrivateKey("ed", { algorithm: "ED25519" });

        const rsaPem = await value(rsa.privateKeyPem);
        expect(rsaPem.startsWith(`${pemBegin("RSA PRIVATE KEY")}\n`)).toBe(true);
        expect(await value(rsa.rsaBits)).toBe(2048);
        expect(openssl("pkey", "-noout", "-text_pub", "-in", write("rsa.pem", rsaPem))).toMatch(/Public-Key: \(2048 bit\)/);
        expect((await value(rsa.privateKeyPemPkcs8)).startsWith(`${pemBegin("PRIVATE KEY")}\n`)).toBe(true);
        expect(await value(rsa.publicKeyOpenssh)).toMatch(/^ssh-rsa AAAA\S+\n$/);
        expect(await value(rsa.publicKeyFingerprintSha256)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
        expect(await value(rsa.publicKeyFingerprintMd5)).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);

        const ecPem = await value(ec.privateKeyPem);
        expect(await value(ec.ecdsaCurve)).toBe("P224");
        expect(ecPem.startsWith(`${pemBegin("EC PRIVATE KEY")}\n`)).toBe(true);
        expect(openssl("pkey", "-noout", "-text_pub", "-in", write("ec.pem", ecPem))).toMatch(/ASN1 OID: secp224r1/);
        // x/crypto/ssh has no P-224: the provider leaves the OpenSSH forms empty
        expect(await value(ec.publicKeyOpenssh)).toBe("");
        expect(await value(ec.privateKeyOpenssh)).toBe("");
        expect(await value(ec.publicKeyFingerprintSha256)).toBe("");

        expect(openssl("pkey", "-noout", "-text_pub", "-in", write("p384.pem", await value(p384.privateKeyPem)))).toMatch(/NIST CURVE: P-384/);
        expect(await value(p384.publicKeyOpenssh)).toMatch(/^ecdsa-sha2-nistp384 /);

        const edPem = await value(ed.privateKeyPem);
        expect(edPem.startsWith(`${pemBegin("PRIVATE KEY")}\n`)).toBe(true);
        expect(edPem).toBe(await value(ed.privateKeyPemPkcs8));

        // id = hex SHA-1 of the PKIX public key DER after Go's bytes.TrimSpace (hashForState trims even DER:
        // a key whose DER ends in a whitespace byte, ~2% of Ed25519 keys, hashes without it).
        const pub = await value(ed.publicKeyPem);
        let der = crypto.createPublicKey(pub).export({ type: "spki", format: "der" });
        for (;;) {
            const last = der[der.length - 1];
            if ([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20].includes(last)) der = der.subarray(0, -1);
            else if (der[der.length - 2] === 0xc2 && (last === 0x85 || last === 0xa0)) der = der.subarray(0, -2);
            else break;
        }
        expect(await value(ed.id)).toBe(crypto.createHash("sha1").update(der).digest("hex"));
    });

    it("writes an OpenSSH private key that ssh-keygen reads back to the same public key", async () => {
        const key = new tls.PrivateKey("ssh", { algorithm: "ECDSA", ecdsaCurve: "P256" });
        const file = write("id_ecdsa", await value(key.privateKeyOpenssh));
        fs.chmodSync(file, 0o600);
        const derived = execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim();
        expect(`${derived}\n`).toBe(await value(key.publicKeyOpenssh));
    });

    it("builds a root, an intermediate (maxPathLength 0) and client/server leaves that openssl verifies for their purpose", async () => {
        const rootKey = new tls.PrivateKey("root-key", { algorithm: "RSA", rsaBits: 2048 });
        const root = new tls.SelfSignedCert("root", {
            privateKeyPem: rootKey.privateKeyPem,
            subject: { commonName: "Example Root CA", organization: "Example", country: "DE" },
            isCaCertificate: true,
            validityPeriodHours: 24 * 365,
            allowedUses: ["cert_signing", "crl_signing"],
        });

        const intKey = new tls.PrivateKey("int-key", { algorithm: "ECDSA", ecdsaCurve: "P384" });
        const intCsr = new tls.CertRequest("int-csr", { privateKeyPem: intKey.privateKeyPem, subject: { commonName: "Example Issuing CA", organization: "Example" } });
        const intermediate = new tls.LocallySignedCert("int", {
            certRequestPem: intCsr.certRequestPem,
            caCertPem: root.certPem,
            caPrivateKeyPem: rootKey.privateKeyPem,
            isCaCertificate: true,
            maxPathLength: 0,
            validityPeriodHours: 24 * 180,
            allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        });

        const serverKey = new tls.PrivateKey("server-key", { algorithm: "ECDSA" }); // P224 by default
        const serverCsr = new tls.CertRequest("server-csr", {
            privateKeyPem: serverKey.privateKeyPem,
            subject: { commonName: "mtls.example.test" },
            dnsNames: ["mtls.example.test", "localhost"],
            ipAddresses: ["127.0.0.1", "::1"],
        });
        const server = new tls.LocallySignedCert("server", {
            certRequestPem: serverCsr.certRequestPem,
            caCertPem: intermediate.certPem,
            caPrivateKeyPem: intKey.privateKeyPem,
            validityPeriodHours: 24 * 30,
            allowedUses: ["digital_signature", "server_auth"],
        });

        const clientKey = new tls.PrivateKey("client-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
        const clientCsr = new tls.CertRequest("client-csr", {
            privateKeyPem: clientKey.privateKeyPem,
            subject: { commonName: "alice", organizationalUnit: "people", emailAddress: "alice@example.test" },
            uris: ["spiffe://example.test/alice"],
        });
        const client = new tls.LocallySignedCert("client", {
            certRequestPem: clientCsr.certRequestPem,
            caCertPem: intermediate.certPem,
            caPrivateKeyPem: intKey.privateKeyPem,
            validityPeriodHours: 24 * 30,
            allowedUses: ["digital_signature", "client_auth"],
        });

        const [rootPem, intPem, serverPem, clientPem, csrPem] = await Promise.all([value(root.certPem), value(intermediate.certPem), value(server.certPem), value(client.certPem), value(clientCsr.certRequestPem)]);

        // Root: CA:TRUE (critical), keyUsage critical, SKI (is_ca_certificate sets it), no AKI without set_authority_key_id
        const rootText = text(rootPem);
        expect(rootText).toMatch(/Issuer: C ?= ?DE, O ?= ?Example, CN ?= ?Example Root CA/);
        expect(rootText).toMatch(/X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/);
        expect(rootText).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
        expect(rootText).toMatch(/X509v3 Subject Key Identifier:/);
        expect(rootText).not.toMatch(/Authority Key Identifier/);
        expect(rootText).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);

        // Intermediate: Go drops MaxPathLen == 0 unless MaxPathLenZero, which the provider never sets,
        // so maxPathLength: 0 produces NO pathlen constraint (faithful to terraform-provider-tls).
        const intText = text(intPem);
        expect(intText).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
        expect(intText).not.toMatch(/pathlen/);
        const rootSki = /Subject Key Identifier:\s*\n\s+([0-9A-F:]+)/.exec(rootText)![1];
        expect(intText).toMatch(new RegExp(`Authority Key Identifier:\\s*\\n\\s+(keyid:)?${rootSki}`));
        expect(intText).toMatch(/Subject: O ?= ?Example, CN ?= ?Example Issuing CA/);
        expect(intText).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);

        // Server leaf: P-224 key, signed by a P-384 CA with ECDSA-SHA384; SANs non-critical (subject not empty)
        const serverText = text(serverPem);
        expect(serverText).toMatch(/ASN1 OID: secp224r1/);
        expect(serverText).toMatch(/Signature Algorithm: ecdsa-with-SHA384/);
        expect(serverText).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
        expect(serverText).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
        expect(serverText).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
        expect(serverText).toMatch(/X509v3 Subject Alternative Name: \n\s+DNS:mtls.example.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1\n/);
        expect(serverText).not.toMatch(/Subject Key Identifier/);

        // Client leaf: the CSR's subject is re-encoded from Go's pkix.Name, which drops emailAddress
        expect(openssl("req", "-noout", "-subject", "-in", write("client.csr", csrPem))).toMatch(/emailAddress ?= ?alice@example.test/);
        const clientText = text(clientPem);
        expect(clientText).toMatch(/Subject: OU ?= ?people, CN ?= ?alice\n/);
        expect(clientText).toMatch(/URI:spiffe:\/\/example.test\/alice/);
        expect(clientText).toMatch(/TLS Web Client Authentication/);

        expect(verify("sslserver", rootPem, serverPem, [intPem]).status).toBe(0);
        expect(verify("sslclient", rootPem, clientPem, [intPem]).status).toBe(0);
        // and the purposes are enforced: a client certificate is not a server certificate
        const wrong = verify("sslserver", rootPem, clientPem, [intPem]);
        expect(wrong.status).not.toBe(0);
        expect(wrong.stdout + wrong.stderr).toMatch(/(unsuitable|unsupported) certificate purpose/);

        // ...and, because of the missing pathlen, openssl accepts a sub-CA under the "pathlen 0" intermediate
        const subKey = new tls.PrivateKey("sub-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
        const subCsr = new tls.CertRequest("sub-csr", { privateKeyPem: subKey.privateKeyPem, subject: { commonName: "Sub CA" } });
        const sub = new tls.LocallySignedCert("sub", { certRequestPem: subCsr.certRequestPem, caCertPem: intermediate.certPem, caPrivateKeyPem: intKey.privateKeyPem, isCaCertificate: true, validityPeriodHours: 24, allowedUses: ["cert_signing"] });
        const leafKey = new tls.PrivateKey("leaf-key", { algorithm: "ECDSA", ecdsaCurve: "P256" });
        const leafCsr = new tls.CertRequest("leaf-csr", { privateKeyPem: leafKey.privateKeyPem, subject: { commonName: "deep" } });
        const leaf = new tls.LocallySignedCert("leaf", { certRequestPem: leafCsr.certRequestPem, caCertPem: sub.certPem, caPrivateKeyPem: subKey.privateKeyPem, validityPeriodHours: 24, allowedUses: ["digital_signature", "client_auth"] });
        const [subPem, leafPem] = await Promise.all([value(sub.certPem), value(leaf.certPem)]);
        expect(verify("sslclient", rootPem, leafPem, [intPem, subPem]).status).toBe(0);
    });

    it("honours a positive maxPathLength on a CA and refuses it on a leaf like Go's x509", async () => {
        const keyPem = (await tlsCreate(TLS_PRIVATE_KEY, { algorithm: "ECDSA", ecdsaCurve: "P256" })).outputs.privateKeyPem;
        const ca = await tlsCreate(TLS_SELF_SIGNED_CERT, { privateKeyPem: keyPem, subject: { commonName: "CA" }, isCaCertificate: true, maxPathLength: 1, validityPeriodHours: 1, allowedUses: ["cert_signing"] });
        expect(text(ca.outputs.certPem)).toMatch(/CA:TRUE, pathlen:1/);
        await expect(tlsCreate(TLS_SELF_SIGNED_CERT, { privateKeyPem: keyPem, subject: { commonName: "leaf" }, maxPathLength: 2, validityPeriodHours: 1, allowedUses: ["digital_signature"] })).rejects.toThrow(
            /only CAs are allowed to specify MaxPathLen/,
        );
    });

    it("takes validity from MTLS_NGINX_CLOCK, uses a random 128-bit serial as id and reports RFC 3339 times", async () => {
        const key = new tls.PrivateKey("clock-key", { algorithm: "ED25519" });
        const cert = new tls.SelfSignedCert("clock-cert", {
            privateKeyPem: key.privateKeyPem,
            subject: { commonName: "clock" },
            validityPeriodHours: 48,
            earlyRenewalHours: 6,
            allowedUses: ["digital_signature", "client_auth"],
            setSubjectKeyId: true,
            setAuthorityKeyId: true,
        });
        const [pem, id, start, end, ready, alg] = await Promise.all([value(cert.certPem), value(cert.id), value(cert.validityStartTime), value(cert.validityEndTime), value(cert.readyForRenewal), value(cert.keyAlgorithm)]);
        expect(start).toBe("2027-03-01T12:00:00.25Z");
        expect(end).toBe("2027-03-03T12:00:00.25Z");
        expect(ready).toBe(false);
        expect(alg).toBe("ED25519");
        const x = new crypto.X509Certificate(pem);
        expect(new Date(x.validFrom).toISOString()).toBe("2027-03-01T12:00:00.000Z");
        expect(new Date(x.validTo).toISOString()).toBe("2027-03-03T12:00:00.000Z");
        expect(BigInt(`0x${x.serialNumber}`).toString(10)).toBe(id);
        expect(BigInt(`0x${x.serialNumber}`) < 2n ** 128n).toBe(true);
        // self-signed with set_authority_key_id: AKI == SKI
        const t = text(pem);
        const ski = /Subject Key Identifier:\s*\n\s+([0-9A-F:]+)/.exec(t)![1];
        expect(t).toMatch(new RegExp(`Authority Key Identifier:\\s*\\n\\s+(keyid:)?${ski}`));
        expect(x.verify(x.publicKey)).toBe(true);
    });

    it("rejects what the provider's schema rejects (camelCase allowed uses, missing AKI source)", async () => {
        const keyPem = (await tlsCreate(TLS_PRIVATE_KEY, { algorithm: "ED25519" })).outputs.privateKeyPem;
        // the Pulumi docs list camelCased values, but the provider validates the snake_case names
        await expect(tlsCreate(TLS_SELF_SIGNED_CERT, { privateKeyPem: keyPem, validityPeriodHours: 1, allowedUses: ["clientAuth"] })).rejects.toThrow(/allowed_uses\[0\] value must be one of: .*"client_auth".*got: "clientAuth"/);
        await expect(tlsCreate(TLS_SELF_SIGNED_CERT, { privateKeyPem: keyPem, subject: { commonName: "x" }, validityPeriodHours: 1, allowedUses: [], setAuthorityKeyId: true })).rejects.toThrow(
            /Could not determine Authority Key Identifier/,
        );
        await expect(tlsCreate(TLS_SELF_SIGNED_CERT, { privateKeyPem: keyPem, isCaCertificate: true, validityPeriodHours: 1, allowedUses: ["cert_signing"] })).rejects.toThrow(
            /Must contain at least one Distinguished Name/,
        );
    });

    it("plans like the provider: ForceNew inputs replace, earlyRenewalHours updates in place, a due certificate is replaced", async () => {
        const keyPem = (await tlsCreate(TLS_PRIVATE_KEY, { algorithm: "ED25519" })).outputs.privateKeyPem;
        const inputs = { privateKeyPem: keyPem, subject: { commonName: "p" }, validityPeriodHours: 10, earlyRenewalHours: 2, allowedUses: ["digital_signature"] };
        const created = await tlsCreate(TLS_SELF_SIGNED_CERT, inputs, new Date("2027-01-01T00:00:00Z"));
        const at = (iso: string) => new Date(iso);
        expect(tlsPlan(TLS_SELF_SIGNED_CERT, inputs, created.outputs, inputs, at("2027-01-01T07:59:59Z")).op).toBe("same");
        expect(tlsPlan(TLS_SELF_SIGNED_CERT, inputs, created.outputs, inputs, at("2027-01-01T08:00:00Z"))).toMatchObject({ op: "replace", replaceKeys: ["readyForRenewal"] });
        expect(tlsPlan(TLS_SELF_SIGNED_CERT, inputs, created.outputs, { ...inputs, earlyRenewalHours: 3 }, at("2027-01-01T01:00:00Z"))).toMatchObject({ op: "update", changedKeys: ["earlyRenewalHours"] });
        expect(tlsPlan(TLS_SELF_SIGNED_CERT, inputs, created.outputs, { ...inputs, validityPeriodHours: 11 }, at("2027-01-01T01:00:00Z"))).toMatchObject({ op: "replace", replaceKeys: ["validityPeriodHours"] });
        // max_path_length forces a new certificate, also from unset (as the real provider does)
        const ca = { ...inputs, isCaCertificate: true, allowedUses: ["cert_signing"] };
        expect(tlsPlan(TLS_SELF_SIGNED_CERT, ca, created.outputs, { ...ca, maxPathLength: 0 }, at("2027-01-01T01:00:00Z"))).toMatchObject({ op: "replace", replaceKeys: ["maxPathLength"] });
        // the schema's defaults: leaving a defaulted input out is not a change
        expect(tlsPlan(TLS_PRIVATE_KEY, { algorithm: "ECDSA" }, {}, { algorithm: "ECDSA", ecdsaCurve: "P224" }).op).toBe("same");
        expect(tlsPlan(TLS_LOCALLY_SIGNED_CERT, { allowedUses: ["a"] }, {}, { allowedUses: ["a"], isCaCertificate: false }).op).toBe("same");
    });
});
