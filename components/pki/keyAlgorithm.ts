import { InputError, showValue } from "../util/errors";

/**
 * Key algorithms the components issue. ECDSA P-256 is the default: small, fast, and accepted by
 * every browser, OS keychain, Java and NSS. Note that @pulumi/tls itself defaults ECDSA to P224,
 * which browsers reject, so the curve is always set explicitly.
 */
export const KEY_ALGORITHMS = ["ECDSA-P256", "ECDSA-P384", "RSA-2048", "RSA-3072", "RSA-4096"] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = "ECDSA-P256";

/** Arguments for `tls.PrivateKey`. */
export interface TlsPrivateKeyArgs {
    algorithm: "ECDSA" | "RSA";
    ecdsaCurve?: "P256" | "P384";
    rsaBits?: number;
}

export function validateKeyAlgorithm(value: unknown, input: string): KeyAlgorithm {
    if (value === undefined) {
        return DEFAULT_KEY_ALGORITHM;
    }
    if (typeof value === "string" && (KEY_ALGORITHMS as readonly string[]).includes(value)) {
        return value as KeyAlgorithm;
    }
    throw new InputError(input, `unknown key algorithm ${showValue(value)}`, `use one of ${KEY_ALGORITHMS.join(", ")} (default ${DEFAULT_KEY_ALGORITHM})`);
}

export function privateKeyArgs(algorithm: KeyAlgorithm): TlsPrivateKeyArgs {
    switch (algorithm) {
        case "ECDSA-P256":
            return { algorithm: "ECDSA", ecdsaCurve: "P256" };
        case "ECDSA-P384":
            return { algorithm: "ECDSA", ecdsaCurve: "P384" };
        case "RSA-2048":
            return { algorithm: "RSA", rsaBits: 2048 };
        case "RSA-3072":
            return { algorithm: "RSA", rsaBits: 3072 };
        case "RSA-4096":
            return { algorithm: "RSA", rsaBits: 4096 };
    }
}
