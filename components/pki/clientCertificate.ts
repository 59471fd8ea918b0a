import * as pulumi from "@pulumi/pulumi";
import { RenewalPolicyArgs } from "../renewal/policy";
import { Duration } from "../util/duration";
import { InputError } from "../util/errors";
import { CertificateFacts, joinPem } from "./certInfo";
import { signedCertificate } from "./issuance";
import { CertificateIssuer } from "./issuer";
import { KeyAlgorithm } from "./keyAlgorithm";
import { IssuerLimits, LeafSettings, resolveLeafSettings } from "./leafSettings";
import { Pkcs12Bundle } from "./pkcs12/bundle";
import { Pkcs12Profile, usableFriendlyName } from "./pkcs12/pfx";
import { validatePkcs12FriendlyName, validatePkcs12Password, validatePkcs12Profile } from "./pkcs12/password";
import { validateCommonName, validateDnField, validateDnsNames, validateEmail, validateUris } from "./validation";

/** Client certificates last a year by default: re-importing a bundle into browsers is a chore, and renewal at 2/3 leaves four months to hand out the new one. */
export const DEFAULT_CLIENT_VALIDITY: Duration = "365d";

export interface Pkcs12Options {
    /**
     * `compat` (3DES + SHA-1 MAC: imports on macOS Keychain, iOS, Android, older Windows, Java 8) or
     * `modern` (PBES2 AES-256 + SHA-256 MAC).
     * @default "compat"
     */
    profile?: Pkcs12Profile;
    /**
     * Password of the bundle (a secret; printable ASCII). Without one a random password of
     * 24 alphanumerics (~143 bits) is generated and kept across renewals.
     * @default generated
     */
    password?: pulumi.Input<string>;
    /**
     * The name keychains and browsers show for the bundle: at most 64 characters, within the Basic
     * Multilingual Plane (a BMPString), no control or format characters.
     * @default the common name, without characters outside the Basic Multilingual Plane (e.g. emoji)
     */
    friendlyName?: string;
    /**
     * Also put the root CA certificate in the bundle (some importers want the whole chain).
     * @default false
     */
    includeRoot?: boolean;
}

export interface ClientCertificateArgs {
    /** The CA that signs the certificate (a `CertificateAuthority`, or your own `CertificateIssuer`). */
    issuer: CertificateIssuer;
    /** Subject common name (CN), at most 64 characters, e.g. "alice". */
    commonName: string;
    /**
     * Subject organization (O).
     * @default unset
     */
    organization?: string;
    /**
     * Subject organizational unit (OU).
     * @default unset
     */
    organizationalUnit?: string;
    /**
     * E-mail addresses, written as `mailto:` URI SANs. (@pulumi/tls cannot write rfc822Name SANs, and
     * its LocallySignedCert drops a subject emailAddress, so a URI is the one place an address survives.)
     * @default []
     */
    emailAddresses?: string[];
    /**
     * URI SANs, e.g. SPIFFE IDs.
     * @default []
     */
    uris?: string[];
    /**
     * DNS SANs (for machine clients).
     * @default []
     */
    dnsNames?: string[];
    /**
     * Key algorithm.
     * @default "ECDSA-P256"
     */
    keyAlgorithm?: KeyAlgorithm;
    /**
     * Validity of each certificate; must not exceed the issuer's.
     * @default "365d"
     */
    validity?: Duration;
    /**
     * When to renew.
     * @default at 2/3 of the lifetime, with a new key
     */
    renewal?: RenewalPolicyArgs;
    /**
     * Bump to re-issue now (e.g. after a lost laptop, together with revoking the old serial).
     * @default 0
     */
    generation?: number;
    /**
     * The PKCS#12 bundle for browsers and keychains; `false` to skip it.
     * @default { profile: "compat" }
     */
    pkcs12?: Pkcs12Options | false;
}

export interface ClientCertificateSettings extends LeafSettings {
    commonName: string;
    subject: { organization?: string; organizationalUnit?: string };
    uris: string[];
    dnsNames: string[];
    pkcs12?: { profile: Pkcs12Profile; friendlyName: string; includeRoot: boolean };
}

/** Validates a client's args against what is known of its issuer (validity limits), applying defaults. */
export function resolveClientCertificateArgs(args: Omit<ClientCertificateArgs, "issuer">, issuer: IssuerLimits | undefined, input = "client"): ClientCertificateSettings {
    if (!args || typeof args !== "object" || !issuer) {
        throw new InputError(`${input}.issuer`, "no issuer given", "pass the CertificateAuthority (or CertificateIssuer) that signs the certificate");
    }
    const commonName = validateCommonName(args.commonName, `${input}.commonName`);
    const leaf = resolveLeafSettings(args, DEFAULT_CLIENT_VALIDITY, issuer, input);
    if (args.emailAddresses !== undefined && !Array.isArray(args.emailAddresses)) {
        throw new InputError(`${input}.emailAddresses`, "not a list", 'use a list of addresses, e.g. ["alice@example.com"]');
    }
    const emails = (args.emailAddresses ?? []).map((e, i) => validateEmail(e, `${input}.emailAddresses[${i}]`)!);
    let pkcs12: ClientCertificateSettings["pkcs12"];
    if (args.pkcs12 !== false) {
        const p = args.pkcs12 ?? {};
        const profile = validatePkcs12Profile(p.profile ?? "compat", `${input}.pkcs12.profile`);
        if (typeof p.password === "string") {
            validatePkcs12Password(p.password, `${input}.pkcs12.password`);
        }
        const friendlyName =
            p.friendlyName === undefined
                ? usableFriendlyName(commonName) || "certificate"
                : validatePkcs12FriendlyName(validateDnField(p.friendlyName, `${input}.pkcs12.friendlyName`, "friendly name"), `${input}.pkcs12.friendlyName`);
        pkcs12 = { profile, friendlyName, includeRoot: p.includeRoot ?? false };
    }
    return {
        ...leaf,
        commonName,
        subject: {
            organization: validateDnField(args.organization, `${input}.organization`, "organization"),
            organizationalUnit: validateDnField(args.organizationalUnit, `${input}.organizationalUnit`, "organizational unit"),
        },
        uris: [...validateUris(args.uris, `${input}.uris`), ...emails.map((e) => `mailto:${e}`)],
        dnsNames: validateDnsNames(args.dnsNames, `${input}.dnsNames`),
        pkcs12,
    };
}

