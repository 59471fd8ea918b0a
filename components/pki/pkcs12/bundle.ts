/**
 * Pkcs12Bundle: a PKCS#12 (.p12/.pfx) file for browsers, keychains and Java keystores, built by a
 * dynamic provider (see provider.ts) from a key, its certificate and the CA chain.
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, throwIfAny } from "../../util/errors";
import { DEFAULT_PKCS12_PROFILE, defaultFriendlyName, Pkcs12Profile } from "./pfx";
import { validatePkcs12FriendlyName, validatePkcs12Password, validatePkcs12Profile } from "./password";
import { pkcs12Provider } from "./provider";

export interface Pkcs12BundleArgs {
    /**
     * The leaf's private key, PEM: PKCS#1, SEC1 or PKCS#8, unencrypted (e.g. `tls.PrivateKey.privateKeyPem`).
     * Wrapped in `pulumi.secret`; only a digest of it is kept in the resource's outputs.
     * @default none (required)
     */
    privateKeyPem: pulumi.Input<string>;
    /**
     * The leaf certificate, PEM (one certificate). Must match `privateKeyPem`.
     * @default none (required)
     */
    certificatePem: pulumi.Input<string>;
    /**
     * CA certificates to include, concatenated PEM, the leaf's issuer first, then its issuer, and so on
     * (each must have issued the one before it). Include the root only if importers need it.
     * @default "" (no chain)
     */
    chainPem?: pulumi.Input<string>;
    /**
     * Password of the bundle: non-empty printable ASCII. Wrapped in `pulumi.secret`.
     * When omitted, a random 24-character alphanumeric password (≈ 143 bits) is generated at creation
     * and kept across updates (key rotation, chain or profile changes), so users keep one password.
     * @default generated
     */
    password?: pulumi.Input<string>;
    /**
     * Protection profile: `"compat"` (3DES key and certificate bags, HMAC-SHA1 MAC, 2048 iterations; imports
     * on macOS Keychain, iOS, Android, older Windows and Java 8) or `"modern"` (PBES2 PBKDF2-HMAC-SHA256 +
     * AES-256-CBC, HMAC-SHA256 MAC, 10,000 iterations; OpenSSL 3, NSS, Java 8u301/11.0.12+, current Windows).
     * @default "compat"
     */
    profile?: pulumi.Input<Pkcs12Profile>;
    /**
     * friendlyName of the key and certificate: the alias keytool shows (lower-cased), the NSS nickname,
     * the label in keychains and certificate pickers.
     * @default the decoded value of the certificate's subject CN (without characters importers refuse, at most 64)
     */
    friendlyName?: pulumi.Input<string>;
}

/**
 * A PKCS#12 bundle of a key, its certificate and CA chain, rebuilt (in place, never replaced) when any
 * input changes. `pfxBase64` and `password` are secret outputs.
 */
export class Pkcs12Bundle extends pulumi.dynamic.Resource {
    /** The PKCS#12 file (DER), base64. Secret. */
    declare public readonly pfxBase64: pulumi.Output<string>;
    /** The password of the file: the supplied one, or the generated one. Secret. */
    declare public readonly password: pulumi.Output<string>;
    /** SHA-256 of the leaf certificate DER, lower-case hex (which certificate the bundle holds). */
    declare public readonly certificateSha256: pulumi.Output<string>;
    /** The profile the bundle was built with. */
    declare public readonly profile: pulumi.Output<Pkcs12Profile>;
    /** The friendlyName in the bundle (the supplied one, or the certificate's CN). */
    declare public readonly friendlyName: pulumi.Output<string>;

    constructor(name: string, args: Pkcs12BundleArgs, opts?: pulumi.CustomResourceOptions) {
        validatePlainArgs(args);
        super(
            pkcs12Provider,
            name,
            {
                privateKeyPem: pulumi.secret(args.privateKeyPem),
                certificatePem: args.certificatePem,
                chainPem: args.chainPem ?? "",
                password: args.password === undefined ? undefined : pulumi.secret(args.password),
                profile: args.profile ?? DEFAULT_PKCS12_PROFILE,
                friendlyName: args.friendlyName,
                // Outputs only the provider sets.
                pfxBase64: undefined,
                certificateSha256: undefined,
                passwordGenerated: undefined,
                digest: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["pfxBase64", "password"] }),
            "pki",
            "Pkcs12Bundle",
        );
    }
}

/** Validates the arguments that are plain values now (Outputs are checked by the provider's `check`). */
function validatePlainArgs(args: Pkcs12BundleArgs): void {
    const errors: InputError[] = [];
    const attempt = (fn: () => void) => {
        try {
            fn();
        } catch (e) {
            if (!(e instanceof InputError)) throw e;
            errors.push(e);
        }
    };
    const plain = (value: unknown) => value !== undefined && !pulumi.Output.isInstance(value) && !(value instanceof Promise);
    if (plain(args.profile)) attempt(() => validatePkcs12Profile(args.profile, "profile"));
    if (plain(args.password)) attempt(() => validatePkcs12Password(args.password, "password"));
    if (plain(args.friendlyName)) attempt(() => validatePkcs12FriendlyName(args.friendlyName, "friendlyName"));
    else if (args.friendlyName === undefined && plain(args.certificatePem) && args.certificatePem !== "") {
        // The default comes from the certificate: a known certificate is judged now, before anything is registered.
        attempt(() => validatePkcs12FriendlyName(defaultFriendlyName(args.certificatePem as string), "friendlyName"));
    }
    for (const field of ["privateKeyPem", "certificatePem"] as const) {
        if (args[field] === undefined || args[field] === null || args[field] === "") {
            errors.push(new InputError(field, "is required", `pass the ${field === "privateKeyPem" ? "private key" : "certificate"} PEM (an Output is fine)`));
        }
    }
    throwIfAny(errors);
}
