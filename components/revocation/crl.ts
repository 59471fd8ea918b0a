/**
 * CRL building (pure): an X.509 v2 CRL signed by an issuing CA, in the PEM form OpenSSL 3 and nginx read.
 *
 * The CRL is assembled with @peculiar/asn1-x509 (the ASN.1 types under @peculiar/x509) and signed with
 * node:crypto, rather than with @peculiar/x509's X509CrlGenerator, whose duplicate-serial check is quadratic
 * (measured: 1,000 entries 1.6 s, 5,000 10 s, 10,000 ~30 s; this builder: 0.1 s, 0.4 s, 0.9-1.3 s).
 *
 * Traps handled here (measured with OpenSSL 3.0, nginx 1.22):
 * - @peculiar/x509 (used to read the issuer certificate) needs `reflect-metadata` loaded before it;
 * - OpenSSL 3 rejects the `BEGIN CRL` PEM label @peculiar/x509 writes: we encode with `X509 CRL`;
 * - the CRL Number extension (2.5.29.20) is built as a generic extension around a hand-made DER INTEGER;
 * - the Authority Key Identifier must equal the issuer's Subject Key Identifier: OpenSSL uses it to pick the
 *   CRL of the right CA when two CAs share a subject name (CA rotation);
 * - a CA whose keyUsage lacks cRLSign cannot sign CRLs OpenSSL accepts ("key usage does not include CRL
 *   signing"): refused here with a clear error.
 *
 * Everything third-party is `require`d inside the function: the RevocationList dynamic provider captures this
 * function with `pulumi.runtime.serializeFunction`, which cannot capture module-level imports.
 */
import { showValue } from "../util/errors";

/** CRL entry reason codes (RFC 5280 §5.3.1) that a program may ask for. */
export type RevocationReason =
    | "unspecified"
    | "keyCompromise"
    | "caCompromise"
    | "affiliationChanged"
    | "superseded"
    | "cessationOfOperation"
    | "certificateHold"
    | "privilegeWithdrawn";

/** Every {@link RevocationReason}, in RFC 5280 code order. */
export const REVOCATION_REASONS: readonly RevocationReason[] = [
    "unspecified",
    "keyCompromise",
    "caCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "privilegeWithdrawn",
];

/** One revoked certificate on a CRL. */
export interface CrlEntry {
    /** Serial number in hex (any case, optional `:` separators, leading zeros allowed). */
    serialHex: string;
    /** When the certificate was revoked (ISO-8601). */
    revokedAt: string;
    reason: RevocationReason;
}

export interface BuildCrlInput {
    /** The issuing CA certificate (PEM). */
    issuerCertPem: string;
    /** The issuing CA private key: PKCS#1, SEC1 or PKCS#8 PEM; ECDSA P-256/P-384/P-521 or RSA. */
    issuerKeyPem: string;
    entries: CrlEntry[];
    /** CRL Number (monotonically increasing per issuer). */
    crlNumber: number;
    thisUpdate: Date;
    nextUpdate: Date;
}

/**
 * Builds and signs a CRL; returns it as PEM with the `X509 CRL` label.
 *
 * Signature algorithm follows the key: ECDSA with SHA-256 (P-256), SHA-384 (P-384) or SHA-512 (P-521);
 * RSA PKCS#1 v1.5 with SHA-256. Extensions: CRL Number and Authority Key Identifier (non-critical).
 * Entries carry a reasonCode extension except for `"unspecified"` (RFC 5280 §5.3.1: SHOULD be absent).
 *
 * Throws when the key does not match the certificate, when the certificate's keyUsage forbids CRL signing
 * (OpenSSL would reject the CRL), or on a malformed entry.
 */
