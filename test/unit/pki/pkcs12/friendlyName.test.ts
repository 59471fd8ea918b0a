/**
 * The default friendlyName of a bundle: the decoded CN read from the certificate's ASN.1, always a name
 * importers take, judged at check time and at construction. Read back with OpenSSL, Java keytool (the
 * alias) and NSS (the nickname).
 */
import { CertificateAuthority } from "../../../../components/pki/certificateAuthority";
import { ClientCertificate, resolveClientCertificateArgs } from "../../../../components/pki/clientCertificate";
import { Pkcs12Bundle } from "../../../../components/pki/pkcs12/bundle";
import { pkcs12InputsDigest, pkcs12Provider, Pkcs12ProviderInputs } from "../../../../components/pki/pkcs12/provider";
import { DeploymentSimulator } from "../../../support/engine";
import { FixtureCert, issue, makeHierarchy } from "../../../support/x509";
import { keytoolList, nssImport, opensslDump, P12Workspace } from "./p12Tools";

const UID = "0.9.2342.19200300.100.1.1";
const LONG_SUBJECT = `O=${"o".repeat(64)}, OU=${"u".repeat(64)}, OU=${"v".repeat(64)}, L=${"l".repeat(64)}`;

/** Subject (as @peculiar/x509 takes it) -> the friendlyName importers must show. */
const CASES: { label: string; subject: unknown; expected: string }[] = [
    { label: "a comma", subject: "CN=Doe\\, Jane", expected: "Doe, Jane" },
    { label: "quotes", subject: 'CN=Jane \\"JJ\\" Doe', expected: 'Jane "JJ" Doe' },
    { label: "plus and backslash", subject: "CN=a\\+b\\\\c, O=Example", expected: "a+b\\c" },
    { label: "a multi-valued RDN", subject: [{ CN: ["a"], [UID]: ["b"] }], expected: "a" },
    { label: "an emoji (outside the BMP)", subject: "CN=Jane 🚀 Doe", expected: "Jane Doe" },
    { label: "no CN (a 275-character subject)", subject: LONG_SUBJECT, expected: "l".repeat(64) },
];

let ws: P12Workspace;
let intermediate: FixtureCert;
const leaves = new Map<string, FixtureCert>();

beforeAll(async () => {
    ws = new P12Workspace("pkcs12-friendly-");
    intermediate = (await makeHierarchy({ name: "FriendlyName", intermediate: true })).intermediate!;
    for (const c of CASES) leaves.set(c.label, await issue({ subject: c.subject as string, usage: "client" }, intermediate));
});

afterAll(() => ws.cleanup());

function inputs(leaf: FixtureCert, overrides: Partial<Pkcs12ProviderInputs> = {}): Pkcs12ProviderInputs {
    return { privateKeyPem: leaf.key.privateKeyPem, certificatePem: leaf.certPem, chainPem: intermediate.certPem, profile: "compat", ...overrides };
}

describe("the default friendlyName, read by OpenSSL, keytool and NSS", () => {
    it.each(CASES)("a subject with $label", async ({ label, expected }) => {
        const checked = await pkcs12Provider.check!({}, inputs(leaves.get(label)!));
        expect(checked.failures ?? []).toEqual([]);
        const { outs } = await pkcs12Provider.create(checked.inputs);
        expect(outs.friendlyName).toBe(expected);

        const { p12, passwordFile } = ws.write(label.replace(/\W+/g, "-"), Buffer.from(outs.pfxBase64, "base64"), outs.password);
        expect(opensslDump(p12, passwordFile).bags.filter((b) => b.attributes.friendlyName !== undefined).map((b) => b.attributes.friendlyName)).toEqual([expected, expected]);
        const keytool = keytoolList(p12, passwordFile);
        expect(keytool.result.status).toBe(0);
        expect(keytool.entries.map((e) => e.alias)).toEqual([expected.toLowerCase()]);
        const nss = nssImport(ws.dir, p12, passwordFile);
        expect(nss.importResult.status).toBe(0);
        expect(nss.certList.split("\n").map((line) => line.replace(/\s+[a-zA-Z]*,[a-zA-Z]*,[a-zA-Z]*\s*$/, ""))).toContain(expected);
    });
});

