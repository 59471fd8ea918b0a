/**
 * Bounds on certificate validities and generations, named after the argument as the user wrote it.
 */
import { resolveCertificateAuthorityArgs } from "../../../components/pki/certificateAuthority";
import { resolveClientCertificateArgs } from "../../../components/pki/clientCertificate";
import { resolveServerCertificateArgs } from "../../../components/pki/serverCertificate";
import { CLOCK_ENV } from "../../../components/util/clock";

const DAY = 86400_000;
const ISSUER = { displayName: "Unit CA", validityMs: 3650 * DAY };

describe("certificate validity bounds", () => {
    it("a root CA: at most 25 years (9132d)", () => {
        expect(resolveCertificateAuthorityArgs({ commonName: "Root", validity: "9132d" }).root.validityMs).toBe(9132 * DAY);
        expect(() => resolveCertificateAuthorityArgs({ commonName: "Root", validity: "99999999d" })).toThrow(
            /^ca\.validity: "99999999d" is longer than 9132d \(25 years\), the longest a certificate's validity may be\. Fix: use at most "9132d"/,
        );
    });

    it("an intermediate: at most the root's", () => {
        expect(() => resolveCertificateAuthorityArgs({ commonName: "Root", validity: "3650d", intermediate: { validity: "3651d" } })).toThrow(/^ca\.intermediate\.validity: /);
        expect(() => resolveCertificateAuthorityArgs({ commonName: "Root", intermediate: { validity: "1".repeat(30) + "h" } })).toThrow(/^ca\.intermediate\.validity: .* 25 years/);
    });

    it("a leaf: at most its issuer's, and 25 years when the issuer does not say", () => {
        expect(() => resolveClientCertificateArgs({ commonName: "a", validity: "9".repeat(400) + "d" }, ISSUER, "clients[0]")).toThrow(/^clients\[0\]\.validity: "9+"… \(401 characters\) is longer than 9132d/);
        expect(() => resolveClientCertificateArgs({ commonName: "a", validity: "3651d" }, ISSUER, "clients[0]")).toThrow(/^clients\[0\]\.validity: 3651d 0h is longer than the validity of its issuer "Unit CA" \(3650d 0h\)/);
        expect(() => resolveServerCertificateArgs({ dnsNames: ["a.example"], validity: "9133d" }, { displayName: "Custom issuer" }, "server")).toThrow(/^server\.validity: "9133d" is longer than 9132d/);
        expect(resolveServerCertificateArgs({ dnsNames: ["a.example"], validity: "9132d" }, { displayName: "Custom issuer" }, "server").validityMs).toBe(9132 * DAY);
    });

    it("ends by 9999-12-31T23:59:59Z, the last time a certificate can state", () => {
        const saved = process.env[CLOCK_ENV];
        process.env[CLOCK_ENV] = "9999-12-01T00:00:00Z";
        try {
            expect(resolveCertificateAuthorityArgs({ commonName: "Root", validity: "30d" }).root.validityMs).toBe(30 * DAY);
            expect(() => resolveCertificateAuthorityArgs({ commonName: "Root", validity: "31d" })).toThrow(/^ca\.validity: 31d 0h from 9999-12-01T00:00:00\.000Z ends after 9999-12-31T23:59:59Z/);
            expect(() => resolveClientCertificateArgs({ commonName: "a", validity: "31d" }, ISSUER, "clients[0]")).toThrow(/^clients\[0\]\.validity: .* ends after 9999-12-31T23:59:59Z/);
        } finally {
            if (saved === undefined) delete process.env[CLOCK_ENV];
            else process.env[CLOCK_ENV] = saved;
        }
    });
});

describe("generation", () => {
    it.each([-1, 1.5, 2 ** 53, "1", Infinity])("refuses %p on every level, naming it", (generation) => {
        expect(() => resolveCertificateAuthorityArgs({ commonName: "Root", generation: generation as number })).toThrow(/^ca\.generation: .* is not a whole number from 0\. Fix: /);
        expect(() => resolveCertificateAuthorityArgs({ commonName: "Root", intermediate: { generation: generation as number } })).toThrow(/^ca\.intermediate\.generation: /);
        expect(() => resolveClientCertificateArgs({ commonName: "a", generation: generation as number }, ISSUER, "clients[3]")).toThrow(/^clients\[3\]\.generation: /);
    });

    it("accepts 0 to 2^53 - 1", () => {
        expect(resolveCertificateAuthorityArgs({ commonName: "Root", generation: 2 ** 53 - 1 }).root.generation).toBe(2 ** 53 - 1);
        expect(resolveCertificateAuthorityArgs({ commonName: "Root" }).root.generation).toBe(0);
    });
});
