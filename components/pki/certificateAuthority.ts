import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { RenewalPolicy, RenewalPolicyArgs, renewalWindowMs, resolveRenewalPolicy } from "../renewal/policy";
import { Duration, formatDuration } from "../util/duration";
import { InputError } from "../util/errors";
import { CertificateFacts, joinPem } from "./certInfo";
import { issuedFacts, renewableKey, signedCertificate, validityHours } from "./issuance";
import { CertificateIssuer } from "./issuer";
import { KeyAlgorithm, validateKeyAlgorithm } from "./keyAlgorithm";
import { validateCommonName, validateCountry, validateDnField } from "./validation";
import { resolveValidity, validateGeneration } from "./validity";

/** Default validities: long-lived root, medium intermediate (leaves are re-issued well before either ends). */
export const DEFAULT_ROOT_VALIDITY: Duration = "3650d";
export const DEFAULT_INTERMEDIATE_VALIDITY: Duration = "1095d";

export interface IntermediateCaArgs {
    /**
     * Common name of the intermediate CA.
     * @default `${commonName} Intermediate`
     */
    commonName?: string;
    /**
     * Key algorithm of the intermediate.
     * @default the root's key algorithm
     */
    keyAlgorithm?: KeyAlgorithm;
    /**
     * Validity of the intermediate certificate. Must not exceed the root's (nor 25 years, "9132d").
     * @default "1095d" (3 years)
     */
    validity?: Duration;
    /**
     * When to renew the intermediate (and with it every leaf it issued).
     * @default renew at 2/3 of the lifetime, new key each time
     */
    renewal?: RenewalPolicyArgs;
    /**
     * Bump to re-issue the intermediate now.
     * @default 0
     */
    generation?: number;
}

export interface CertificateAuthorityArgs {
    /** Common name of the root CA, e.g. "Example mTLS Root CA". */
    commonName: string;
    /**
     * Organization (O) in the CA subjects.
     * @default unset
     */
    organization?: string;
    /**
     * Organizational unit (OU) in the CA subjects.
     * @default unset
     */
    organizationalUnit?: string;
    /**
     * Two-letter country code (C) in the CA subjects.
     * @default unset
     */
    country?: string;
    /**
     * Key algorithm of the root CA.
     * @default "ECDSA-P256"
     */
    keyAlgorithm?: KeyAlgorithm;
    /**
     * Validity of the root certificate: at most 25 years ("9132d"), ending by 9999-12-31T23:59:59Z.
     * @default "3650d" (10 years)
     */
    validity?: Duration;
    /**
     * When to renew the root. Renewing a root changes the trust anchor: the old root stays trusted
     * by the site until every certificate it issued has expired (see RevocationList).
     * @default renew at 2/3 of the lifetime, new key each time
     */
    renewal?: RenewalPolicyArgs;
    /**
     * Add an intermediate CA, signed by the root, that issues the leaves (the root key then signs
     * only the intermediate and its CRL). `true` uses the defaults.
     * @default false (the root issues the leaves)
     */
    intermediate?: boolean | IntermediateCaArgs;
    /**
     * Bump to re-issue the root now.
     * @default 0
     */
    generation?: number;
}

/** Validated, defaulted settings of one CA level. */
export interface CaLevelSettings {
    commonName: string;
    keyAlgorithm: KeyAlgorithm;
    validityMs: number;
    policy: RenewalPolicy;
    generation: number;
}

export interface CertificateAuthoritySettings {
    subject: { organization?: string; organizationalUnit?: string; country?: string };
    root: CaLevelSettings;
    intermediate?: CaLevelSettings;
    /** Non-fatal findings (e.g. an intermediate that can outlive the root's renewal window). */
    warnings: string[];
}

