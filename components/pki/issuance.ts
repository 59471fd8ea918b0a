/**
 * Shared wiring for every certificate the components issue: a renewal schedule, a private key that
 * rotates with it (unless keyRotation is "never"), and the facts read back from the real certificate.
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { RenewalPolicy, renewAt } from "../renewal/policy";
import { RenewalSchedule } from "../renewal/schedule";
import { CertificateFacts, certificateFacts } from "./certInfo";
import { KeyAlgorithm, privateKeyArgs } from "./keyAlgorithm";

export interface RenewalSpec {
    keyAlgorithm: KeyAlgorithm;
    validityMs: number;
    policy: RenewalPolicy;
    /** Issuer fingerprint (or "self" for a root): a new issuer means a new certificate. */
    anchor: pulumi.Input<string>;
    generation: number;
}

export interface RenewableKey {
    schedule: RenewalSchedule;
    key: tls.PrivateKey;
    /** Options that make a resource be replaced together with the schedule. */
    rotation: pulumi.CustomResourceOptions;
}

/**
 * Creates `${name}-renewal` and `${name}-key`. The key and, through `rotation`, the certificate are
 * replaced in the same update in which the schedule is: `replaceWith` makes `pulumi preview` show it,
 * and `replacementTrigger` (the schedule's id) re-issues on the next run if an update failed half-way.
 */
export function renewableKey(name: string, parent: pulumi.Resource, spec: RenewalSpec): RenewableKey {
    const schedule = new RenewalSchedule(
        `${name}-renewal`,
        { validityMs: spec.validityMs, policy: spec.policy, anchor: spec.anchor, generation: spec.generation },
        { parent },
    );
    const rotation: pulumi.CustomResourceOptions = { replaceWith: [schedule], replacementTrigger: schedule.id };
    const key = new tls.PrivateKey(`${name}-key`, privateKeyArgs(spec.keyAlgorithm), {
        parent,
        ...(spec.policy.keyRotation === "always" ? rotation : {}),
    });
    return { schedule, key, rotation: { parent, ...rotation } };
}

/** Facts about an issued certificate and its renewal time computed from its REAL notBefore/notAfter. */
export interface IssuedFacts {
    facts: pulumi.Output<CertificateFacts>;
    renewAt: pulumi.Output<string>;
}

export function issuedFacts(certPem: pulumi.Output<string>, policy: RenewalPolicy): IssuedFacts {
    const facts = certPem.apply(certificateFacts);
    return {
        facts,
        renewAt: facts.apply((f) => renewAt(new Date(f.notBefore), new Date(f.notAfter), policy).toISOString()),
    };
}

/** Whole hours for @pulumi/tls's validityPeriodHours. */
export function validityHours(validityMs: number): number {
    return Math.ceil(validityMs / 3600_000);
}

/** A certificate signed by a CA, with its key, renewal schedule and facts. */
export interface SignedCertificate {
    key: tls.PrivateKey;
    cert: tls.LocallySignedCert;
    facts: pulumi.Output<CertificateFacts>;
    renewAt: pulumi.Output<string>;
}

export interface SignedCertificateSpec extends RenewalSpec {
    /** The signing CA. */
    ca: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
    subject: { commonName: string; organization?: string; organizationalUnit?: string; country?: string };
    dnsNames?: string[];
    ipAddresses?: string[];
    uris?: string[];
    /** @pulumi/tls allowed uses, e.g. ["digital_signature", "client_auth"]. */
    allowedUses: string[];
    isCaCertificate?: boolean;
    maxPathLength?: number;
}

/**
 * Creates `${name}-renewal`, `${name}-key`, `${name}-csr` and `${name}-cert` (a tls.LocallySignedCert),
 * all replaced together when the schedule fires, and reads the facts back from the real certificate.
 */
export function signedCertificate(name: string, parent: pulumi.Resource, spec: SignedCertificateSpec): SignedCertificate {
    const { key, rotation } = renewableKey(name, parent, spec);
    const csr = new tls.CertRequest(
        `${name}-csr`,
        { privateKeyPem: key.privateKeyPem, subject: spec.subject, dnsNames: spec.dnsNames, ipAddresses: spec.ipAddresses, uris: spec.uris },
        rotation,
    );
    const cert = new tls.LocallySignedCert(
        `${name}-cert`,
        {
            certRequestPem: csr.certRequestPem,
            caCertPem: spec.ca.certPem,
            caPrivateKeyPem: spec.ca.keyPem,
            validityPeriodHours: validityHours(spec.validityMs),
            allowedUses: spec.allowedUses,
            isCaCertificate: spec.isCaCertificate,
            maxPathLength: spec.maxPathLength,
            setSubjectKeyId: true,
        },
        rotation,
    );
    return { key, cert, ...issuedFacts(cert.certPem, spec.policy) };
}
