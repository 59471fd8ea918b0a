/**
 * One character rule for every name a person reads (subject fields, SANs, friendlyNames, allowlisted
 * names): each place that takes a name refuses the same characters, with the same words.
 */
import { withDefaults } from "../../../components/nginx/siteSpec";
import { validateSiteSpec } from "../../../components/nginx/validate";
import { resolveCertificateAuthorityArgs } from "../../../components/pki/certificateAuthority";
import { resolveClientCertificateArgs } from "../../../components/pki/clientCertificate";
import { validatePkcs12FriendlyName } from "../../../components/pki/pkcs12/password";
import { resolveServerCertificateArgs } from "../../../components/pki/serverCertificate";
import { InputError, InputErrors } from "../../../components/util/errors";
import { forbiddenNameCharacter } from "../../../components/util/names";

/** Characters that make a name look like another one in a certificate picker. */
const FORBIDDEN: { ch: string; described: string }[] = [
    { ch: "\u202e", described: "U+202E, a format character" }, // RIGHT-TO-LEFT OVERRIDE: "alice\u202Etxt.exe" shows as "aliceexe.txt"
    { ch: "\u2066", described: "U+2066, a format character" }, // LEFT-TO-RIGHT ISOLATE
    { ch: "\u200e", described: "U+200E, a format character" }, // LEFT-TO-RIGHT MARK
    { ch: "\u200b", described: "U+200B, a format character" }, // ZERO WIDTH SPACE
    { ch: "\ufeff", described: "U+FEFF, a format character" }, // ZERO WIDTH NO-BREAK SPACE
    { ch: "\u00ad", described: "U+00AD, a format character" }, // SOFT HYPHEN
    { ch: "\u0000", described: "U+0000, a control character" },
    { ch: "\u0085", described: "U+0085, a control character" }, // NEXT LINE (C1)
    { ch: "\u2028", described: "U+2028, a line or paragraph separator" },
    { ch: "\ue000", described: "U+E000, a private-use character" },
    { ch: "\udb80\udc00", described: "U+F0000, a private-use character" }, // plane 15
    { ch: "\ud800", described: "U+D800, half of a surrogate pair" },
    { ch: "\u0378", described: "U+0378, an unassigned code point" },
];

const ALLOWED = ["alice", "Zoë Müller – 東京", "O'Brien, Jane", 'Jane "JJ" Doe', "build-agent #7 (CI)", "ракета 🚀", "Ωmega\u00a0Team"];

describe("forbiddenNameCharacter", () => {
    it.each(FORBIDDEN)("finds $described", ({ ch, described }) => {
        expect(forbiddenNameCharacter(`a${ch}b`)).toMatch(new RegExp(`^${described.replace(/[+()]/g, "\\$&")}`));
    });

    it.each(ALLOWED)("accepts %j", (name) => {
        expect(forbiddenNameCharacter(name)).toBeUndefined();
    });
});

function errorOf(fn: () => unknown): InputError {
    try {
        fn();
    } catch (e) {
        if (e instanceof InputError) return e;
        if (e instanceof InputErrors && e.errors.length === 1) return e.errors[0];
        throw e;
    }
    throw new Error("expected an InputError, the name was accepted");
}

const ISSUER = { displayName: "Unit CA", validityMs: 3650 * 86400_000 };
const SITE = {
    siteName: "app",
    serverNames: ["app.example.com"],
    verifyDepth: 1,
    paths: { certificate: "/etc/mtls/server.crt", certificateKey: "/etc/mtls/server.key", clientCa: "/etc/mtls/ca.crt", errorPagesDir: "/var/lib/mtls/errors" },
    mode: { kind: "proxy" as const, upstream: "http://127.0.0.1:8080" },
};

/** A DN value as nginx prints it ($ssl_client_s_dn): every byte outside printable ASCII as \XX (these names hold no , + " \ < > ;). */
function asNginxPrints(value: string): string {
    return [...Buffer.from(value, "utf8")].map((b) => (b < 0x20 || b > 0x7e ? "\\" + b.toString(16).toUpperCase().padStart(2, "0") : String.fromCharCode(b))).join("");
}

/** Every place that takes a name, given one: [the input it reports, a call]. */
const PLACES: [string, (name: string) => unknown][] = [
    ["ca.commonName", (n) => resolveCertificateAuthorityArgs({ commonName: n })],
    ["ca.organization", (n) => resolveCertificateAuthorityArgs({ commonName: "Root", organization: n })],
    ["ca.organizationalUnit", (n) => resolveCertificateAuthorityArgs({ commonName: "Root", organizationalUnit: n })],
    ["ca.intermediate.commonName", (n) => resolveCertificateAuthorityArgs({ commonName: "Root", intermediate: { commonName: n } })],
    ["clients[0].commonName", (n) => resolveClientCertificateArgs({ commonName: n }, ISSUER, "clients[0]")],
    ["clients[0].organization", (n) => resolveClientCertificateArgs({ commonName: "a", organization: n }, ISSUER, "clients[0]")],
    ["clients[0].organizationalUnit", (n) => resolveClientCertificateArgs({ commonName: "a", organizationalUnit: n }, ISSUER, "clients[0]")],
    ["clients[0].pkcs12.friendlyName", (n) => resolveClientCertificateArgs({ commonName: "a", pkcs12: { friendlyName: n } }, ISSUER, "clients[0]")],
    ["clients[0].emailAddresses[0]", (n) => resolveClientCertificateArgs({ commonName: "a", emailAddresses: [`${n}@example.com`] }, ISSUER, "clients[0]")],
    ["clients[0].uris[0]", (n) => resolveClientCertificateArgs({ commonName: "a", uris: [`spiffe://example.org/${n}`] }, ISSUER, "clients[0]")],
    ["server.commonName", (n) => resolveServerCertificateArgs({ dnsNames: ["app.example.com"], commonName: n }, ISSUER, "server")],
    ["friendlyName", (n) => validatePkcs12FriendlyName(n, "friendlyName")],
    ["site.allow.commonNames[0]", (n) => validateSiteSpec(withDefaults({ ...SITE, allow: { commonNames: [n] } }))],
    ["site.allow.subjectDns[0]", (n) => validateSiteSpec(withDefaults({ ...SITE, allow: { subjectDns: [`CN=${asNginxPrints(n)},O=Example`] } }))],
];

describe.each(PLACES)("%s", (input, place) => {
    it.each(FORBIDDEN.filter(({ ch }) => ch !== "\ud800"))("refuses $described with the shared words", ({ ch, described }) => {
        const e = errorOf(() => place(`alice${ch}txt`));
        expect(e.input).toBe(input);
        expect(e.message).toContain(described);
        expect(e.message).toMatch(/\. Fix: remove control and format characters/);
        // Echoed escaped: a raw U+202E would reverse the error message itself.
        expect(e.message).not.toContain(ch);
    });

    it("accepts a name with accents and CJK", () => {
        expect(() => place("Zoë-Müller-東京")).not.toThrow();
    });
});
