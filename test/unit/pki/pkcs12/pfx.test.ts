/**
 * buildPkcs12: inputs, errors and structure, checked by reading the files back with OpenSSL 3
 * (the cross-tool interop matrix lives in test/integration/pkcs12Interop.test.ts).
 */
import * as crypto from "crypto";
import { InputError, InputErrors } from "../../../../components/util/errors";
import { buildPkcs12, defaultFriendlyName, Pkcs12Input, splitPemCertificates } from "../../../../components/pki/pkcs12/pfx";
import { FixtureCert, issue, makeHierarchy, makeKey } from "../../../support/x509";
import { opensslDump, opensslInfo, opensslKeyId, P12Workspace, spkiOf } from "./p12Tools";

let ws: P12Workspace;
let root: FixtureCert;
let intermediate: FixtureCert;
let leaf: FixtureCert;
let rsaLeaf: FixtureCert;

beforeAll(async () => {
    ws = new P12Workspace("pkcs12-pfx-");
    const h = await makeHierarchy({ name: "Unit", intermediate: true });
    root = h.root;
    intermediate = h.intermediate!;
    leaf = await issue({ subject: "CN=alice, O=Example", usage: "client" }, intermediate);
    rsaLeaf = await issue({ subject: "CN=bob", usage: "client", keyType: "rsa-2048" }, intermediate);
});

afterAll(() => ws.cleanup());

function input(overrides: Partial<Pkcs12Input> = {}): Pkcs12Input {
    return {
        privateKeyPem: leaf.key.privateKeyPem,
        certificatePem: leaf.certPem,
        chainPems: [intermediate.certPem, root.certPem],
        password: "unit-test-password",
        profile: "compat",
        friendlyName: "alice",
        ...overrides,
    };
}

function caught(fn: () => unknown): Error {
    try {
        fn();
    } catch (e) {
        return e as Error;
    }
    throw new Error("expected an error, nothing was thrown");
}

describe("buildPkcs12 read back by OpenSSL", () => {
    it.each(["compat", "modern"] as const)("%s: key, leaf with attributes, then the chain", (profile) => {
        const der = buildPkcs12(input({ profile }));
        const { p12, passwordFile } = ws.write(`order-${profile}`, der, "unit-test-password");
        const dump = opensslDump(p12, passwordFile);
        expect(dump.certificates.map((c) => spkiOf(c))).toEqual([leaf, intermediate, root].map((c) => spkiOf(c.certPem)));
        expect(spkiOf(dump.privateKeyPem)).toBe(spkiOf(leaf.certPem));
        // Leaf cert bag and key bag carry friendlyName + localKeyId (SHA-1 of the leaf DER); chain bags none.
        const expected = { friendlyName: "alice", localKeyID: opensslKeyId(leaf.certPem) };
        expect(dump.bags.map((b) => [b.kind, b.attributes])).toEqual([
            ["certificate", expected],
            ["certificate", {}],
            ["certificate", {}],
            ["key", expected],
        ]);
    });

    it("accepts PKCS#1 and SEC1 keys as well as PKCS#8, and puts the same PKCS#8 key in the bag", () => {
        const ecSec1 = crypto.createPrivateKey(leaf.key.privateKeyPem).export({ type: "sec1", format: "pem" }) as string;
        const rsaPkcs1 = crypto.createPrivateKey(rsaLeaf.key.privateKeyPem).export({ type: "pkcs1", format: "pem" }) as string;
        expect(ecSec1).toContain("BEGIN EC PRIVATE KEY");
        expect(rsaPkcs1).toContain("BEGIN RSA PRIVATE KEY");
        for (const [name, keyPem, cert] of [
            ["sec1", ecSec1, leaf],
            ["pkcs1", rsaPkcs1, rsaLeaf],
        ] as const) {
            const der = buildPkcs12(input({ privateKeyPem: keyPem, certificatePem: cert.certPem, friendlyName: name }));
            const { p12, passwordFile } = ws.write(`format-${name}`, der, "unit-test-password");
            const dump = opensslDump(p12, passwordFile);
            const normalized = crypto.createPrivateKey(cert.key.privateKeyPem).export({ type: "pkcs8", format: "der" });
            expect(crypto.createPrivateKey(dump.privateKeyPem).export({ type: "pkcs8", format: "der" }).equals(normalized)).toBe(true);
        }
    });

    it("honours iterations and uses fresh salts each build (same content, different bytes)", () => {
        const a = buildPkcs12(input({ profile: "modern", iterations: 4096 }));
        const b = buildPkcs12(input({ profile: "modern", iterations: 4096 }));
        expect(a.equals(b)).toBe(false);
        expect(a.length).toBe(b.length);
        const fa = ws.write("iter-a", a, "unit-test-password");
        const info = opensslInfo(fa.p12, fa.passwordFile);
        expect(info.status).toBe(0);
        expect(info.stderr).toContain("MAC: sha256, Iteration 4096");
        expect(info.stderr).toContain("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 4096, PRF hmacWithSHA256");
        const fb = ws.write("iter-b", b, "unit-test-password");
        expect(opensslDump(fb.p12, fb.passwordFile).certificates).toEqual(opensslDump(fa.p12, fa.passwordFile).certificates);
    });

    it("works without a chain", () => {
        const der = buildPkcs12(input({ chainPems: [] }));
        const { p12, passwordFile } = ws.write("nochain", der, "unit-test-password");
        expect(opensslDump(p12, passwordFile).certificates).toHaveLength(1);
    });
});

