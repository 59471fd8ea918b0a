/**
 * PKCS#12 interop: bundles from buildPkcs12, for each profile × key type with an intermediate chain,
 * read by three independent implementations:
 *   - OpenSSL 3 (`openssl pkcs12`, no -legacy flag, also for the 3DES/SHA-1 compat profile),
 *   - Java 17 keytool (`-storetype PKCS12`),
 *   - NSS (pk12util into a fresh `sql:` database, listed with certutil).
 * Passwords travel in 0600 files (-passin file:, -storepass:file, -w), never on a command line or in logs.
 */
import * as crypto from "crypto";
import { buildPkcs12, COMPAT_ITERATIONS, MODERN_ITERATIONS, Pkcs12Profile } from "../../components/pki/pkcs12/pfx";
import { generatePkcs12Password } from "../../components/pki/pkcs12/password";
import { FixtureCert, FixtureKeyType, issue, makeHierarchy } from "../support/x509";
import { keytoolList, nssImport, opensslDump, opensslInfo, opensslKeyId, P12Workspace, spkiOf } from "../unit/pki/pkcs12/p12Tools";

interface Case {
    profile: Pkcs12Profile;
    keyType: FixtureKeyType;
}

const CASES: Case[] = [
    ...(["compat", "modern"] as const).flatMap((profile) => (["ecdsa-p256", "ecdsa-p384", "rsa-2048"] as const).map((keyType) => ({ profile, keyType }))),
    { profile: "compat", keyType: "rsa-4096" },
];

const EXPECTED: Record<Pkcs12Profile, { mac: string; bagEncryption: string }> = {
    compat: { mac: `MAC: sha1, Iteration ${COMPAT_ITERATIONS}`, bagEncryption: `pbeWithSHA1And3-KeyTripleDES-CBC, Iteration ${COMPAT_ITERATIONS}` },
    modern: { mac: `MAC: sha256, Iteration ${MODERN_ITERATIONS}`, bagEncryption: `PBES2, PBKDF2, AES-256-CBC, Iteration ${MODERN_ITERATIONS}, PRF hmacWithSHA256` },
};

interface Built {
    c: Case;
    friendlyName: string;
    password: string;
    leaf: FixtureCert;
    intermediate: FixtureCert;
    root: FixtureCert;
    p12: string;
    passwordFile: string;
}

let ws: P12Workspace;
const built = new Map<string, Built>();
const label = (c: Case) => `${c.profile}/${c.keyType}`;

beforeAll(async () => {
    ws = new P12Workspace("pkcs12-interop-");
    for (const c of CASES) {
        const { root, intermediate } = await makeHierarchy({ name: `Interop ${c.keyType}`, intermediate: true, keyType: c.keyType });
        // Mixed case and a space: keytool lower-cases aliases, NSS keeps the nickname as is.
        const friendlyName = `Alice Example ${c.keyType}`;
        const leaf = await issue({ subject: `CN=${friendlyName}, O=Example`, usage: "client", keyType: c.keyType, emails: ["alice@example.com"] }, intermediate!);
        const password = generatePkcs12Password();
        const der = buildPkcs12({
            privateKeyPem: leaf.key.privateKeyPem,
            certificatePem: leaf.certPem,
            chainPems: [intermediate!.certPem, root.certPem],
            password,
            profile: c.profile,
            friendlyName,
        });
        const files = ws.write(`${c.profile}-${c.keyType}`, der, password);
        built.set(label(c), { c, friendlyName, password, leaf, intermediate: intermediate!, root, ...files });
    }
}, 120_000);

afterAll(() => ws?.cleanup());

