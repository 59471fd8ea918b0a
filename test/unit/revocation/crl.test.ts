import * as crypto from "crypto";
import { buildCrl, REVOCATION_REASONS, RevocationReason } from "../../../components/revocation/crl";
import { issue, makeHierarchy, FixtureKeyType, FixtureCert } from "../../support/x509";
import { cleanupTmp, crlText, openssl, tmpDir, write } from "./opensslHelpers";

const DAY = 86400_000;

/** The same key in another PEM form. */
function reencode(pkcs8Pem: string, type: "sec1" | "pkcs1" | "pkcs8"): string {
    return crypto.createPrivateKey(pkcs8Pem).export({ type, format: "pem" }) as string;
}

function skiOf(cert: FixtureCert): string {
    const text = openssl(["x509", "-noout", "-ext", "subjectKeyIdentifier", "-in", write(tmpDir("ski"), "c.pem", cert.certPem)]).out;
    const m = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(text);
    if (!m) throw new Error(`no SKI in ${text}`);
    return m[1];
}

const CASES: { keyType: FixtureKeyType; form: "pkcs8" | "sec1" | "pkcs1"; sigalg: string }[] = [
    { keyType: "ecdsa-p256", form: "pkcs8", sigalg: "ecdsa-with-SHA256" },
    { keyType: "ecdsa-p384", form: "sec1", sigalg: "ecdsa-with-SHA384" },
    { keyType: "rsa-2048", form: "pkcs1", sigalg: "sha256WithRSAEncryption" },
];

afterAll(cleanupTmp);