describe("judged before create", () => {
    it("check reads the certificate, so an unreadable one fails at preview, naming certificatePem", async () => {
        const { failures } = await pkcs12Provider.check!({}, inputs(leaves.get("a comma")!, { certificatePem: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n" }));
        expect(failures?.map((f) => f.property)).toEqual(["certificatePem"]);
        expect(failures![0].reason).toMatch(/^certificatePem: is not a PEM certificate.*Fix: /);
    });

    it("a bundle built with an escaped default name is rebuilt once, and then left alone", async () => {
        const news = inputs(leaves.get("a comma")!);
        const built = { friendlyName: "Doe\\, Jane", digest: pkcs12InputsDigest(news), password: "x".repeat(24), passwordGenerated: true };
        expect((await pkcs12Provider.diff!("id", built, news)).changes).toBe(true);
        expect((await pkcs12Provider.diff!("id", { ...built, friendlyName: "Doe, Jane" }, news)).changes).toBe(false);
        // A supplied name is the user's: never second-guessed.
        const supplied = { ...news, friendlyName: "Doe\\, Jane" };
        expect((await pkcs12Provider.diff!("id", { ...built, digest: pkcs12InputsDigest(supplied) }, supplied)).changes).toBe(false);
    });

    it("a Pkcs12Bundle given a known certificate judges the default at construction", async () => {
        const sim = new DeploymentSimulator();
        const leaf = leaves.get("no CN (a 275-character subject)")!;
        const result = await sim.run(() => {
            const bundle = new Pkcs12Bundle("b", { privateKeyPem: leaf.key.privateKeyPem, certificatePem: leaf.certPem, chainPem: intermediate.certPem });
            return { friendlyName: bundle.friendlyName };
        });
        expect(result.outputs.friendlyName).toBe("l".repeat(64));
        await expect(new DeploymentSimulator().run(() => new Pkcs12Bundle("b", { privateKeyPem: leaf.key.privateKeyPem, certificatePem: "not a certificate" }))).rejects.toThrow(
            /^certificatePem: is not a PEM certificate/,
        );
    });
});

describe("ClientCertificate", () => {
    const ISSUER = { displayName: "Unit CA", validityMs: 3650 * 86400_000 };

    it("defaults the friendlyName to the CN without what a BMPString cannot hold", () => {
        expect(resolveClientCertificateArgs({ commonName: "Jane 🚀 Doe" }, ISSUER, "clients[0]").pkcs12!.friendlyName).toBe("Jane Doe");
        expect(resolveClientCertificateArgs({ commonName: "🚀" }, ISSUER, "clients[0]").pkcs12!.friendlyName).toBe("certificate");
        expect(resolveClientCertificateArgs({ commonName: "Doe, Jane" }, ISSUER, "clients[0]").pkcs12!.friendlyName).toBe("Doe, Jane");
    });

    it("refuses a supplied friendlyName outside the BMP at construction, naming it", () => {
        expect(() => resolveClientCertificateArgs({ commonName: "a", pkcs12: { friendlyName: "laptop 💻" } }, ISSUER, "clients[0]")).toThrow(/^clients\[0\]\.pkcs12\.friendlyName: .*Basic Multilingual Plane/);
    });

    it("issues a client whose CN holds an emoji, with a bundle named without it", async () => {
        const result = await new DeploymentSimulator().run(() => {
            const ca = new CertificateAuthority("ca", { commonName: "Unit CA" });
            const client = new ClientCertificate("c", { issuer: ca, commonName: "Jane 🚀 Doe" });
            return { subject: client.subject };
        });
        expect(result.outputs.subject).toBe("CN=Jane 🚀 Doe");
        expect(result.resource("c-pkcs12")!.outputs.friendlyName).toBe("Jane Doe");
    });
});
