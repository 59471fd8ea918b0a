/**
 * The Pkcs12Bundle dynamic provider called directly (check/diff/create/update), and in its
 * serialized form as the Pulumi dynamic provider host would run it.
 */
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import { createRequire } from "module";
import * as path from "path";
import { pkcs12InputsDigest, pkcs12Provider, Pkcs12ProviderInputs, UNKNOWN_SENTINEL } from "../../../../components/pki/pkcs12/provider";
import { FixtureCert, issue, makeHierarchy } from "../../../support/x509";
import { opensslDump, opensslInfo, P12Workspace, spkiOf } from "./p12Tools";

let ws: P12Workspace;
let root: FixtureCert;
let intermediate: FixtureCert;
let leaf: FixtureCert;
let rotated: FixtureCert;

beforeAll(async () => {
    ws = new P12Workspace("pkcs12-provider-");
    const h = await makeHierarchy({ name: "Provider", intermediate: true });
    root = h.root;
    intermediate = h.intermediate!;
    leaf = await issue({ subject: "CN=alice, O=Example", usage: "client" }, intermediate);
    // Key rotation: a new key and a new certificate for the same subject.
    rotated = await issue({ subject: "CN=alice, O=Example", usage: "client" }, intermediate);
});

afterAll(() => ws.cleanup());

function inputs(overrides: Partial<Pkcs12ProviderInputs> = {}): Pkcs12ProviderInputs {
    return {
        privateKeyPem: leaf.key.privateKeyPem,
        certificatePem: leaf.certPem,
        chainPem: intermediate.certPem + root.certPem,
        profile: "compat",
        friendlyName: "alice",
        ...overrides,
    };
}

let fileCounter = 0;
/** Writes the bundle from outputs and reads it with OpenSSL using the password from the outputs. */
function readBack(outs: Record<string, any>, password: string = outs.password) {
    const { p12, passwordFile } = ws.write(`bundle-${fileCounter++}`, Buffer.from(outs.pfxBase64, "base64"), password);
    return { dump: opensslDump(p12, passwordFile), info: opensslInfo(p12, passwordFile) };
}

async function create(news: Pkcs12ProviderInputs) {
    const checked = await pkcs12Provider.check!({}, news);
    expect(checked.failures ?? []).toEqual([]);
    return pkcs12Provider.create(checked.inputs);
}

