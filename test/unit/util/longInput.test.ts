/**
 * A huge value (100,000 characters) in any argument gives a short error: the value is echoed cut, with
 * its length, and the message still names the argument and the fix.
 */
import { resolveCertificateAuthorityArgs } from "../../../components/pki/certificateAuthority";
import { resolveClientCertificateArgs } from "../../../components/pki/clientCertificate";
import { validateKeyAlgorithm } from "../../../components/pki/keyAlgorithm";
import { validatePkcs12FriendlyName, validatePkcs12Profile } from "../../../components/pki/pkcs12/password";
import { validateCountry, validateDnsNames, validateEmail, validateIpAddresses, validateResourceName, validateUris } from "../../../components/pki/validation";
import { resolveRenewalPolicy } from "../../../components/renewal/policy";
import { validateRevocationListArgs } from "../../../components/revocation/revocationList";
import { parseDuration } from "../../../components/util/duration";
import { InputError, InputErrors } from "../../../components/util/errors";

const HUGE = "x".repeat(100_000);
const ISSUER = { displayName: "Unit CA", validityMs: 3650 * 86400_000 };

function messageOf(fn: () => unknown): string {
    try {
        fn();
    } catch (e) {
        if (e instanceof InputError || e instanceof InputErrors) return e.message;
        throw e;
    }
    throw new Error("expected an InputError");
}

const CASES: [string, () => unknown][] = [
    ["clients[0].name", () => validateResourceName(HUGE, "clients[0].name")],
    ["ca.country", () => validateCountry(HUGE, "ca.country")],
    ["clients[0].dnsNames[0]", () => validateDnsNames([HUGE], "clients[0].dnsNames")],
    ["server.ipAddresses[0]", () => validateIpAddresses([HUGE], "server.ipAddresses")],
    ["clients[0].emailAddresses[0]", () => validateEmail(HUGE + "@", "clients[0].emailAddresses[0]")],
    ["clients[0].uris[0]", () => validateUris([HUGE + " "], "clients[0].uris")],
    ["clients[0].keyAlgorithm", () => validateKeyAlgorithm(HUGE, "clients[0].keyAlgorithm")],
    ["clients[0].validity", () => parseDuration(HUGE, "clients[0].validity")],
    ["clients[0].validity", () => parseDuration("9".repeat(100_000) + "d", "clients[0].validity")],
    ["clients[0].renewal.keyRotation", () => resolveRenewalPolicy({ keyRotation: HUGE as never }, 86400_000, "clients[0].renewal")],
    ["clients[0].pkcs12.profile", () => validatePkcs12Profile(HUGE, "clients[0].pkcs12.profile")],
    ["clients[0].pkcs12.friendlyName", () => validatePkcs12FriendlyName(HUGE, "clients[0].pkcs12.friendlyName")],
    ["clients[0].commonName", () => resolveClientCertificateArgs({ commonName: HUGE }, ISSUER, "clients[0]")],
    ["clients[0].generation", () => resolveClientCertificateArgs({ commonName: "a", generation: HUGE as never }, ISSUER, "clients[0]")],
    ["ca.generation", () => resolveCertificateAuthorityArgs({ commonName: "a", generation: HUGE as never }, "ca")],
    ["revocation.revocations[0].serial", () => validateRevocationListArgs({ issuerCertPem: "-", issuerKeyPem: "-", issued: [], revocations: [{ serial: HUGE, reason: "keyCompromise" }] }, "revocation")],
    ["revocation.revocations[0].reason", () => validateRevocationListArgs({ issuerCertPem: "-", issuerKeyPem: "-", issued: [], revocations: [{ serial: "0A", reason: HUGE as never }] }, "revocation")],
    ["revocation.crlValidityHours", () => validateRevocationListArgs({ issuerCertPem: "-", issuerKeyPem: "-", issued: [], crlValidityHours: HUGE as never }, "revocation")],
];

describe("a 100,000-character value", () => {
    it.each(CASES)("%s: a short message naming the input and the fix", (input, fn) => {
        const message = messageOf(fn);
        expect(message.length).toBeLessThan(800);
        expect(message.startsWith(`${input}: `)).toBe(true);
        expect(message).toMatch(/\. Fix: /);
    });

    it("is echoed cut, with its length", () => {
        expect(messageOf(() => validateResourceName(HUGE, "clients[0].name"))).toContain(`"${"x".repeat(80)}"… (100000 characters)`);
    });
});

describe("InputError backstop", () => {
    it("cuts an input path, problem or fix that echoes a huge value without showValue", () => {
        const e = new InputError(`site.${HUGE}`, `bad ${HUGE}`, `use ${HUGE}`);
        expect(e.message.length).toBeLessThan(2400);
        expect(e.input.length).toBeLessThan(240);
        expect(e.message).toMatch(/^site\.x+… \(100005 characters\): bad x+… \(100004 characters\)\. Fix: use x+… \(100004 characters\)$/);
    });
});