/** Validates CA args and applies defaults; throws InputError before anything is created. */
export function resolveCertificateAuthorityArgs(args: CertificateAuthorityArgs, input = "ca"): CertificateAuthoritySettings {
    if (!args || typeof args !== "object") {
        throw new InputError(input, "missing CA arguments", "pass at least { commonName }");
    }
    const commonName = validateCommonName(args.commonName, `${input}.commonName`);
    const subject = {
        organization: validateDnField(args.organization, `${input}.organization`, "organization"),
        organizationalUnit: validateDnField(args.organizationalUnit, `${input}.organizationalUnit`, "organizational unit"),
        country: validateCountry(args.country, `${input}.country`),
    };
    const rootValidityMs = resolveValidity(args.validity ?? DEFAULT_ROOT_VALIDITY, `${input}.validity`);
    const root: CaLevelSettings = {
        commonName,
        keyAlgorithm: validateKeyAlgorithm(args.keyAlgorithm, `${input}.keyAlgorithm`),
        validityMs: rootValidityMs,
        policy: resolveRenewalPolicy(args.renewal, rootValidityMs, `${input}.renewal`),
        generation: validateGeneration(args.generation, `${input}.generation`),
    };
    const warnings: string[] = [];
    let intermediate: CaLevelSettings | undefined;
    if (args.intermediate) {
        const ia: IntermediateCaArgs = args.intermediate === true ? {} : args.intermediate;
        const validityMs = resolveValidity(ia.validity ?? DEFAULT_INTERMEDIATE_VALIDITY, `${input}.intermediate.validity`);
        if (validityMs > rootValidityMs) {
            throw new InputError(
                `${input}.intermediate.validity`,
                `the intermediate's validity (${formatDuration(validityMs)}) is longer than the root's (${formatDuration(rootValidityMs)})`,
                "make the intermediate's validity shorter than the root's, or lengthen the root's",
            );
        }
        const rootWindow = renewalWindowMs(rootValidityMs, root.policy);
        if (validityMs > rootWindow) {
            warnings.push(
                `${input}.intermediate.validity (${formatDuration(validityMs)}) is longer than the root's renewal window (${formatDuration(rootWindow)}): an intermediate issued just before the root renews can outlive the root`,
            );
        }
        intermediate = {
            commonName: validateCommonName(ia.commonName ?? `${commonName} Intermediate`, `${input}.intermediate.commonName`),
            keyAlgorithm: validateKeyAlgorithm(ia.keyAlgorithm ?? root.keyAlgorithm, `${input}.intermediate.keyAlgorithm`),
            validityMs,
            policy: resolveRenewalPolicy(ia.renewal, validityMs, `${input}.intermediate.renewal`),
            generation: validateGeneration(ia.generation, `${input}.intermediate.generation`),
        };
    }
    return { subject, root, intermediate, warnings };
}

const CA_USES = ["cert_signing", "crl_signing", "digital_signature"];

/** One level of the hierarchy (root or intermediate) as created. */
export interface CaLevel {
    key: tls.PrivateKey;
    certPem: pulumi.Output<string>;
    facts: pulumi.Output<CertificateFacts>;
    renewAt: pulumi.Output<string>;
    settings: CaLevelSettings;
}

/**
 * A root CA and, optionally, an intermediate CA that issues the leaves. Keys and certificates are
 * @pulumi/tls resources; each level renews before expiry through its RenewalSchedule.
 */
export class CertificateAuthority extends pulumi.ComponentResource implements CertificateIssuer {
    /** The issuing CA certificate (the intermediate when there is one). */
    readonly certPem: pulumi.Output<string>;
    /** The issuing CA private key (secret). */
    readonly keyPem: pulumi.Output<string>;
    /** CA certificates above a leaf: issuing CA first, root last. */
    readonly chainPem: pulumi.Output<string>;
    /** The root certificate. */
    readonly rootCertPem: pulumi.Output<string>;
    /** CA certificates between a leaf and the root: the intermediate, or "" without one. */
    readonly intermediatesPem: pulumi.Output<string>;
    /** The CA certificates nginx must trust to verify clients of this CA (intermediate and root). */
    readonly trustBundlePem: pulumi.Output<string>;
    /** SHA-256 of the issuing CA certificate (lower-case hex). */
    readonly fingerprintSha256: pulumi.Output<string>;
    /** notAfter of the issuing CA certificate (ISO-8601). */
    readonly notAfter: pulumi.Output<string>;
    /** renewAt of the issuing CA certificate (ISO-8601). */
    readonly renewAt: pulumi.Output<string>;
    /** `ssl_verify_depth` for leaves of this CA: 1 without an intermediate, 2 with one. */
    readonly verifyDepth: number;
    readonly validityMs: number;
    readonly renewalWindowMs: number;
    readonly keyAlgorithm: KeyAlgorithm;
    readonly displayName: string;
    /** The root level. */
    readonly root: CaLevel;
    /** The intermediate level, when requested. */
    readonly intermediate?: CaLevel;
    readonly settings: CertificateAuthoritySettings;

