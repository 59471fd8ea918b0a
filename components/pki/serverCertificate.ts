import * as pulumi from "@pulumi/pulumi";
import { RenewalPolicyArgs } from "../renewal/policy";
import { Duration } from "../util/duration";
import { InputError } from "../util/errors";
import { CertificateFacts, certificateFacts, joinPem, splitCertificates } from "./certInfo";
import { signedCertificate } from "./issuance";
import { CertificateIssuer } from "./issuer";
import { KeyAlgorithm } from "./keyAlgorithm";
import { IssuerLimits, LeafSettings, resolveLeafSettings } from "./leafSettings";
import { validateCommonName, validateDnsNames, validateIpAddresses } from "./validation";

/** Server certificates are installed by machine, so they can be short-lived: 90 days, renewed after 60. */
export const DEFAULT_SERVER_VALIDITY: Duration = "90d";

/** What an nginx site needs to present itself; both issued and brought certificates provide it. */
export interface ServerTlsMaterial {
    /** Leaf followed by intermediates (no root): nginx's `ssl_certificate`. */
    readonly fullChainPem: pulumi.Output<string>;
    /** Private key (secret): nginx's `ssl_certificate_key`. */
    readonly keyPem: pulumi.Output<string>;
    readonly fingerprintSha256: pulumi.Output<string>;
    readonly notAfter: pulumi.Output<string>;
    /** When our components renew it; undefined for a brought certificate (renewed by its owner, e.g. certbot). */
    readonly renewAt?: pulumi.Output<string>;
}

export interface ServerCertificateArgs {
    /** The CA that signs the server certificate. */
    issuer: CertificateIssuer;
    /** DNS names (SANs) the site answers to, e.g. ["localhost"]. At least one DNS name or IP. */
    dnsNames?: string[];
    /**
     * IP addresses (SANs), e.g. ["127.0.0.1"].
     * @default []
     */
    ipAddresses?: string[];
    /**
     * Subject common name.
     * @default the first DNS name, else the first IP address
     */
    commonName?: string;
    /**
     * Key algorithm.
     * @default "ECDSA-P256"
     */
    keyAlgorithm?: KeyAlgorithm;
    /**
     * Validity of each certificate.
     * @default "90d"
     */
    validity?: Duration;
    /**
     * When to renew.
     * @default at 2/3 of the lifetime, with a new key
     */
    renewal?: RenewalPolicyArgs;
    /**
     * Bump to re-issue now.
     * @default 0
     */
    generation?: number;
}

export interface ServerCertificateSettings extends LeafSettings {
    commonName: string;
    dnsNames: string[];
    ipAddresses: string[];
}

/** Validates a server certificate's args against what is known of its issuer, applying defaults. */
export function resolveServerCertificateArgs(args: Omit<ServerCertificateArgs, "issuer">, issuer: IssuerLimits | undefined, input = "server"): ServerCertificateSettings {
    if (!args || typeof args !== "object" || !issuer) {
        throw new InputError(`${input}.issuer`, "no issuer given", "pass the CertificateAuthority that signs the server certificate");
    }
    const dnsNames = validateDnsNames(args.dnsNames, `${input}.dnsNames`);
    const ipAddresses = validateIpAddresses(args.ipAddresses, `${input}.ipAddresses`);
    if (dnsNames.length + ipAddresses.length === 0) {
        throw new InputError(input, "no DNS name or IP address", 'give dnsNames (e.g. ["mtls.example.com"]) or ipAddresses; clients check the server certificate against them');
    }
    const commonName = validateCommonName(args.commonName ?? dnsNames[0] ?? ipAddresses[0], `${input}.commonName`);
    return { ...resolveLeafSettings(args, DEFAULT_SERVER_VALIDITY, issuer, input), commonName, dnsNames, ipAddresses };
}

/** A server certificate (serverAuth) issued by the CA for the given names, renewed before expiry. */
export class ServerCertificate extends pulumi.ComponentResource implements ServerTlsMaterial {
    readonly certPem: pulumi.Output<string>;
    readonly fullChainPem: pulumi.Output<string>;
    readonly keyPem: pulumi.Output<string>;
    readonly fingerprintSha256: pulumi.Output<string>;
    readonly serialHex: pulumi.Output<string>;
    readonly notBefore: pulumi.Output<string>;
    readonly notAfter: pulumi.Output<string>;
    readonly renewAt: pulumi.Output<string>;
    /** Facts read from the certificate. */
    readonly facts: pulumi.Output<CertificateFacts>;
    readonly settings: ServerCertificateSettings;

    constructor(name: string, args: ServerCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
        const settings = resolveServerCertificateArgs(args, args?.issuer);
        super("mtls-nginx:pki:ServerCertificate", name, {}, opts);
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
            subject: { commonName: settings.commonName },
            dnsNames: settings.dnsNames,
            ipAddresses: settings.ipAddresses,
            // RSA keys also get keyEncipherment, for clients that still check it.
            allowedUses: settings.keyAlgorithm.startsWith("RSA") ? ["digital_signature", "key_encipherment", "server_auth"] : ["digital_signature", "server_auth"],
        });
        this.certPem = cert.certPem;
        this.keyPem = pulumi.secret(key.privateKeyPem);
        this.fullChainPem = pulumi.all([cert.certPem, issuer.intermediatesPem]).apply(([leaf, rest]) => joinPem([leaf, rest]));
        this.facts = facts;
        this.fingerprintSha256 = facts.apply((f) => f.fingerprintSha256);
        this.serialHex = facts.apply((f) => f.serialHex);
        this.notBefore = facts.apply((f) => f.notBefore);
        this.notAfter = facts.apply((f) => f.notAfter);
        this.renewAt = renewAt;
        this.registerOutputs({
            certPem: this.certPem,
            fullChainPem: this.fullChainPem,
            keyPem: this.keyPem,
            fingerprintSha256: this.fingerprintSha256,
            notAfter: this.notAfter,
            renewAt: this.renewAt,
        });
    }
}

export interface ProvidedServerCertificateArgs {
    /** Certificate followed by its intermediates, e.g. certbot's fullchain.pem. */
    certificatePem: pulumi.Input<string>;
    /** Its private key, e.g. certbot's privkey.pem; set it with `pulumi config set --secret`. */
    privateKeyPem: pulumi.Input<string>;
}

/**
 * A server certificate the user brings (Let's Encrypt via certbot, an ACME provider, a corporate CA).
 * Plain values are checked now; the key is kept secret.
 */
export function providedServerCertificate(args: ProvidedServerCertificateArgs, input = "serverCertificate"): ServerTlsMaterial {
    if (typeof args.certificatePem === "string" && splitCertificates(args.certificatePem).length === 0) {
        throw new InputError(`${input}.certificatePem`, "no PEM certificate found", "paste the full chain (-----BEGIN CERTIFICATE----- ...), e.g. certbot's fullchain.pem");
    }
    if (typeof args.privateKeyPem === "string" && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(args.privateKeyPem)) {
        throw new InputError(`${input}.privateKeyPem`, "no PEM private key found", "paste the PEM private key (its BEGIN ... PRIVATE KEY line included), e.g. certbot's privkey.pem, with `pulumi config set --secret`");
    }
    const fullChainPem = pulumi.output(args.certificatePem).apply((pem) => joinPem(splitCertificates(pem)));
    const facts = fullChainPem.apply(certificateFacts);
    return {
        fullChainPem,
        keyPem: pulumi.secret(args.privateKeyPem),
        fingerprintSha256: facts.apply((f) => f.fingerprintSha256),
        notAfter: facts.apply((f) => f.notAfter),
    };
}