/**
 * A client certificate (extended key usage clientAuth only) signed by the issuer, renewed before
 * expiry, with its PKCS#12 bundle for browsers and keychains.
 */
export class ClientCertificate extends pulumi.ComponentResource {
    /** The client certificate (PEM). */
    readonly certPem: pulumi.Output<string>;
    /** The client private key (PEM, secret). */
    readonly keyPem: pulumi.Output<string>;
    /** CA certificates above the leaf, issuing CA first, root last. */
    readonly chainPem: pulumi.Output<string>;
    /** Facts read from the certificate; the getters below derive from it (lazily: a stack can hold thousands of clients). */
    readonly facts: pulumi.Output<CertificateFacts>;
    /** Leaf followed by the intermediates (no root): what a client presents. */
    get fullChainPem(): pulumi.Output<string> {
        return pulumi.all([this.certPem, this.intermediatesPem]).apply(([leaf, rest]) => joinPem([leaf, rest]));
    }
    /** Serial as nginx's `$ssl_client_serial` shows it (upper-case hex). */
    get serialHex(): pulumi.Output<string> {
        return this.facts.apply((f) => f.serialHex);
    }
    /** SHA-256 fingerprint (lower-case hex). */
    get fingerprintSha256(): pulumi.Output<string> {
        return this.facts.apply((f) => f.fingerprintSha256);
    }
    /** SHA-1 fingerprint, as nginx's `$ssl_client_fingerprint` shows it. */
    get fingerprintSha1(): pulumi.Output<string> {
        return this.facts.apply((f) => f.fingerprintSha1);
    }
    /** Subject DN, e.g. "CN=alice, O=Example". */
    get subject(): pulumi.Output<string> {
        return this.facts.apply((f) => f.subject);
    }
    get notBefore(): pulumi.Output<string> {
        return this.facts.apply((f) => f.notBefore);
    }
    get notAfter(): pulumi.Output<string> {
        return this.facts.apply((f) => f.notAfter);
    }
    /** When the certificate will be renewed, from its real notBefore/notAfter and the policy. */
    readonly renewAt: pulumi.Output<string>;
    /** PKCS#12 bundle, base64 (secret); undefined when pkcs12 is false. */
    readonly pkcs12Base64?: pulumi.Output<string>;
    /** Password of the PKCS#12 bundle (secret). */
    readonly pkcs12Password?: pulumi.Output<string>;
    readonly settings: ClientCertificateSettings;
    private readonly intermediatesPem: pulumi.Output<string>;

    constructor(name: string, args: ClientCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        const settings = resolveClientCertificateArgs(args, args?.issuer);
        super("mtls-nginx:pki:ClientCertificate", name, {}, opts);
        this.settings = settings;
        settings.warnings.forEach((w) => pulumi.log.warn(w, this));
        const issuer = args.issuer;

        const { key, cert, facts, renewAt } = signedCertificate(name, this, {
            keyAlgorithm: settings.keyAlgorithm,
            validityMs: settings.validityMs,
            policy: settings.policy,
            anchor: issuer.fingerprintSha256,
            generation: settings.generation,
            ca: issuer,
            subject: { commonName: settings.commonName, ...settings.subject },
            uris: settings.uris,
            dnsNames: settings.dnsNames,
            allowedUses: ["digital_signature", "client_auth"],
        });
        this.certPem = cert.certPem;
        this.keyPem = pulumi.secret(key.privateKeyPem);
        this.chainPem = issuer.chainPem;
        this.intermediatesPem = issuer.intermediatesPem;
        this.facts = facts;
        this.renewAt = renewAt;

        if (settings.pkcs12) {
            const p12 = settings.pkcs12;
            const bundleChain = p12.includeRoot ? issuer.chainPem : issuer.intermediatesPem;
            const bundle = new Pkcs12Bundle(
                `${name}-pkcs12`,
                {
                    privateKeyPem: key.privateKeyPem,
                    certificatePem: cert.certPem,
                    chainPem: bundleChain,
                    password: args.pkcs12 ? args.pkcs12.password : undefined,
                    profile: p12.profile,
                    friendlyName: p12.friendlyName,
                },
                { parent: this },
            );
            this.pkcs12Base64 = pulumi.secret(bundle.pfxBase64);
            this.pkcs12Password = pulumi.secret(bundle.password);
        }

        // Only what identifies the certificate: registering every derived value costs a stack of outputs per client.
        this.registerOutputs({ certPem: this.certPem, facts: this.facts, renewAt: this.renewAt });
    }
}
