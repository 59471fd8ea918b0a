import * as pulumi from "@pulumi/pulumi";
import { revocationListProvider, RevocationListOutputs } from "../../../components/revocation/provider";
import { makeHierarchy, issue, FixtureCert } from "../../support/x509";
import { CRL_BACKDATE_MS, normalizeSerial } from "../../../components/revocation/ledger";
import { cleanupTmp, crlText, pemBlocks, tmpDir } from "./opensslHelpers";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const saved = process.env.MTLS_NGINX_CLOCK;

const realDateNow = Date.now;

/** Time passing: the clock and the wall clock (which stamps CRLs) move together. */
function setClock(d: Date): void {
    process.env.MTLS_NGINX_CLOCK = d.toISOString();
    Date.now = () => d.getTime();
}

/** Only MTLS_NGINX_CLOCK moves (a what-if run); the wall clock stays real. */
function moveClockOnly(d: Date): void {
    process.env.MTLS_NGINX_CLOCK = d.toISOString();
    Date.now = realDateNow;
}

afterEach(() => {
    Date.now = realDateNow;
    if (saved === undefined) delete process.env.MTLS_NGINX_CLOCK;
    else process.env.MTLS_NGINX_CLOCK = saved;
});
afterAll(cleanupTmp);

type Provider = Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "update">>;
const provider = revocationListProvider as Provider;

/** Each CRL block of crlPem verified by the CA certificate at the same position of trustedCaPem. */
function expectCrlsVerify(outs: RevocationListOutputs): void {
    const crls = pemBlocks(outs.crlPem);
    const cas = pemBlocks(outs.trustedCaPem);
    expect(crls).toHaveLength(cas.length);
    const dir = tmpDir("provider");
    crls.forEach((crl, i) => expect(crlText(dir, crl, cas[i]).verified).toBe(true));
}