export async function buildCrl(input: BuildCrlInput): Promise<string> {
    require("reflect-metadata");
    const nodeCrypto: typeof import("crypto") = require("crypto");
    const x509: typeof import("@peculiar/x509") = require("@peculiar/x509");
    const asn: typeof import("@peculiar/asn1-x509") = require("@peculiar/asn1-x509");
    const asnSchema: typeof import("@peculiar/asn1-schema") = require("@peculiar/asn1-schema");
    const hexBytes = (hex: string): Uint8Array => {
        const out = new Uint8Array(hex.length / 2);
        for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
        return out;
    };

    const reasonCodes: Record<string, number> = {
        unspecified: 0,
        keyCompromise: 1,
        caCompromise: 2,
        affiliationChanged: 3,
        superseded: 4,
        cessationOfOperation: 5,
        certificateHold: 6,
        privilegeWithdrawn: 9,
    };

    if (!Number.isSafeInteger(input.crlNumber) || input.crlNumber < 0) {
        throw new Error(`buildCrl: crlNumber must be a non-negative integer, got ${input.crlNumber}`);
    }
    const thisUpdate = input.thisUpdate;
    const nextUpdate = input.nextUpdate;
    if (Number.isNaN(thisUpdate.getTime()) || Number.isNaN(nextUpdate.getTime()) || nextUpdate.getTime() <= thisUpdate.getTime()) {
        throw new Error("buildCrl: nextUpdate must be a valid time after thisUpdate");
    }

    // The issuer: node parses the PEM (tolerant of surrounding text), @peculiar/x509 reads extensions and name.
    const nodeCert = new nodeCrypto.X509Certificate(input.issuerCertPem);
    const issuerCert = new x509.X509Certificate(new Uint8Array(nodeCert.raw));

    const keyUsage = issuerCert.getExtension(x509.KeyUsagesExtension);
    if (keyUsage && (keyUsage.usages & x509.KeyUsageFlags.cRLSign) === 0) {
        throw new Error(`buildCrl: the issuer certificate (${nodeCert.subject.replace(/\n/g, ", ")}) has a keyUsage without cRLSign; OpenSSL rejects CRLs it signs. Fix: issue the CA with the crl_signing use`);
    }

    // The key: node reads every PEM form (PKCS#1, SEC1, PKCS#8) and signs with it directly.
    const keyObject = nodeCrypto.createPrivateKey(input.issuerKeyPem);
    const keySpki = nodeCrypto.createPublicKey(keyObject).export({ type: "spki", format: "der" });
    const certSpki = nodeCert.publicKey.export({ type: "spki", format: "der" });
    if (!keySpki.equals(certSpki)) {
        throw new Error(`buildCrl: the issuer key does not match the issuer certificate (${nodeCert.subject.replace(/\n/g, ", ")})`);
    }
    let hash: string;
    let signatureAlgorithm: InstanceType<typeof asn.AlgorithmIdentifier>;
    if (keyObject.asymmetricKeyType === "ec") {
        const curve = keyObject.asymmetricKeyDetails?.namedCurve;
        // curve -> [hash, ecdsa-with-SHAxxx OID]
        const byCurve: Record<string, [string, string]> = {
            prime256v1: ["sha256", "1.2.840.10045.4.3.2"],
            secp384r1: ["sha384", "1.2.840.10045.4.3.3"],
            secp521r1: ["sha512", "1.2.840.10045.4.3.4"],
        };
        const chosen = curve ? byCurve[curve] : undefined;
        if (!chosen) {
            throw new Error(`buildCrl: unsupported EC curve ${curve}; use P-256, P-384 or P-521`);
        }
        hash = chosen[0];
        signatureAlgorithm = new asn.AlgorithmIdentifier({ algorithm: chosen[1] }); // parameters absent (RFC 5758)
    } else if (keyObject.asymmetricKeyType === "rsa") {
        hash = "sha256";
        signatureAlgorithm = new asn.AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.11", parameters: null }); // sha256WithRSAEncryption, NULL
    } else {
        throw new Error(`buildCrl: unsupported issuer key type ${keyObject.asymmetricKeyType}; use ECDSA (P-256/P-384) or RSA`);
    }

    // RFC 5280 §5.1.2.4-6 (as §4.1.2.5): UTCTime for 1950 through 2049, GeneralizedTime before and after (a UTCTime
    // "49" reads as 2049), whole seconds, Z. asn1-x509's Time(date) would write 1949 as UTCTime.
    const x509Time = (date: Date, what: string): InstanceType<typeof asn.Time> => {
        const seconds = new Date(Math.floor(date.getTime() / 1000) * 1000);
        const year = seconds.getUTCFullYear();
        if (year < 1 || seconds.getTime() > Date.UTC(9999, 11, 31, 23, 59, 59)) {
            throw new Error(`buildCrl: ${what} ${date.toISOString()} is before 0001-01-01 or after 9999-12-31T23:59:59Z, which X.509 cannot state`);
        }
        return new asn.Time(year >= 1950 && year < 2050 ? { utcTime: seconds } : { generalTime: seconds });
    };

    const extension = (extnID: string, value: ArrayBuffer | Uint8Array) =>
        new asn.Extension({ extnID, critical: false, extnValue: new asnSchema.OctetString(value) });

    // Authority Key Identifier: the issuer's own SKI when it has one (that is what OpenSSL matches), else the
    // RFC 5280 method 1 value (SHA-1 of the subjectPublicKey bits).
    const ski = issuerCert.getExtension(x509.SubjectKeyIdentifierExtension);
    const keyId = ski
        ? hexBytes(ski.keyId)
        : new Uint8Array(nodeCrypto.createHash("sha1").update(new Uint8Array(asnSchema.AsnConvert.parse(nodeCert.raw, asn.Certificate).tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)).digest());
    const aki = extension(asn.id_ce_authorityKeyIdentifier, asnSchema.AsnConvert.serialize(new asn.AuthorityKeyIdentifier({ keyIdentifier: new asn.KeyIdentifier(keyId) })));

    // CRL Number: a generic extension (2.5.29.20) around a DER INTEGER built by hand.
    let numberHex = BigInt(input.crlNumber).toString(16);
    if (numberHex.length % 2) numberHex = "0" + numberHex;
    if (parseInt(numberHex.slice(0, 2), 16) & 0x80) numberHex = "00" + numberHex;
    const numberBytes = hexBytes(numberHex);
    const crlNumber = extension("2.5.29.20", new Uint8Array([0x02, numberBytes.length, ...numberBytes]));

    // Entries, linear (X509CrlGenerator checks duplicates in O(n^2)).
    const seen = new Set<string>();
    const revoked = input.entries.map((entry, i) => {
        let serial = String(entry.serialHex).replace(/[:\s]/g, "").toLowerCase();
        if (!/^[0-9a-f]+$/.test(serial)) {
            throw new Error(`buildCrl: entries[${i}].serialHex ${showValue(entry.serialHex)} is not hex`);
        }
        serial = serial.replace(/^0+/, "") || "0";
        if (serial.length % 2) serial = "0" + serial;
        if (seen.has(serial)) {
            throw new Error(`buildCrl: serial ${serial} appears twice`);
        }
        seen.add(serial);
        const code = reasonCodes[entry.reason];
        if (code === undefined) {
            throw new Error(`buildCrl: entries[${i}].reason ${showValue(entry.reason)} is not a revocation reason`);
        }
        const revocationDate = new Date(entry.revokedAt);
        if (Number.isNaN(revocationDate.getTime())) {
            throw new Error(`buildCrl: entries[${i}].revokedAt ${showValue(entry.revokedAt)} is not a time`);
        }
        // Positive INTEGER octets: a leading 0x00 when the high bit is set.
        const octets = hexBytes(parseInt(serial.slice(0, 2), 16) & 0x80 ? "00" + serial : serial);
        const item = new asn.RevokedCertificate({ userCertificate: octets.buffer.slice(octets.byteOffset, octets.byteOffset + octets.byteLength) as ArrayBuffer, revocationDate: x509Time(revocationDate, `entries[${i}].revokedAt`) });
        // reason 0 (unspecified) is left out: the extension SHOULD be absent rather than say "unspecified".
        if (code !== 0) {
            item.crlEntryExtensions = [extension(asn.id_ce_cRLReasons, asnSchema.AsnConvert.serialize(new asn.CRLReason(code)))];
        }
        return item;
    });

    const tbs = new asn.TBSCertList({
        version: asn.Version.v2,
        signature: signatureAlgorithm,
        issuer: asnSchema.AsnConvert.parse(issuerCert.subjectName.toArrayBuffer(), asn.Name),
        thisUpdate: x509Time(thisUpdate, "thisUpdate"),
        nextUpdate: x509Time(nextUpdate, "nextUpdate"),
        crlExtensions: [crlNumber, aki],
    });
    if (revoked.length) tbs.revokedCertificates = revoked;
    const tbsDer = new Uint8Array(asnSchema.AsnConvert.serialize(tbs));
    // ECDSA: node gives the DER (r, s) SEQUENCE X.509 wants; RSA: PKCS#1 v1.5.
    const signature = nodeCrypto.sign(hash, tbsDer, keyObject.asymmetricKeyType === "ec" ? { key: keyObject, dsaEncoding: "der" } : keyObject);
    // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }, assembled
    // around the DER just signed (re-serializing the TBS through asn1-schema would double the time).
    const derLength = (n: number): number[] => {
        if (n < 0x80) return [n];
        const bytes: number[] = [];
        for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
        return [0x80 | bytes.length, ...bytes];
    };
    const algDer = new Uint8Array(asnSchema.AsnConvert.serialize(signatureAlgorithm));
    const sigBytes = new Uint8Array(signature);
    const bitString = [0x03, ...derLength(sigBytes.length + 1), 0x00];
    const bodyLength = tbsDer.length + algDer.length + bitString.length + sigBytes.length;
    const header = [0x30, ...derLength(bodyLength)];
    const der = new Uint8Array(header.length + bodyLength);
    let offset = 0;
    for (const part of [new Uint8Array(header), tbsDer, algDer, new Uint8Array(bitString), sigBytes]) {
        der.set(part, offset);
        offset += part.length;
    }
    return x509.PemConverter.encode(der, "X509 CRL") + "\n";
}