    constructor(name: string, args: CertificateAuthorityArgs, opts?: pulumi.ComponentResourceOptions) {
        const settings = resolveCertificateAuthorityArgs(args);
        super("mtls-nginx:pki:CertificateAuthority", name, {}, opts);
        this.settings = settings;
        for (const warning of settings.warnings) {
            pulumi.log.warn(warning, this);
        }

        const { subject } = settings;
        const rootKey = renewableKey(`${name}-root`, this, {
            keyAlgorithm: settings.root.keyAlgorithm,
            validityMs: settings.root.validityMs,
            policy: settings.root.policy,
            anchor: "self",
            generation: settings.root.generation,
        });
        const rootCert = new tls.SelfSignedCert(
            `${name}-root-cert`,
            {
                privateKeyPem: rootKey.key.privateKeyPem,
                subject: { commonName: settings.root.commonName, ...subject },
                validityPeriodHours: validityHours(settings.root.validityMs),
                isCaCertificate: true,
                allowedUses: CA_USES,
                setSubjectKeyId: true,
                setAuthorityKeyId: true,
            },
            rootKey.rotation,
        );
        const rootFacts = issuedFacts(rootCert.certPem, settings.root.policy);
        this.root = { key: rootKey.key, certPem: rootCert.certPem, facts: rootFacts.facts, renewAt: rootFacts.renewAt, settings: settings.root };

        if (settings.intermediate) {
            const level = settings.intermediate;
            const { key, cert, facts, renewAt } = signedCertificate(`${name}-intermediate`, this, {
                keyAlgorithm: level.keyAlgorithm,
                validityMs: level.validityMs,
                policy: level.policy,
                anchor: rootFacts.facts.fingerprintSha256,
                generation: level.generation,
                ca: { certPem: rootCert.certPem, keyPem: rootKey.key.privateKeyPem },
                subject: { commonName: level.commonName, ...subject },
                allowedUses: CA_USES,
                isCaCertificate: true,
                maxPathLength: 0,
            });
            this.intermediate = { key, certPem: cert.certPem, facts, renewAt, settings: level };
        }

        const issuing = this.intermediate ?? this.root;
        this.certPem = issuing.certPem;
        this.keyPem = pulumi.secret(issuing.key.privateKeyPem);
        this.rootCertPem = rootCert.certPem;
        this.chainPem = this.intermediate
            ? pulumi.all([this.intermediate.certPem, rootCert.certPem]).apply(([i, r]) => joinPem([i, r]))
            : rootCert.certPem.apply((r) => joinPem([r]));
        this.intermediatesPem = this.intermediate ? this.intermediate.certPem.apply((i) => joinPem([i])) : pulumi.output("");
        this.trustBundlePem = this.chainPem;
        this.fingerprintSha256 = issuing.facts.apply((f) => f.fingerprintSha256);
        this.notAfter = issuing.facts.apply((f) => f.notAfter);
        this.renewAt = issuing.renewAt;
        this.verifyDepth = this.intermediate ? 2 : 1;
        this.validityMs = issuing.settings.validityMs;
        this.renewalWindowMs = renewalWindowMs(issuing.settings.validityMs, issuing.settings.policy);
        this.keyAlgorithm = issuing.settings.keyAlgorithm;
        this.displayName = issuing.settings.commonName;

        this.registerOutputs({
            certPem: this.certPem,
            chainPem: this.chainPem,
            rootCertPem: this.rootCertPem,
            trustBundlePem: this.trustBundlePem,
            keyPem: this.keyPem,
            fingerprintSha256: this.fingerprintSha256,
            notAfter: this.notAfter,
            renewAt: this.renewAt,
            verifyDepth: this.verifyDepth,
        });
    }
}
