import { X509Certificate, createHash } from "crypto";
import { splitPemCertificates } from "./pkcs12/pfx";

/** Facts about one certificate, in the forms nginx and people use. */
export interface CertificateFacts {
    /** Serial in hex as nginx's `$ssl_client_serial` prints it: upper case, whole bytes, no colons (`0FAB12`). */
    serialHex: string;
    /** SHA-256 of the DER, lower-case hex without colons. */
    fingerprintSha256: string;
    /** SHA-1 of the DER, lower-case hex without colons: nginx's `$ssl_client_fingerprint`. */
    fingerprintSha1: string;
    notBefore: string;
    notAfter: string;
    subject: string;
    issuer: string;
    isCa: boolean;
}

/** Splits a PEM bundle into its certificates (normalized, each ending in a newline); linear in the text. */
export function splitCertificates(pem: string): string[] {
    return splitPemCertificates(pem).map((block) => block.trim() + "\n");
}

/** Joins PEM blocks into one bundle, one block per entry, no blank lines, skipping empties. */
export function joinPem(blocks: ReadonlyArray<string | undefined>): string {
    return blocks
        .filter((b): b is string => !!b && b.trim().length > 0)
        .map((b) => b.trim() + "\n")
        .join("");
}

export function certificateFacts(pem: string): CertificateFacts {
    const blocks = splitCertificates(pem);
    if (blocks.length === 0) {
        throw new Error("no PEM certificate found");
    }
    const cert = new X509Certificate(blocks[0]);
    return {
        // Node prints the serial as OpenSSL does: whole bytes, no leading zero byte (`0FAB12`), like nginx.
        serialHex: cert.serialNumber.toUpperCase(),
        fingerprintSha256: createHash("sha256").update(cert.raw).digest("hex"),
        fingerprintSha1: createHash("sha1").update(cert.raw).digest("hex"),
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
        subject: cert.subject.split("\n").join(", "),
        issuer: cert.issuer.split("\n").join(", "),
        isCa: cert.ca,
    };
}

/** Colon-separated upper-case form of a hex fingerprint, as browsers and keychains show it. */
export function colonHex(hex: string): string {
    return hex.toUpperCase().replace(/(..)(?=.)/g, "$1:");
}
