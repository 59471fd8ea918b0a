import {
    reconcile,
    crlsToSign,
    applySignedCrls,
    refreshAt,
    CRL_BACKDATE_MS,
    nextUpdate,
    nextDropAt,
    isRevoked,
    revokedList,
    normalizeSerial,
    crlEntries,
    LedgerState,
    ReconcileInput,
    DeclaredCertificate,
    ExplicitRevocation,
} from "../../../components/revocation/ledger";
import { buildCrl } from "../../../components/revocation/crl";
import { issue, FixtureCert } from "../../support/x509";
import { cleanupTmp, crlText, tmpDir } from "./opensslHelpers";

afterAll(cleanupTmp);

const DAY = 86400_000;
const T0 = new Date("2031-03-01T00:00:00Z");
const at = (days: number): Date => new Date(T0.getTime() + days * DAY);
const after = (d: Date, ms = 1000): Date => new Date(d.getTime() + ms);

async function makeCa(name: string, fromDays = -30, toDays = 3650): Promise<FixtureCert> {
    return issue({ subject: `CN=${name}`, usage: "ca", pathLength: 0, notBefore: at(fromDays), notAfter: at(toDays) });
}

async function makeClient(name: string, ca: FixtureCert, fromDays: number, toDays: number): Promise<FixtureCert> {
    return issue({ subject: `CN=${name}`, usage: "client", notBefore: at(fromDays), notAfter: at(toDays) }, ca);
}

const S = (c: FixtureCert): string => normalizeSerial(c.serialHex);

/**
 * One "pulumi up" without real signing: reconcile, then record placeholder PEMs for the CRLs to sign.
 * Returns what was signed so tests can check numbers and reasons.
 */
function up(prev: LedgerState | undefined, input: ReconcileInput, now: Date) {
    const { state, changes } = reconcile(prev, input, now);
    const todo = crlsToSign(state, now);
    const next = applySignedCrls(
        state,
        todo.map((item) => ({ item, pem: `CRL#${item.input.crlNumber}` })),
    );
    return { state: next, changes, signed: todo };
}

function input(ca: FixtureCert, issued: [string, FixtureCert][], extra: Partial<ReconcileInput> = {}): ReconcileInput {
    const list: DeclaredCertificate[] = issued.map(([name, cert]) => ({ name, certPem: cert.certPem }));
    return { issuerCertPem: ca.certPem, issuerKeyPem: ca.key.privateKeyPem, issued: list, ...extra };
}

function entriesOf(state: LedgerState, index: number, now: Date): string[] {
    return crlEntries(state.issuers[index], now).map((e) => `${e.serialHex}:${e.reason}`);
}

/** CRLs are signed with thisUpdate set CRL_BACKDATE_MS before the signing time. */
const back = (d: Date) => new Date(d.getTime() - CRL_BACKDATE_MS);