describe("check", () => {
    it("accepts valid inputs and fills the defaults", async () => {
        const { profile: _p, chainPem: _c, ...rest } = inputs();
        const result = await pkcs12Provider.check!({}, rest);
        expect(result.failures ?? []).toEqual([]);
        expect(result.inputs).toMatchObject({ profile: "compat", chainPem: "" });
    });

    it("reports an invalid profile, listing the valid ones", async () => {
        const result = await pkcs12Provider.check!({}, inputs({ profile: "legacy" as never }));
        expect(result.failures).toHaveLength(1);
        expect(result.failures![0].property).toBe("profile");
        expect(result.failures![0].reason).toMatch(/"legacy" is not a PKCS#12 profile.*"compat", "modern"/);
    });

    it("reports a non-ASCII or empty supplied password without echoing it", async () => {
        const bad = await pkcs12Provider.check!({}, inputs({ password: "Kennwort-ß-geheim" }));
        expect(bad.failures!.map((f) => f.property)).toEqual(["password"]);
        expect(bad.failures![0].reason).not.toContain("geheim");
        const empty = await pkcs12Provider.check!({}, inputs({ password: "" }));
        expect(empty.failures!.map((f) => f.property)).toEqual(["password"]);
    });

    it("reports missing PEMs, and does not judge unknown values", async () => {
        const missing = await pkcs12Provider.check!({}, { profile: "modern" });
        expect(missing.failures!.map((f) => f.property).sort()).toEqual(["certificatePem", "privateKeyPem"]);
        const unknown = await pkcs12Provider.check!({}, inputs({ profile: UNKNOWN_SENTINEL as never, password: UNKNOWN_SENTINEL, certificatePem: UNKNOWN_SENTINEL }));
        expect(unknown.failures ?? []).toEqual([]);
    });
});

describe("create", () => {
    it("builds a bundle OpenSSL opens with the generated password; keeps no key material in the outputs", async () => {
        const { id, outs } = await create(inputs());
        expect(id).toMatch(/^pkcs12-[0-9a-f-]{36}$/);
        expect(outs.password).toMatch(/^[A-Za-z0-9]{24}$/);
        expect(outs.passwordGenerated).toBe(true);
        expect(outs.profile).toBe("compat");
        expect(outs.friendlyName).toBe("alice");
        expect(outs.certificateSha256).toBe(crypto.createHash("sha256").update(new crypto.X509Certificate(leaf.certPem).raw).digest("hex"));
        expect(outs.digest).toBe(pkcs12InputsDigest(inputs()));
        const keyBody = leaf.key.privateKeyPem.split("\n")[1];
        expect(JSON.stringify(outs)).not.toContain(keyBody);
        expect(Object.keys(outs).sort()).toEqual(["certificateSha256", "digest", "friendlyName", "password", "passwordGenerated", "pfxBase64", "profile"]);

        const { dump, info } = readBack(outs);
        expect(info.status).toBe(0);
        expect(info.stderr).toContain("MAC: sha1, Iteration 2048");
        expect(spkiOf(dump.privateKeyPem)).toBe(spkiOf(leaf.certPem));
        expect(dump.certificates).toHaveLength(3);
    });

    it("generates a different password per resource", async () => {
        const a = await create(inputs());
        const b = await create(inputs());
        expect(a.outs.password).not.toBe(b.outs.password);
    });

    it("uses the certificate's CN when no friendlyName is given", async () => {
        const { friendlyName: _f, ...rest } = inputs();
        const { outs } = await create(rest);
        expect(outs.friendlyName).toBe("alice");
        expect(readBack(outs).dump.bags[0].attributes.friendlyName).toBe("alice");
    });

    it("fails with a clear error when key and certificate do not match", async () => {
        await expect(create(inputs({ privateKeyPem: rotated.key.privateKeyPem }))).rejects.toThrow(/^privateKeyPem: does not match the public key of certificatePem/);
    });
});

describe("diff and update", () => {
    it("reports no change for the same inputs although every build has fresh salts", async () => {
        const { id, outs } = await create(inputs());
        const again = await pkcs12Provider.create(inputs());
        expect(again.outs.pfxBase64).not.toBe(outs.pfxBase64);
        const diff = await pkcs12Provider.diff!(id, outs, inputs());
        expect(diff.changes).toBe(false);
        // A CRLF copy of the same PEMs is the same input.
        const crlf = await pkcs12Provider.diff!(id, outs, inputs({ certificatePem: leaf.certPem.replace(/\n/g, "\r\n") }));
        expect(crlf.changes).toBe(false);
    });

    it("rotating key and certificate is an update that keeps the generated password", async () => {
        const { id, outs } = await create(inputs());
        const news = inputs({ privateKeyPem: rotated.key.privateKeyPem, certificatePem: rotated.certPem });
        const diff = await pkcs12Provider.diff!(id, outs, news);
        expect(diff.changes).toBe(true);
        expect(diff.replaces ?? []).toEqual([]);
        expect(diff.stables).toEqual(["password"]);

        const updated = await pkcs12Provider.update!(id, outs, news);
        expect(updated.outs.password).toBe(outs.password);
        expect(updated.outs.passwordGenerated).toBe(true);
        expect(updated.outs.certificateSha256).not.toBe(outs.certificateSha256);
        const { dump } = readBack(updated.outs, outs.password);
        expect(spkiOf(dump.certificates[0])).toBe(spkiOf(rotated.certPem));
        expect(spkiOf(dump.privateKeyPem)).toBe(spkiOf(rotated.certPem));
        expect((await pkcs12Provider.diff!(id, updated.outs, news)).changes).toBe(false);
    });

    it.each(["chainPem", "profile", "friendlyName"] as const)("a changed %s is an update", async (field) => {
        const change: Partial<Pkcs12ProviderInputs> = {
            chainPem: { chainPem: intermediate.certPem },
            profile: { profile: "modern" as const },
            friendlyName: { friendlyName: "Alice (laptop)" },
        }[field];
        const { id, outs } = await create(inputs());
        const news = inputs(change);
        const diff = await pkcs12Provider.diff!(id, outs, news);
        expect(diff.changes).toBe(true);
        expect(diff.replaces ?? []).toEqual([]);
        const updated = await pkcs12Provider.update!(id, outs, news);
        expect(updated.outs.password).toBe(outs.password);
        const { info, dump } = readBack(updated.outs);
        expect(info.status).toBe(0);
        if ("profile" in change) expect(info.stderr).toContain("MAC: sha256, Iteration 10000");
        if ("chainPem" in change) expect(dump.certificates).toHaveLength(2);
        if ("friendlyName" in change) expect(dump.bags[0].attributes.friendlyName).toBe("Alice (laptop)");
    });

    it("a supplied password is used, its change is a change, and dropping it generates a new one", async () => {
        const { id, outs } = await create(inputs());
        const supplied = inputs({ password: "first-Secret-1" });
        expect((await pkcs12Provider.diff!(id, outs, supplied)).changes).toBe(true);
        const withFirst = (await pkcs12Provider.update!(id, outs, supplied)).outs;
        expect(withFirst.password).toBe("first-Secret-1");
        expect(withFirst.passwordGenerated).toBe(false);
        expect(readBack(withFirst, "first-Secret-1").info.status).toBe(0);

        expect((await pkcs12Provider.diff!(id, withFirst, supplied)).changes).toBe(false);
        const second = inputs({ password: "second-Secret-2" });
        const diff = await pkcs12Provider.diff!(id, withFirst, second);
        expect(diff.changes).toBe(true);
        expect(diff.stables).toEqual([]);
        const withSecond = (await pkcs12Provider.update!(id, withFirst, second)).outs;
        expect(readBack(withSecond, "second-Secret-2").info.status).toBe(0);
        const stale = ws.write(`bundle-${fileCounter++}`, Buffer.from(withSecond.pfxBase64, "base64"), "second-Secret-2");
        expect(opensslInfo(stale.p12, ws.writePassword("stale", "first-Secret-1")).status).not.toBe(0);

        const dropped = inputs();
        expect((await pkcs12Provider.diff!(id, withSecond, dropped)).changes).toBe(true);
        const regenerated = (await pkcs12Provider.update!(id, withSecond, dropped)).outs;
        expect(regenerated.password).toMatch(/^[A-Za-z0-9]{24}$/);
        expect(regenerated.passwordGenerated).toBe(true);
        expect(readBack(regenerated).info.status).toBe(0);
    });

    it("an unknown input (preview) is a change, never a replace", async () => {
        const { id, outs } = await create(inputs());
        for (const field of ["privateKeyPem", "certificatePem", "chainPem", "password", "friendlyName"] as const) {
            const diff = await pkcs12Provider.diff!(id, outs, inputs({ [field]: UNKNOWN_SENTINEL }));
            expect(diff.changes).toBe(true);
            expect(diff.replaces ?? []).toEqual([]);
        }
    });
});

describe("serialized provider", () => {
    it("serializeFunction captures it, and the deserialized provider builds a bundle OpenSSL reads", async () => {
        const sf = await pulumi.runtime.serializeFunction(() => pkcs12Provider);
        expect(sf.text).toContain('require("@peculiar/asn1-pfx")');
        // Evaluate the text the way the dynamic provider host does, with a real Node require from the project root.
        const realRequire = createRequire(path.join(process.cwd(), "index.js"));
        const mod = { exports: {} as Record<string, any> };
        new Function("exports", "require", "module", sf.text)(mod.exports, realRequire, mod);
        const provider = mod.exports[sf.exportName]() as typeof pkcs12Provider;
        expect(provider).not.toBe(pkcs12Provider);

        const checked = await provider.check!({}, inputs({ profile: "modern" }));
        expect(checked.failures ?? []).toEqual([]);
        const bad = await provider.check!({}, inputs({ profile: "nope" as never }));
        expect(bad.failures!.map((f) => f.property)).toEqual(["profile"]);

        const { id, outs } = await provider.create(checked.inputs);
        const { info, dump } = readBack(outs);
        expect(info.status).toBe(0);
        expect(info.stderr).toContain("MAC: sha256, Iteration 10000");
        expect(spkiOf(dump.privateKeyPem)).toBe(spkiOf(leaf.certPem));
        expect((await provider.diff!(id, outs, checked.inputs)).changes).toBe(false);
        await expect(provider.create(inputs({ privateKeyPem: rotated.key.privateKeyPem }))).rejects.toThrow(/privateKeyPem: does not match/);
    });
});
