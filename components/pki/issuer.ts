import * as pulumi from "@pulumi/pulumi";
import { KeyAlgorithm } from "./keyAlgorithm";

/**
 * What a certificate needs from the CA that signs it. `CertificateAuthority` implements it; a
 * larger program can implement it for a CA it already has (see `existingIssuer`).
 */
export interface CertificateIssuer {
    /** The issuing CA's certificate (the intermediate when there is one). */
    readonly certPem: pulumi.Output<string>;
    /** The issuing CA's private key (secret). */
    readonly keyPem: pulumi.Output<string>;
    /** CA certificates above a leaf, issuing CA first, up to and including the root. */
    readonly chainPem: pulumi.Output<string>;
    /** The root CA certificate. */
    readonly rootCertPem: pulumi.Output<string>;
    /** CA certificates between a leaf and the root (the intermediate, or "" when the root issues leaves). */
    readonly intermediatesPem: pulumi.Output<string>;
    /** SHA-256 of the issuing CA certificate: leaves are re-issued when it changes. */
    readonly fingerprintSha256: pulumi.Output<string>;
    /** `ssl_verify_depth` nginx needs for leaves of this issuer (1 for a root, 2 below one intermediate). */
    readonly verifyDepth: number;
    /** Validity of the issuing CA in ms (plain, for construction-time checks), if known. */
    readonly validityMs?: number;
    /** Time between the issuing CA's renewal and its expiry, in ms, if known. */
    readonly renewalWindowMs?: number;
    /** Key algorithm of the issuing CA, if known. */
    readonly keyAlgorithm?: KeyAlgorithm;
    /** Human name of the issuing CA for messages. */
    readonly displayName: string;
}