describe("revocation ledger", () => {
    let caA: FixtureCert;
    beforeAll(async () => {
        caA = await makeCa("Ledger CA A");
    });

    test("first reconcile tracks the declared certificates and schedules CRL #1; re-signing at half of the validity, CRL Number + 1", async () => {
        const alice = await makeClient("alice", caA, -1, 90);
        const bob = await makeClient("bob", caA, -1, 90);
        const first = up(undefined, input(caA, [["alice", alice], ["bob", bob]]), T0);
        expect(first.state.issuers).toHaveLength(1);
        expect(first.state.issuers[0].certificates.map((c) => [c.name, c.serialHex, c.current])).toEqual([
            ["alice", S(alice), true],
            ["bob", S(bob), true],
        ]);
        expect(first.signed).toHaveLength(1);
        expect(first.signed[0]).toMatchObject({ why: "first", input: { crlNumber: 1, entries: [] } });
        expect(first.changes).toContain(`tracking alice serial ${S(alice)} (CA ${first.state.issuers[0].fingerprint.replace(/:/g, "").slice(0, 16)})`);
        // Defaults: 7-day CRLs re-signed after 3.5 days.
        expect(nextUpdate(first.state)).toEqual(back(at(7)));
        expect(refreshAt(first.state)).toEqual(back(at(3.5)));

        // The state is plain JSON and reconcile does not touch its input.
        const snapshot = JSON.stringify(first.state);
        expect(JSON.parse(snapshot)).toEqual(first.state);
        const same = up(first.state, input(caA, [["bob", bob], ["alice", alice]]), at(1));
        expect(JSON.stringify(first.state)).toBe(snapshot);
        expect(same.signed).toEqual([]);
        expect(same.changes).toEqual([]);

        expect(crlsToSign(first.state, new Date(back(at(3.5)).getTime() - 1))).toEqual([]);
        const refreshed = up(first.state, input(caA, [["alice", alice], ["bob", bob]]), at(3.5));
        expect(refreshed.signed).toHaveLength(1);
        expect(refreshed.signed[0]).toMatchObject({ why: "refresh", input: { crlNumber: 2, thisUpdate: back(at(3.5)), nextUpdate: back(at(10.5)) } });
        expect(refreshAt(refreshed.state)).toEqual(back(at(7)));
        const again = up(refreshed.state, input(caA, [["alice", alice], ["bob", bob]]), at(7));
        expect(again.signed[0].input.crlNumber).toBe(3);

        // Another validity: 24 h, re-signed after a quarter; changing the setting re-signs at once.
        const custom = up(again.state, input(caA, [["alice", alice], ["bob", bob]], { crlValidityMs: DAY, refreshFraction: 0.25 }), at(7.5));
        expect(custom.signed[0]).toMatchObject({ why: "validity", input: { crlNumber: 4 } });
        expect(nextUpdate(custom.state)).toEqual(back(at(8.5)));
        expect(refreshAt(custom.state)).toEqual(back(at(7.75)));
    });

    test("a removed client is revoked (cessationOfOperation) with its superseded certificates; each entry drops off after its own notAfter", async () => {
        const alice1 = await makeClient("alice", caA, -1, 20);
        const alice2 = await makeClient("alice", caA, 1, 40);
        const bob = await makeClient("bob", caA, -1, 90);
        let s = up(undefined, input(caA, [["alice", alice1], ["bob", bob]]), T0).state;

        // Renewal: alice1 superseded, still valid (not on the CRL).
        const renewed = up(s, input(caA, [["alice", alice2], ["bob", bob]]), at(1));
        s = renewed.state;
        expect(renewed.changes).toEqual(
            expect.arrayContaining([`superseded alice serial ${S(alice1)}: still valid until ${at(20).toISOString()} (revokeSuperseded is off)`]),
        );
        expect(isRevoked(s, alice1.serialHex, at(1))).toBe(false);
        expect(renewed.signed).toEqual([]); // CRL content unchanged

        // alice leaves the program: both of her certificates are revoked, bob is untouched.
        const removed = up(s, input(caA, [["bob", bob]]), at(2));
        s = removed.state;
        expect(removed.changes).toEqual(
            expect.arrayContaining([`revoked alice serial ${S(alice1)} (cessationOfOperation)`, `revoked alice serial ${S(alice2)} (cessationOfOperation)`]),
        );
        expect(isRevoked(s, alice1.serialHex, at(2))).toBe(true);
        expect(isRevoked(s, alice2.serialHex.toLowerCase(), at(2))).toBe(true);
        expect(isRevoked(s, bob.serialHex, at(2))).toBe(false);
        expect(removed.signed).toHaveLength(1);
        expect(removed.signed[0]).toMatchObject({ why: "content", input: { crlNumber: 2 } });
        expect(removed.signed[0].input.entries.map((e) => e.serialHex).sort()).toEqual([S(alice1), S(alice2)].sort());
        expect(revokedList(s, at(2)).map((r) => [r.name, r.reason, r.revokedAt])).toEqual([
            ["alice", "cessationOfOperation", at(2).toISOString()],
            ["alice", "cessationOfOperation", at(2).toISOString()],
        ]);
        // An update is due once alice1 expires (the CRL can shrink).
        expect(nextDropAt(s)).toEqual(at(20));

        // Still listed at its notAfter; gone right after it.
        expect(isRevoked(s, alice1.serialHex, at(20))).toBe(true);
        const dropped = up(s, input(caA, [["bob", bob]]), after(at(20)));
        s = dropped.state;
        expect(isRevoked(s, alice1.serialHex, after(at(20)))).toBe(false);
        expect(isRevoked(s, alice2.serialHex, after(at(20)))).toBe(true);
        expect(dropped.changes.some((c) => c.startsWith(`dropped alice serial ${S(alice1)} from the CRL`))).toBe(true);
        expect(dropped.signed[0]).toMatchObject({ why: "content" });
        expect(dropped.signed[0].input.entries.map((e) => e.serialHex)).toEqual([S(alice2)]);
        expect(nextDropAt(s)).toEqual(at(40));

        s = up(s, input(caA, [["bob", bob]]), after(at(40))).state;
        expect(revokedList(s, after(at(40)))).toEqual([]);
        expect(nextDropAt(s)).toBeUndefined();
        expect(s.issuers[0].certificates.map((c) => c.name)).toEqual(["bob"]);
    });

    test("rotation: the replaced certificate is not revoked by default; with revokeSuperseded it is revoked as superseded (also when switched on later)", async () => {
        const c1 = await makeClient("carol", caA, -1, 30);
        const c2 = await makeClient("carol", caA, 0, 60);
        const c3 = await makeClient("carol", caA, 1, 90);
        let s = up(undefined, input(caA, [["carol", c1]]), T0).state;
        s = up(s, input(caA, [["carol", c2]]), at(0.5)).state;
        expect(isRevoked(s, c1.serialHex, at(0.5))).toBe(false);
        expect(s.issuers[0].certificates.find((c) => c.serialHex === S(c1))).toMatchObject({ current: false, supersededAt: at(0.5).toISOString() });

        // Switching revokeSuperseded on revokes the still-valid superseded certificate.
        const on = up(s, input(caA, [["carol", c2]], { revokeSuperseded: true }), at(0.6));
        expect(on.changes).toContain(`revoked carol serial ${S(c1)} (superseded)`);
        expect(entriesOf(on.state, 0, at(0.6))).toEqual([`${S(c1)}:superseded`]);

        // And the next rotation revokes the replaced certificate right away; the current one stays valid.
        const next = up(on.state, input(caA, [["carol", c3]], { revokeSuperseded: true }), at(1));
        expect(next.changes).toEqual(expect.arrayContaining([`superseded carol serial ${S(c2)}`, `revoked carol serial ${S(c2)} (superseded)`]));
        expect(isRevoked(next.state, c2.serialHex, at(1))).toBe(true);
        expect(isRevoked(next.state, c3.serialHex, at(1))).toBe(false);
        expect(next.signed[0].input.crlNumber).toBe(3);

        // Switching it off again does not un-revoke (revocation is permanent).
        const off = up(next.state, input(caA, [["carol", c3]]), at(2));
        expect(isRevoked(off.state, c2.serialHex, at(2))).toBe(true);
    });

    test("explicit revocations: by serial (that exact certificate), by client (all of its certificates, with that reason), unknown serial, reason update, certificateHold release", async () => {
        const d1 = await makeClient("dave", caA, -1, 30);
        const d2 = await makeClient("dave", caA, 0, 60);
        const e1 = await makeClient("erin", caA, -1, 30);
        const e2 = await makeClient("erin", caA, 0, 60);
        const f1 = await makeClient("frank", caA, -1, 10);
        let s = up(undefined, input(caA, [["dave", d1], ["erin", e1], ["frank", f1]]), T0).state;
        s = up(s, input(caA, [["dave", d2], ["erin", e2], ["frank", f1]]), at(1)).state;

        // By serial: only the superseded d1 (its key leaked); d2 stays valid.
        const bySerial: ExplicitRevocation = { serial: d1.serialHex.toUpperCase().match(/../g)!.join(":"), reason: "keyCompromise" };
        let r = up(s, input(caA, [["dave", d2], ["erin", e2], ["frank", f1]], { revocations: [bySerial] }), at(2));
        expect(r.changes).toContain(`revoked dave serial ${S(d1)} (keyCompromise)`);
        expect(isRevoked(r.state, d1.serialHex, at(2))).toBe(true);
        expect(isRevoked(r.state, d2.serialHex, at(2))).toBe(false);
        s = r.state;

        // A revoked certificate cannot be put on hold (a hold is reversible; keyCompromise is not).
        const holdD1 = up(s, input(caA, [["dave", d2], ["erin", e2], ["frank", f1]], { revocations: [{ serial: d1.serialHex, reason: "certificateHold" }] }), at(2.5));
        expect(holdD1.changes).toEqual([`dave serial ${S(d1)} stays revoked as keyCompromise: a revoked certificate cannot be put on hold`]);
        expect(entriesOf(holdD1.state, 0, at(2.5))).toEqual([`${S(d1)}:keyCompromise`]);
        const afterHold = up(holdD1.state, input(caA, [["dave", d2], ["erin", e2], ["frank", f1]], { revocations: [bySerial] }), at(2.6));
        expect(isRevoked(afterHold.state, d1.serialHex, at(2.6))).toBe(true);

        // By client, erin removed: both of her certificates with the explicit reason (not cessationOfOperation).
        const byClient: ExplicitRevocation = { client: "erin", reason: "privilegeWithdrawn" };
        r = up(s, input(caA, [["dave", d2], ["frank", f1]], { revocations: [bySerial, byClient] }), at(3));
        expect(entriesOf(r.state, 0, at(3)).sort()).toEqual([`${S(d1)}:keyCompromise`, `${S(e1)}:privilegeWithdrawn`, `${S(e2)}:privilegeWithdrawn`].sort());
        s = r.state;

        // A client removed earlier (cessationOfOperation) then named by an explicit revocation: the reason is updated.
        r = up(s, input(caA, [["dave", d2]], { revocations: [bySerial, byClient] }), at(4));
        expect(r.changes).toContain(`revoked frank serial ${S(f1)} (cessationOfOperation)`);
        r = up(r.state, input(caA, [["dave", d2]], { revocations: [bySerial, byClient, { serial: f1.serialHex, reason: "affiliationChanged" }] }), at(5));
        expect(r.changes).toContain(`reason for frank serial ${S(f1)} changed from cessationOfOperation to affiliationChanged`);
        expect(revokedList(r.state, at(5)).find((x) => x.serialHex === S(f1))).toMatchObject({ reason: "affiliationChanged", revokedAt: at(4).toISOString() });
        s = r.state;

        // An explicitly revoked serial that expired is remembered, not re-listed as an unknown serial.
        const revs = [bySerial, byClient, { serial: f1.serialHex, reason: "affiliationChanged" as const }];
        r = up(s, input(caA, [["dave", d2]], { revocations: revs }), at(11));
        expect(isRevoked(r.state, f1.serialHex, at(11))).toBe(false);
        r = up(r.state, input(caA, [["dave", d2]], { revocations: revs }), at(12));
        expect(isRevoked(r.state, f1.serialHex, at(12))).toBe(false);
        expect(r.changes).toEqual([]);
        s = r.state;

        // A serial the ledger never saw: listed on the current CA's CRL until the CA expires.
        r = up(s, input(caA, [["dave", d2]], { revocations: [...revs, { serial: "0BADC0DE", reason: "keyCompromise" }] }), at(13));
        expect(r.changes).toEqual(expect.arrayContaining(["revoked serial 0BADC0DE (keyCompromise)"]));
        expect(r.changes.some((c) => c.startsWith("serial 0BADC0DE is unknown to the ledger"))).toBe(true);
        expect(revokedList(r.state, at(13)).find((x) => x.serialHex === "0BADC0DE")).toMatchObject({ name: "", notAfter: r.state.issuers[0].notAfter });

        // A client name that matches nothing is reported, not ignored.
        r = up(r.state, input(caA, [["dave", d2]], { revocations: [...revs, { client: "nobody", reason: "keyCompromise" }] }), at(14));
        expect(r.changes).toContain('revocation for client "nobody" matched no tracked certificate');
        // The unknown serial stays revoked after its revocation is removed (revocation is permanent).
        expect(isRevoked(r.state, "0badc0de", at(14))).toBe(true);

        // certificateHold on dave's current certificate, then released when the revocation goes away.
        const hold = up(r.state, input(caA, [["dave", d2]], { revocations: [...revs, { serial: d2.serialHex, reason: "certificateHold" }] }), at(15));
        expect(isRevoked(hold.state, d2.serialHex, at(15))).toBe(true);
        expect(hold.signed[0].why).toBe("content");
        const released = up(hold.state, input(caA, [["dave", d2]], { revocations: revs }), at(16));
        expect(released.changes).toContain(`released hold on dave serial ${S(d2)}`);
        expect(isRevoked(released.state, d2.serialHex, at(16))).toBe(false);
        expect(released.signed[0].why).toBe("content");
    });

    test("CA rotation: the old CA is retired, stays trusted with a CRL signed by its own key, and is dropped once what it issued has expired", async () => {
        const caB = await makeCa("Ledger CA B");
        const caC = await makeCa("Ledger CA C");
        const a1 = await makeClient("alice", caA, -1, 30);
        const b1 = await makeClient("bob", caA, -1, 60);
        const m1 = await makeClient("mallory", caA, -1, 90);
        let s = up(undefined, input(caA, [["alice", a1], ["bob", b1], ["mallory", m1]]), T0).state;
        s = up(s, input(caA, [["alice", a1], ["bob", b1]]), at(1)).state; // mallory revoked under A
        const fpA = s.issuers[0].fingerprint;

        const a2 = await makeClient("alice", caB, 2, 100);
        const b2 = await makeClient("bob", caB, 2, 100);
        const rotated = up(s, input(caB, [["alice", a2], ["bob", b2]]), at(3));
        s = rotated.state;
        expect(rotated.changes.some((c) => c.startsWith(`retired CA ${fpA.replace(/:/g, "").slice(0, 16)}`))).toBe(true);
        expect(s.issuers.map((i) => [i.subject, i.retiredAt ?? null])).toEqual([
            ["CN=Ledger CA B", null],
            ["CN=Ledger CA A", at(3).toISOString()],
        ]);
        // The old certificates are superseded, not revoked: their holders still get in.
        expect(isRevoked(s, a1.serialHex, at(3))).toBe(false);
        expect(isRevoked(s, m1.serialHex, at(3))).toBe(true);
        // Only B needs a first CRL; A's content did not change.
        expect(rotated.signed.map((x) => [x.why, x.input.crlNumber, x.fingerprint])).toEqual([["first", 1, s.issuers[0].fingerprint]]);
        // A must go once the last of its unrevoked certificates (b1) expires.
        expect(nextDropAt(s)).toEqual(at(60));
        expect(refreshAt(s)).toEqual(back(at(1 + 3.5))); // A's CRL (signed at day 1) is due before B's (day 3 + 3.5)

        // A's CRL is re-signed at its refresh time with A's own key and certificate; B's is not due.
        const refresh = up(s, input(caB, [["alice", a2], ["bob", b2]]), at(4.5));
        expect(refresh.signed.map((x) => [x.fingerprint, x.why, x.input.crlNumber])).toEqual([[fpA, "refresh", 3]]);
        const item = refresh.signed[0];
        expect(item.input.issuerKeyPem).toBe(caA.key.privateKeyPem);
        expect(item.input.issuerCertPem).toBe(caA.certPem);
        const real = await buildCrl(item.input);
        const { verified, text } = crlText(tmpDir("retired"), real, caA.certPem);
        expect(verified).toBe(true);
        expect(text).toContain(`Serial Number: ${S(m1)}`);
        s = refresh.state;

        // A second rotation: two retired CAs coexist.
        const a3 = await makeClient("alice", caC, 9, 200);
        s = up(s, input(caC, [["alice", a3], ["bob", b2]]), at(10)).state;
        expect(s.issuers.map((i) => i.subject)).toEqual(["CN=Ledger CA C", "CN=Ledger CA B", "CN=Ledger CA A"]);

        // A stays while b1 (not revoked) is valid; dropped right after b1's notAfter. mallory's entry goes with it.
        const stay = up(s, input(caC, [["alice", a3], ["bob", b2]]), at(60));
        expect(stay.state.issuers).toHaveLength(3);
        const gone = up(stay.state, input(caC, [["alice", a3], ["bob", b2]]), after(at(60)));
        expect(gone.changes).toContain(`dropped retired CA ${fpA.replace(/:/g, "").slice(0, 16)} (CN=Ledger CA A): everything it issued has expired or been revoked`);
        expect(gone.state.issuers.map((i) => i.subject)).toEqual(["CN=Ledger CA C", "CN=Ledger CA B"]);
        expect(isRevoked(gone.state, m1.serialHex, after(at(60)))).toBe(false);

        // A certificate from a CA the ledger no longer tracks is an error, not silently ignored.
        expect(() => reconcile(gone.state, input(caC, [["alice", a3], ["bob", b1]]), after(at(60)))).toThrow(/issued\[1\] \(bob\).*not issued by the current CA or by a retired CA/);
    });

    test("CA rotation with revokeSuperseded: the old certificates are revoked and the old CA dropped; a rollback reinstates a retired CA; an expired retired CA is dropped", async () => {
        const caD = await makeCa("Ledger CA D", -30, 20);
        const caE = await makeCa("Ledger CA E");
        // Leaves outliving their CA (possible with fixtures): D must go when D itself expires.
        const x1 = await makeClient("xavier", caD, -1, 25);
        const y1 = await makeClient("yvonne", caD, -1, 25);
        const x2 = await makeClient("xavier", caE, 0, 90);
        let s = up(undefined, input(caD, [["xavier", x1], ["yvonne", y1]]), T0).state;

        // Rollback: E then back to D within the same ledger.
        const toE = up(s, input(caE, [["xavier", x2], ["yvonne", y1]]), at(1));
        expect(toE.state.issuers.map((i) => i.subject)).toEqual(["CN=Ledger CA E", "CN=Ledger CA D"]);
        const back = up(toE.state, input(caD, [["xavier", x1], ["yvonne", y1]]), at(2));
        expect(back.changes.some((c) => c.startsWith("reinstated CA"))).toBe(true);
        expect(back.state.issuers.map((i) => [i.subject, i.retiredAt ?? null])).toEqual([
            ["CN=Ledger CA D", null],
            ["CN=Ledger CA E", at(2).toISOString()],
        ]);
        // x2 (E) was replaced by x1 again: superseded; x1 no longer is.
        expect(back.state.issuers[0].certificates.find((c) => c.serialHex === S(x1))).toMatchObject({ current: true });
        expect(back.state.issuers[0].certificates.find((c) => c.serialHex === S(x1))?.supersededAt).toBeUndefined();

        // Forward to E again, this time revoking the superseded ones: D has nothing usable left and is dropped at once.
        const y2 = await makeClient("yvonne", caE, 2, 90);
        const strict = up(back.state, input(caE, [["xavier", x2], ["yvonne", y2]], { revokeSuperseded: true }), at(3));
        expect(strict.changes).toEqual(
            expect.arrayContaining([`revoked xavier serial ${S(x1)} (superseded)`, `revoked yvonne serial ${S(y1)} (superseded)`]),
        );
        expect(strict.changes.some((c) => c.startsWith("dropped retired CA") && c.includes("CN=Ledger CA D"))).toBe(true);
        expect(strict.state.issuers.map((i) => i.subject)).toEqual(["CN=Ledger CA E"]);

        // Without revokeSuperseded, D stays (its superseded certificates are valid) until D itself expires (day 20).
        s = up(back.state, input(caE, [["xavier", x2], ["yvonne", y1]]), at(3)).state;
        expect(s.issuers).toHaveLength(2);
        s = up(s, input(caE, [["xavier", x2], ["yvonne", y2]]), at(4)).state;
        expect(s.issuers[1].subject).toBe("CN=Ledger CA D");
        expect(nextDropAt(s)).toEqual(at(20));
        expect(up(s, input(caE, [["xavier", x2], ["yvonne", y2]]), at(20)).state.issuers).toHaveLength(2);
        const expired = up(s, input(caE, [["xavier", x2], ["yvonne", y2]]), after(at(20)));
        expect(expired.state.issuers.map((i) => i.subject)).toEqual(["CN=Ledger CA E"]);
        expect(expired.changes.some((c) => c.includes("CN=Ledger CA D") && c.endsWith("it expired"))).toBe(true);
    });

    test("a CA certificate re-issued with the same key and name: both CRLs list the revocations (OpenSSL may pick either)", async () => {
        const key = caA.key;
        const realNow = new Date(); // openssl verifies at the real time: certificates valid now
        const h1 = await issue({ subject: "CN=Same Key CA", usage: "ca", key, days: 100 });
        const h2 = await issue({ subject: "CN=Same Key CA", usage: "ca", key, days: 3650 });
        const keep = await issue({ subject: "CN=keep", usage: "client", days: 30 }, h1);
        const gone = await issue({ subject: "CN=gone", usage: "client", days: 30 }, h1);
        expect(h1.certPem).not.toBe(h2.certPem);

        const sign = async (prev: LedgerState | undefined, inp: ReconcileInput, now: Date) => {
            const { state, changes } = reconcile(prev, inp, now);
            const todo = crlsToSign(state, now);
            const signed = await Promise.all(todo.map(async (item) => ({ item, pem: await buildCrl(item.input) })));
            return { state: applySignedCrls(state, signed), changes };
        };
        let s = (await sign(undefined, input(h1, [["keep", keep], ["gone", gone]]), realNow)).state;
        // The CA certificate is re-issued (same key, same name): old clients keep their certificates.
        const rotated = await sign(s, input(h2, [["keep", keep], ["gone", gone]]), realNow);
        s = rotated.state;
        expect(s.issuers).toHaveLength(2);
        // Declared certificates stay tracked where they were (no duplicate under the new CA certificate).
        expect(s.issuers.map((i) => i.certificates.map((c) => c.name))).toEqual([[], ["keep", "gone"]]);
        expect(rotated.changes.filter((c) => c.startsWith("superseded"))).toEqual([]);

        const removedAt = new Date(); // not later: a CRL from the future is "not yet valid"
        s = (await sign(s, input(h2, [["keep", keep]]), removedAt)).state;
        expect(isRevoked(s, gone.serialHex, removedAt)).toBe(true);
        // Both CRLs carry the entry: they have the same issuer name and AKI, so OpenSSL may choose either.
        const dir = tmpDir("samekey");
        for (const issuer of s.issuers) {
            const { verified, text } = crlText(dir, (issuer.crl as { pem: string }).pem, h1.certPem);
            expect(verified).toBe(true);
            expect(text).toContain(`Serial Number: ${S(gone)}`);
        }
        const { openssl, write } = await import("./opensslHelpers");
        const crls = write(dir, "crls.pem", s.issuers.map((i) => (i.crl as { pem: string }).pem).join(""));
        const cas = write(dir, "cas.pem", h2.certPem + h1.certPem);
        const verdict = openssl(["verify", "-crl_check", "-CAfile", cas, "-CRLfile", crls, write(dir, "gone.pem", gone.certPem)]);
        expect(verdict.ok).toBe(false);
        expect(verdict.out).toContain("certificate revoked");
        expect(openssl(["verify", "-crl_check", "-CAfile", cas, "-CRLfile", crls, write(dir, "keep.pem", keep.certPem)]).ok).toBe(true);
    });

    test("duplicate names and malformed revocations are errors", async () => {
        const g = await makeClient("gina", caA, -1, 30);
        expect(() => reconcile(undefined, input(caA, [["gina", g], ["gina", g]]), T0)).toThrow(/declared twice/);
        expect(() => reconcile(undefined, input(caA, [["gina", g]], { revocations: [{ reason: "keyCompromise" }] }), T0)).toThrow(/exactly one of client or serial/);
        expect(() => reconcile(undefined, input(caA, [["gina", g]], { revocations: [{ serial: "xyz", reason: "keyCompromise" }] }), T0)).toThrow(/not hex/);
    });
});