describe("buildCrl", () => {
    test.each(CASES)("$keyType issuer, $form key: openssl verifies the signature and reads number, dates, reasons", async ({ keyType, form, sigalg }) => {
        const { issuer } = await makeHierarchy({ keyType, intermediate: true, name: `Crl ${keyType}` });
        const serials = REVOCATION_REASONS.map((_, i) => `0${i + 1}${"ab".repeat(7)}`);
        const thisUpdate = new Date(Math.floor(Date.now() / 1000) * 1000);
        const nextUpdate = new Date(thisUpdate.getTime() + 7 * DAY);
        const keyPem = reencode(issuer.key.privateKeyPem, form);
        expect(keyPem).toContain(form === "sec1" ? "BEGIN EC PRIVATE KEY" : form === "pkcs1" ? "BEGIN RSA PRIVATE KEY" : "BEGIN PRIVATE KEY");

        const pem = await buildCrl({
            issuerCertPem: issuer.certPem,
            issuerKeyPem: keyPem,
            entries: REVOCATION_REASONS.map((reason, i) => ({ serialHex: serials[i], revokedAt: new Date(thisUpdate.getTime() - i * 1000).toISOString(), reason })),
            crlNumber: 4242,
            thisUpdate,
            nextUpdate,
        });

        expect(pem.startsWith("-----BEGIN X509 CRL-----\n")).toBe(true);
        expect(pem.trimEnd().endsWith("-----END X509 CRL-----")).toBe(true);
        const { verified, text } = crlText(tmpDir("crl"), pem, issuer.certPem);
        expect(verified).toBe(true);
        expect(text).toContain(`Signature Algorithm: ${sigalg}`);
        expect(text).toMatch(/X509v3 CRL Number:\s*\n\s*4242\b/);
        // AKI = issuer's SKI: what OpenSSL matches to pick the CRL of the right CA.
        expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier:\\s*\\n\\s*(keyid:)?${skiOf(issuer)}`));
        const next = /Next Update: (.+)/.exec(text)?.[1] as string;
        const last = /Last Update: (.+)/.exec(text)?.[1] as string;
        expect(new Date(next).getTime()).toBe(nextUpdate.getTime());
        expect(new Date(last).getTime()).toBe(thisUpdate.getTime());

        // One block per serial: reason text, or no reason extension for "unspecified".
        const blocks = text.split(/Serial Number: /).slice(1);
        expect(blocks).toHaveLength(REVOCATION_REASONS.length);
        const expectedText: Record<RevocationReason, string | undefined> = {
            unspecified: undefined,
            keyCompromise: "Key Compromise",
            caCompromise: "CA Compromise",
            affiliationChanged: "Affiliation Changed",
            superseded: "Superseded",
            cessationOfOperation: "Cessation Of Operation",
            certificateHold: "Certificate Hold",
            privilegeWithdrawn: "Privilege Withdrawn",
        };
        REVOCATION_REASONS.forEach((reason, i) => {
            const block = blocks.find((b) => b.toUpperCase().startsWith(serials[i].toUpperCase())) as string;
            expect(block).toBeDefined();
            const wanted = expectedText[reason];
            if (wanted === undefined) {
                expect(block).not.toContain("CRL Reason Code");
            } else {
                expect(block).toMatch(new RegExp(`X509v3 CRL Reason Code:\\s*\\n\\s*${wanted}`));
            }
        });
    });

    test("openssl verify -crl_check_all: a revoked leaf is rejected, a valid one accepted; every CA of the chain needs a CRL; an expired CRL fails everything", async () => {
        const { root, intermediate } = await makeHierarchy({ intermediate: true, name: "Chain" });
        const inter = intermediate as FixtureCert;
        const alice = await issue({ subject: "CN=alice", usage: "client" }, inter);
        const mallory = await issue({ subject: "CN=mallory", usage: "client" }, inter);
        const now = new Date();
        const later = new Date(now.getTime() + DAY);
        const rootCrl = await buildCrl({ issuerCertPem: root.certPem, issuerKeyPem: root.key.privateKeyPem, entries: [], crlNumber: 1, thisUpdate: now, nextUpdate: later });
        const interCrl = await buildCrl({
            issuerCertPem: inter.certPem,
            issuerKeyPem: inter.key.privateKeyPem,
            entries: [{ serialHex: mallory.serialHex, revokedAt: now.toISOString(), reason: "keyCompromise" }],
            crlNumber: 1,
            thisUpdate: now,
            nextUpdate: later,
        });
        const dir = tmpDir("chain");
        const ca = write(dir, "root.pem", root.certPem);
        const untrusted = write(dir, "inter.pem", inter.certPem);
        const crls = write(dir, "crls.pem", rootCrl + interCrl);
        const verify = (leaf: FixtureCert, crlFile: string) =>
            openssl(["verify", "-crl_check_all", "-CAfile", ca, "-untrusted", untrusted, "-CRLfile", crlFile, write(dir, `leaf-${leaf.serialHex}.pem`, leaf.certPem)]);

        expect(verify(alice, crls)).toEqual({ ok: true, out: expect.stringContaining(": OK") });
        const revoked = verify(mallory, crls);
        expect(revoked.ok).toBe(false);
        expect(revoked.out).toContain("certificate revoked");

        // Only the intermediate's CRL: the root has none, so even alice fails (crl_check_all, as nginx does).
        const onlyInter = verify(alice, write(dir, "inter-only.pem", interCrl));
        expect(onlyInter.ok).toBe(false);
        expect(onlyInter.out).toContain("unable to get certificate CRL");

        // An expired intermediate CRL fails a valid leaf.
        const stale = await buildCrl({
            issuerCertPem: inter.certPem,
            issuerKeyPem: inter.key.privateKeyPem,
            entries: [],
            crlNumber: 2,
            thisUpdate: new Date(now.getTime() - 3 * DAY),
            nextUpdate: new Date(now.getTime() - 2 * DAY),
        });
        const expired = verify(alice, write(dir, "expired.pem", rootCrl + stale));
        expect(expired.ok).toBe(false);
        expect(expired.out).toContain("CRL has expired");

        // A CRL from the future (signer's clock ahead of the verifier's) fails too.
        const early = await buildCrl({
            issuerCertPem: inter.certPem,
            issuerKeyPem: inter.key.privateKeyPem,
            entries: [],
            crlNumber: 3,
            thisUpdate: new Date(now.getTime() + 3600_000),
            nextUpdate: new Date(now.getTime() + DAY),
        });
        const notYet = verify(alice, write(dir, "early.pem", rootCrl + early));
        expect(notYet.ok).toBe(false);
        expect(notYet.out).toContain("CRL is not yet valid");
    });

    test("RSA chain: revoked leaf rejected, valid leaf accepted", async () => {
        const { root, intermediate } = await makeHierarchy({ intermediate: true, keyType: "rsa-2048", name: "Rsa" });
        const inter = intermediate as FixtureCert;
        const ok = await issue({ subject: "CN=ok", usage: "client", keyType: "rsa-2048" }, inter);
        const bad = await issue({ subject: "CN=bad", usage: "client", keyType: "rsa-2048" }, inter);
        const now = new Date();
        const later = new Date(now.getTime() + DAY);
        const crls =
            (await buildCrl({ issuerCertPem: root.certPem, issuerKeyPem: reencode(root.key.privateKeyPem, "pkcs1"), entries: [], crlNumber: 7, thisUpdate: now, nextUpdate: later })) +
            (await buildCrl({
                issuerCertPem: inter.certPem,
                issuerKeyPem: inter.key.privateKeyPem,
                entries: [{ serialHex: bad.serialHex, revokedAt: now.toISOString(), reason: "cessationOfOperation" }],
                crlNumber: 9,
                thisUpdate: now,
                nextUpdate: later,
            }));
        const dir = tmpDir("rsa");
        const args = ["verify", "-crl_check_all", "-CAfile", write(dir, "root.pem", root.certPem), "-untrusted", write(dir, "i.pem", inter.certPem), "-CRLfile", write(dir, "crls.pem", crls)];
        expect(openssl([...args, write(dir, "ok.pem", ok.certPem)]).ok).toBe(true);
        const r = openssl([...args, write(dir, "bad.pem", bad.certPem)]);
        expect(r.ok).toBe(false);
        expect(r.out).toContain("certificate revoked");
    });

    test("scales linearly: a CRL of 5,000 entries is built in well under 5 s and openssl reads all of them", async () => {
        const { root } = await makeHierarchy({ name: "Big" });
        const now = new Date();
        const entries = Array.from({ length: 5000 }, (_, i) => ({
            serialHex: "7f" + (i + 1).toString(16).padStart(30, "0"),
            revokedAt: now.toISOString(),
            reason: (i % 2 ? "keyCompromise" : "unspecified") as RevocationReason,
        }));
        const started = Date.now();
        const pem = await buildCrl({ issuerCertPem: root.certPem, issuerKeyPem: root.key.privateKeyPem, entries, crlNumber: 1, thisUpdate: now, nextUpdate: new Date(now.getTime() + DAY) });
        const elapsed = Date.now() - started;
        expect(elapsed).toBeLessThan(5000); // @peculiar/x509's X509CrlGenerator (quadratic duplicate check): ~10 s standalone, ~20 s under jest
        const { verified, text } = crlText(tmpDir("big"), pem, root.certPem);
        expect(verified).toBe(true);
        expect(text.match(/Serial Number: /g)).toHaveLength(5000);
        expect(text.match(/Key Compromise/g)).toHaveLength(2500);
    });

    test("rejects a key that does not match the certificate, a CA without cRLSign, bad dates and duplicate serials", async () => {
        const { root } = await makeHierarchy({ name: "Bad" });
        const other = await makeHierarchy({ name: "Other" });
        const base = { issuerCertPem: root.certPem, issuerKeyPem: root.key.privateKeyPem, entries: [], crlNumber: 1, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + DAY) };
        await expect(buildCrl({ ...base, issuerKeyPem: other.root.key.privateKeyPem })).rejects.toThrow(/does not match/);
        await expect(buildCrl({ ...base, nextUpdate: base.thisUpdate })).rejects.toThrow(/nextUpdate/);
        await expect(
            buildCrl({
                ...base,
                entries: [
                    { serialHex: "0a", revokedAt: new Date().toISOString(), reason: "keyCompromise" },
                    { serialHex: "0A", revokedAt: new Date().toISOString(), reason: "keyCompromise" },
                ],
            }),
        ).rejects.toThrow(/twice/);
        await expect(buildCrl({ ...base, entries: [{ serialHex: "zz", revokedAt: new Date().toISOString(), reason: "keyCompromise" }] })).rejects.toThrow(/not hex/);

        // A CA whose keyUsage lacks cRLSign: OpenSSL would reject its CRLs ("key usage does not include CRL signing").
        const dir = tmpDir("ku");
        const r = openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", `${dir}/ca.key`, "-out", `${dir}/ca.crt`, "-subj", "/CN=No CRL Sign", "-days", "2",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        ]);
        expect(r.ok).toBe(true);
        const fs = await import("fs");
        await expect(
            buildCrl({ ...base, issuerCertPem: fs.readFileSync(`${dir}/ca.crt`, "utf8"), issuerKeyPem: fs.readFileSync(`${dir}/ca.key`, "utf8") }),
        ).rejects.toThrow(/cRLSign/);
    });
});

describe("buildCrl dates (RFC 5280 §5.1.2.4: UTCTime for 1950 through 2049, GeneralizedTime before and after)", () => {
    const KINDS = (iso: string) => (new Date(iso).getUTCFullYear() >= 1950 && new Date(iso).getUTCFullYear() < 2050 ? "UTCTIME" : "GENERALIZEDTIME");

    test.each(["1949-12-31T23:59:59Z", "1950-01-01T00:00:00Z", "2049-12-31T23:59:59Z", "2050-01-01T00:00:00Z"])(
        "%s: revocation, thisUpdate and nextUpdate read back as written by openssl and Node",
        async (iso) => {
            const { root } = await makeHierarchy({ name: `Dates ${iso.slice(0, 4)}` });
            const at = new Date(iso);
            const next = new Date(at.getTime() + 1000); // the boundary's other side for 2049-12-31T23:59:59
            const pem = await buildCrl({
                issuerCertPem: root.certPem,
                issuerKeyPem: root.key.privateKeyPem,
                entries: [{ serialHex: "0A1B", revokedAt: iso, reason: "keyCompromise" }],
                crlNumber: 1,
                thisUpdate: at,
                nextUpdate: next,
            });
            const dir = tmpDir("dates");
            const { verified, text } = crlText(dir, pem, root.certPem);
            expect(verified).toBe(true);
            const read = (label: string) => new Date((new RegExp(`${label}: (.+)`).exec(text) as RegExpExecArray)[1].trim()).toISOString();
            expect(read("Last Update")).toBe(at.toISOString());
            expect(read("Next Update")).toBe(next.toISOString());
            expect(read("Revocation Date")).toBe(at.toISOString());

            // The ASN.1 types, in DER order: thisUpdate, nextUpdate, the entry's revocationDate.
            const parsed = openssl(["asn1parse", "-in", write(dir, "dates.crl", pem)]).out;
            expect([...parsed.matchAll(/(UTCTIME|GENERALIZEDTIME)\s*:(\S+)/g)].map((m) => m[1])).toEqual([KINDS(at.toISOString()), KINDS(next.toISOString()), KINDS(at.toISOString())]);

            // Node (@peculiar/x509 on asn1js) reads the same instants.
            require("reflect-metadata");
            const x509: typeof import("@peculiar/x509") = require("@peculiar/x509");
            const crl = new x509.X509Crl(pem);
            expect([crl.thisUpdate.toISOString(), crl.nextUpdate!.toISOString(), crl.entries[0].revocationDate.toISOString()]).toEqual([at.toISOString(), next.toISOString(), at.toISOString()]);
        },
    );

    test("whole seconds (RFC 5280: no fractions), and nothing X.509 cannot state", async () => {
        const { root } = await makeHierarchy({ name: "Fractions" });
        const base = { issuerCertPem: root.certPem, issuerKeyPem: root.key.privateKeyPem, entries: [], crlNumber: 1 };
        const pem = await buildCrl({ ...base, thisUpdate: new Date("2050-06-01T12:00:00.750Z"), nextUpdate: new Date("2050-06-08T12:00:00.250Z") });
        const parsed = openssl(["asn1parse", "-in", write(tmpDir("fractions"), "f.crl", pem)]).out;
        expect([...parsed.matchAll(/GENERALIZEDTIME\s*:(\S+)/g)].map((m) => m[1])).toEqual(["20500601120000Z", "20500608120000Z"]);
        await expect(buildCrl({ ...base, thisUpdate: new Date("9999-12-31T00:00:00Z"), nextUpdate: new Date(Date.UTC(10000, 0, 1)) })).rejects.toThrow(/nextUpdate .* after 9999-12-31T23:59:59Z/);
    });
});