describe("buildPkcs12 errors", () => {
    it("refuses a key that does not match the certificate, naming privateKeyPem", async () => {
        const other = await makeKey("ecdsa-p256");
        const e = caught(() => buildPkcs12(input({ privateKeyPem: other.privateKeyPem })));
        expect(e).toBeInstanceOf(InputError);
        expect((e as InputError).input).toBe("privateKeyPem");
        expect(e.message).toMatch(/does not match the public key of certificatePem \(subject CN=alice, O=Example/);
        // Same for a key of another type.
        expect(caught(() => buildPkcs12(input({ privateKeyPem: rsaLeaf.key.privateKeyPem }))).message).toMatch(/does not match/);
    });

    it("refuses a chain in the wrong order or with a foreign certificate", async () => {
        const reversed = caught(() => buildPkcs12(input({ chainPems: [root.certPem, intermediate.certPem] })));
        expect((reversed as InputError).input).toBe("chainPems[0]");
        expect(reversed.message).toMatch(/did not issue the leaf certificate/);
        const foreign = await makeHierarchy({ name: "Foreign" });
        const e = caught(() => buildPkcs12(input({ chainPems: [intermediate.certPem, foreign.root.certPem] })));
        expect((e as InputError).input).toBe("chainPems[1]");
    });

    it("collects several input problems in one error", () => {
        const e = caught(() => buildPkcs12(input({ profile: "fast" as never, password: "", certificatePem: "not a pem", iterations: 10 })));
        expect(e).toBeInstanceOf(InputErrors);
        expect((e as InputErrors).errors.map((x) => x.input).sort()).toEqual(["certificatePem", "iterations", "password", "profile"]);
    });

    it("rejects public keys, encrypted keys and unsupported key types", () => {
        expect(caught(() => buildPkcs12(input({ privateKeyPem: leaf.key.publicKeyPem }))).message).toMatch(/^privateKeyPem: is not an unencrypted PEM private key/);
        const encrypted = crypto.createPrivateKey(leaf.key.privateKeyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "x" }) as string;
        expect(caught(() => buildPkcs12(input({ privateKeyPem: encrypted }))).message).toMatch(/^privateKeyPem: is not an unencrypted PEM private key/);
        const ed = crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string;
        expect(caught(() => buildPkcs12(input({ privateKeyPem: ed }))).message).toMatch(/ed25519 key/);
    });

    it("wants exactly one certificate in certificatePem", () => {
        const e = caught(() => buildPkcs12(input({ certificatePem: leaf.certPem + intermediate.certPem })));
        expect(e.message).toMatch(/^certificatePem: holds 2 PEM certificates/);
    });
});

describe("helpers", () => {
    it("splitPemCertificates keeps order and ignores surrounding text", () => {
        const text = `# chain\n${intermediate.certPem}\n\ngarbage\n${root.certPem}`;
        expect(splitPemCertificates(text).map(spkiOf)).toEqual([spkiOf(intermediate.certPem), spkiOf(root.certPem)]);
        expect(splitPemCertificates("")).toEqual([]);
    });

    it("defaultFriendlyName is the subject CN", () => {
        expect(defaultFriendlyName(leaf.certPem)).toBe("alice");
        expect(defaultFriendlyName(intermediate.certPem)).toBe("Unit Intermediate CA");
    });
});