describe.each(CASES)("$profile / $keyType", (c) => {
    const get = () => built.get(label(c))!;

    it("OpenSSL 3 verifies the MAC and shows the profile's algorithms; certificate bags are encrypted", () => {
        const b = get();
        const info = opensslInfo(b.p12, b.passwordFile);
        expect(info.status).toBe(0);
        const lines = info.stderr.split("\n").map((l) => l.trim());
        expect(lines).toContain(EXPECTED[c.profile].mac);
        // Structure: an encrypted-data safe with the three certificate bags, then a data safe with the shrouded key.
        const encrypted = lines.indexOf(`PKCS7 Encrypted data: ${EXPECTED[c.profile].bagEncryption}`);
        const data = lines.indexOf("PKCS7 Data");
        expect(encrypted).toBeGreaterThanOrEqual(0);
        expect(data).toBeGreaterThan(encrypted);
        expect(lines.slice(encrypted + 1, data)).toEqual(["Certificate bag", "Certificate bag", "Certificate bag"]);
        expect(lines.slice(data + 1)).toContain(`Shrouded Keybag: ${EXPECTED[c.profile].bagEncryption}`);
        expect(lines.filter((l) => l === "Certificate bag")).toHaveLength(3);
    });

    it("OpenSSL 3 extracts a key matching the certificate, the friendlyName and the chain", () => {
        const b = get();
        const dump = opensslDump(b.p12, b.passwordFile);
        expect(spkiOf(dump.privateKeyPem)).toBe(spkiOf(b.leaf.certPem));
        // The extracted key really is the private half: sign with it, verify with the certificate.
        const signature = crypto.sign("sha256", Buffer.from("interop"), dump.privateKeyPem);
        expect(crypto.verify("sha256", Buffer.from("interop"), new crypto.X509Certificate(b.leaf.certPem).publicKey, signature)).toBe(true);
        expect(dump.certificates.map((pem) => new crypto.X509Certificate(pem).fingerprint256)).toEqual(
            [b.leaf, b.intermediate, b.root].map((cert) => new crypto.X509Certificate(cert.certPem).fingerprint256),
        );
        const named = dump.bags.filter((bag) => bag.attributes.friendlyName === b.friendlyName);
        expect(named.map((bag) => bag.kind).sort()).toEqual(["certificate", "key"]);
        for (const bag of named) expect(bag.attributes.localKeyID).toBe(opensslKeyId(b.leaf.certPem));
    });

    it("OpenSSL 3 rejects a wrong password", () => {
        const b = get();
        const wrong = ws.writePassword(`wrong-${c.profile}-${c.keyType}`, "not-the-password");
        const info = opensslInfo(b.p12, wrong);
        expect(info.status).not.toBe(0);
        expect(info.stderr).toMatch(/Mac verify error: invalid password\?/);
    });

    it("Java keytool lists one PrivateKeyEntry, alias = friendlyName lower-cased, chain of 3", () => {
        const b = get();
        const { result, entries } = keytoolList(b.p12, b.passwordFile);
        expect(result.status).toBe(0);
        expect(entries).toHaveLength(1);
        expect(entries[0].alias).toBe(b.friendlyName.toLowerCase());
        expect(entries[0].entryType).toBe("PrivateKeyEntry");
        expect(entries[0].chainLength).toBe(3);
        expect(entries[0].owners).toEqual([`O=Example, CN=${b.friendlyName}`, `CN=Interop ${c.keyType} Intermediate CA`, `CN=Interop ${c.keyType} Root CA`]);
    });

    it("NSS pk12util imports it; certutil lists the friendlyName as nickname with its key", () => {
        const b = get();
        const { importResult, certList, keyList } = nssImport(ws.dir, b.p12, b.passwordFile);
        expect(importResult.status).toBe(0);
        expect(importResult.stdout + importResult.stderr).toContain("PKCS12 IMPORT SUCCESSFUL");
        // The leaf is a user cert (u,u,u: NSS found its private key); chain certs are nicknamed by NSS from their subjects.
        expect(certList).toMatch(new RegExp(`^${b.friendlyName}\\s+u,u,u\\s*$`, "m"));
        expect(certList).toMatch(new RegExp(`^Interop ${c.keyType} Intermediate CA\\s+,,\\s*$`, "m"));
        expect(certList).toMatch(new RegExp(`^Interop ${c.keyType} Root CA\\s+,,\\s*$`, "m"));
        expect(keyList).toMatch(new RegExp(`<\\s*0>\\s+(ec|rsa)\\s+[0-9a-f]+\\s+${b.friendlyName}\\s*$`, "m"));
    });
});

describe("wrong passwords in Java and NSS", () => {
    it.each(["compat", "modern"] as const)("%s: keytool and pk12util refuse a wrong password", (profile) => {
        const b = built.get(label({ profile, keyType: "ecdsa-p256" }))!;
        const wrong = ws.writePassword(`wrong-tools-${profile}`, "not-the-password");
        const { result } = keytoolList(b.p12, wrong);
        expect(result.status).not.toBe(0);
        expect(result.stdout + result.stderr).toMatch(/password was incorrect|Integrity check failed/i);
        const nss = nssImport(ws.dir, b.p12, wrong);
        expect(nss.importResult.status).not.toBe(0);
        expect(nss.certList).not.toContain(b.friendlyName);
    });
});

describe("non-ASCII friendlyName (BMPString)", () => {
    it("reaches keytool and NSS intact", async () => {
        const { root } = await makeHierarchy({ name: "Unicode" });
        const leaf = await issue({ subject: "CN=zoe", usage: "client" }, root);
        const friendlyName = "Zoë Müller – 東京";
        const password = generatePkcs12Password();
        const der = buildPkcs12({ privateKeyPem: leaf.key.privateKeyPem, certificatePem: leaf.certPem, chainPems: [root.certPem], password, profile: "compat", friendlyName });
        const { p12, passwordFile } = ws.write("unicode", der, password);
        const nss = nssImport(ws.dir, p12, passwordFile);
        expect(nss.importResult.status).toBe(0);
        expect(nss.certList).toMatch(new RegExp(`^${friendlyName}\\s+u,u,u\\s*$`, "m"));
        const { result, entries } = keytoolList(p12, passwordFile);
        expect(result.status).toBe(0);
        expect(entries[0].alias).toBe(friendlyName.toLowerCase());
        expect(entries[0].chainLength).toBe(2);
    });
});