describe("RevocationList provider", () => {
    let root: FixtureCert;
    let inter: FixtureCert;
    let alice: FixtureCert;
    let bob: FixtureCert;
    let T: Date;

    beforeAll(async () => {
        const h = await makeHierarchy({ intermediate: true, name: "Provider" });
        root = h.root;
        inter = h.intermediate as FixtureCert;
        alice = await issue({ subject: "CN=alice", usage: "client", days: 30 }, inter);
        bob = await issue({ subject: "CN=bob", usage: "client", days: 2 }, inter);
        T = new Date(Math.floor(Date.now() / 1000) * 1000);
    });

    const inputs = (extra: Record<string, unknown> = {}) => ({
        issuerCertPem: inter.certPem,
        issuerKeyPem: inter.key.privateKeyPem,
        issued: [
            { name: "alice", certPem: alice.certPem },
            { name: "bob", certPem: bob.certPem },
        ],
        revocations: [],
        revokeSuperseded: false,
        crlValidityHours: 168,
        ...extra,
    });

    test("create signs a CRL openssl verifies; diff: nothing before refreshAt, an update from refreshAt on, on any input change and on unknowns; never a replace", async () => {
        setClock(T);
        const created = await provider.create(inputs());
        const outs = created.outs as RevocationListOutputs;
        expect(created.id).toMatch(/^revocation-/);
        expectCrlsVerify(outs);
        expect(outs.trustedCaPem.trim()).toBe(inter.certPem.trim());
        expect(outs.nextUpdate).toBe(new Date(T.getTime() - CRL_BACKDATE_MS + 7 * DAY).toISOString());
        expect(outs.refreshAt).toBe(new Date(T.getTime() - CRL_BACKDATE_MS + 3.5 * DAY).toISOString());
        expect(outs.revoked).toEqual([]);
        expect(outs.issuers).toEqual([{ fingerprint: expect.stringMatching(/^[0-9A-F:]{95}$/), subject: "CN=Provider Intermediate CA", retired: false, crlNumber: 1, crlNextUpdate: outs.nextUpdate }]);
        expect(outs.changes).toEqual(expect.arrayContaining([expect.stringMatching(/^signed CRL #1 of CA [0-9A-F]{16} \(first CRL\)/)]));
        expect(outs.state.issuers[0].keyPem).toBe(inter.key.privateKeyPem);

        // Same inputs (in another order), before refreshAt: no change.
        setClock(new Date(new Date(outs.refreshAt).getTime() - 1000));
        const reordered = inputs({ issued: [...inputs().issued].reverse() });
        expect(await provider.diff(created.id, outs, reordered)).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
        // From refreshAt on: an update.
        setClock(new Date(outs.refreshAt));
        expect(await provider.diff(created.id, outs, inputs())).toMatchObject({ changes: true, replaces: [] });

        setClock(new Date(T.getTime() + HOUR));
        // The serialized provider travels in the inputs as `__provider` and contains the sentinel text: not a change.
        const sf = await pulumi.runtime.serializeFunction(() => revocationListProvider);
        expect(sf.text).toContain(UNKNOWN);
        expect(await provider.diff(created.id, { ...outs, __provider: sf.text }, { ...inputs(), __provider: sf.text })).toMatchObject({ changes: false });
        expect(await provider.diff(created.id, outs, { ...inputs(), __provider: UNKNOWN })).toMatchObject({ changes: false });
        // Any input change.
        for (const changed of [
            inputs({ revocations: [{ serial: alice.serialHex, reason: "keyCompromise" }] }),
            inputs({ revokeSuperseded: true }),
            inputs({ crlValidityHours: 24 }),
            inputs({ issued: [{ name: "alice", certPem: alice.certPem }] }),
            inputs({ issuerKeyPem: root.key.privateKeyPem }),
        ]) {
            expect(await provider.diff(created.id, outs, changed)).toMatchObject({ changes: true, replaces: [] });
        }
        // Unknowns during preview, anywhere.
        expect(await provider.diff(created.id, outs, inputs({ issuerCertPem: UNKNOWN }))).toMatchObject({ changes: true, replaces: [] });
        expect(await provider.diff(created.id, outs, inputs({ issued: [{ name: "alice", certPem: UNKNOWN }] }))).toMatchObject({ changes: true, replaces: [] });
        expect(await provider.diff(created.id, outs, inputs({ revocations: UNKNOWN }))).toMatchObject({ changes: true, replaces: [] });

        // Update at refresh time: CRL #2, new refreshAt; no diff right after.
        const refreshAt = new Date(outs.refreshAt);
        setClock(refreshAt);
        const updated = (await provider.update(created.id, outs, inputs())).outs as RevocationListOutputs;
        expectCrlsVerify(updated);
        expect(updated.issuers[0].crlNumber).toBe(2);
        expect(updated.refreshAt).toBe(new Date(refreshAt.getTime() - CRL_BACKDATE_MS + 3.5 * DAY).toISOString());
        expect(updated.changes).toEqual([expect.stringMatching(/^signed CRL #2 .*\(refresh due\)/)]);
        expect(await provider.diff(created.id, updated, inputs())).toMatchObject({ changes: false });

        // A clock moved ahead of the real time decides the refresh, but the CRL is dated at the real time:
        // nginx refuses every client while a CRL is "not yet valid".
        const ahead = new Date(new Date(updated.refreshAt).getTime() + HOUR);
        moveClockOnly(ahead);
        expect(await provider.diff(created.id, updated, inputs())).toMatchObject({ changes: true });
        const timeTravelled = (await provider.update(created.id, updated, inputs())).outs as RevocationListOutputs;
        expect(timeTravelled.issuers[0].crlNumber).toBe(3);
        const thisUpdate = new Date(timeTravelled.refreshAt).getTime() - 3.5 * DAY;
        expect(thisUpdate).toBeLessThanOrEqual(realDateNow());
        expect(thisUpdate).toBeGreaterThan(realDateNow() - CRL_BACKDATE_MS - 60_000);
    });

    test("update: a removed client is on the CRL; an update is planned once its entry can drop off (before refreshAt); CA rotation keeps the old CA and its CRL", async () => {
        setClock(T);
        const first = (await provider.create(inputs())).outs as RevocationListOutputs;
        setClock(new Date(T.getTime() + HOUR));
        const withoutBob = inputs({ issued: [{ name: "alice", certPem: alice.certPem }] });
        const removed = (await provider.update("id", first, withoutBob)).outs as RevocationListOutputs;
        expect(removed.revoked).toEqual([
            {
                serialHex: normalizeSerial(bob.serialHex),
                name: "bob",
                reason: "cessationOfOperation",
                revokedAt: new Date(T.getTime() + HOUR).toISOString(),
                notAfter: new Date(bob.cert.notAfter).toISOString(),
                issuerFingerprint: first.issuers[0].fingerprint,
            },
        ]);
        expect(removed.changes).toEqual(expect.arrayContaining([`revoked bob serial ${normalizeSerial(bob.serialHex)} (cessationOfOperation)`]));
        const text = crlText(tmpDir("removed"), removed.crlPem, inter.certPem);
        expect(text.verified).toBe(true);
        expect(text.text).toContain(`Serial Number: ${normalizeSerial(bob.serialHex)}`);
        expect(text.text).toMatch(/CRL Number:\s*\n\s*2\b/);

        // bob's certificate expires (day 2) before the CRL refresh (day 3.5): the diff plans an update then.
        const bobEnd = new Date(bob.cert.notAfter).getTime();
        expect(bobEnd).toBeLessThan(new Date(removed.refreshAt).getTime());
        setClock(new Date(bobEnd));
        expect(await provider.diff("id", removed, withoutBob)).toMatchObject({ changes: false });
        setClock(new Date(bobEnd + 1000));
        expect(await provider.diff("id", removed, withoutBob)).toMatchObject({ changes: true, replaces: [] });
        const shrunk = (await provider.update("id", removed, withoutBob)).outs as RevocationListOutputs;
        expect(shrunk.revoked).toEqual([]);
        expect(shrunk.issuers[0].crlNumber).toBe(3);

        // CA rotation: a new intermediate with the same subject; alice re-issued under it.
        const inter2 = await issue({ subject: "CN=Provider Intermediate CA", usage: "ca", pathLength: 0, days: 3000 }, root);
        const alice2 = await issue({ subject: "CN=alice", usage: "client", days: 30 }, inter2);
        const rotatedInputs = inputs({ issuerCertPem: inter2.certPem, issuerKeyPem: inter2.key.privateKeyPem, issued: [{ name: "alice", certPem: alice2.certPem }] });
        setClock(new Date(bobEnd + 2000));
        expect(await provider.diff("id", shrunk, rotatedInputs)).toMatchObject({ changes: true, replaces: [] });
        const rotated = (await provider.update("id", shrunk, rotatedInputs)).outs as RevocationListOutputs;
        expect(pemBlocks(rotated.trustedCaPem).map((p) => p.trim())).toEqual([inter2.certPem.trim(), inter.certPem.trim()]);
        expectCrlsVerify(rotated);
        expect(rotated.issuers.map((i) => [i.retired, i.retireAfter])).toEqual([
            [false, undefined],
            [true, new Date(alice.cert.notAfter).toISOString()],
        ]);
        expect(rotated.changes.some((c) => c.startsWith("retired CA"))).toBe(true);
        // The retired CA's key stays in the (secret) state to keep signing its CRL.
        expect(rotated.state.issuers[1].keyPem).toBe(inter.key.privateKeyPem);
    });

    test("check reports bad inputs; a bad MTLS_NGINX_CLOCK is a clear error", async () => {
        const { failures } = await provider.check({}, inputs({ crlValidityHours: 0, revocations: [{ client: "a", serial: "0A", reason: "stolen" }, { serial: "xyz", reason: "keyCompromise" }] }));
        expect(failures?.map((f) => f.property)).toEqual(["crlValidityHours", "revocations[0].reason", "revocations[0]", "revocations[1].serial"]);
        const ok = await provider.check({}, { issuerCertPem: inter.certPem, issuerKeyPem: inter.key.privateKeyPem, issued: [] });
        expect(ok.failures).toEqual([]);
        expect(ok.inputs).toMatchObject({ revocations: [], revokeSuperseded: false, crlValidityHours: 168, refreshFraction: 0.5 });
        expect((await provider.check({}, inputs({ issuerKeyPem: UNKNOWN }))).failures ?? []).toEqual([]);

        process.env.MTLS_NGINX_CLOCK = "next tuesday";
        await expect(provider.create(inputs())).rejects.toThrow(/MTLS_NGINX_CLOCK="next tuesday" is not an ISO-8601 time/);
    });

    test("serializeFunction round-trip: the deserialized provider creates a CRL openssl verifies and diffs like the original", async () => {
        const sf = await pulumi.runtime.serializeFunction(() => revocationListProvider);
        expect(sf.text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----\s*\n[A-Za-z0-9+\/]/); // code only, no key material
        const mod = { exports: {} as Record<string, () => Provider> };
        new Function("exports", "require", "module", sf.text)(mod.exports, require, mod);
        const revived = mod.exports[sf.exportName]();
        setClock(T);
        const outs = (await revived.create(inputs({ issued: [{ name: "alice", certPem: alice.certPem }], revocations: [{ serial: bob.serialHex, reason: "keyCompromise" }] }))).outs as RevocationListOutputs;
        expectCrlsVerify(outs);
        const text = crlText(tmpDir("serialized"), outs.crlPem, inter.certPem).text;
        expect(text).toMatch(new RegExp(`Serial Number: ${normalizeSerial(bob.serialHex)}\\s*\\n\\s*Revocation Date: .*\\n\\s*CRL entry extensions:\\s*\\n\\s*X509v3 CRL Reason Code:\\s*\\n\\s*Key Compromise`));
        setClock(new Date(T.getTime() + DAY));
        expect(await revived.diff("id", outs, inputs({ issued: [{ name: "alice", certPem: alice.certPem }], revocations: [{ serial: bob.serialHex, reason: "keyCompromise" }] }))).toMatchObject({ changes: false });
    });
});
