/**
 * Validation shared by every leaf certificate (client and server): key algorithm, validity against
 * the issuer, renewal policy. Pure.
 */
import { RenewalPolicy, RenewalPolicyArgs, resolveRenewalPolicy } from "../renewal/policy";
import { Duration, formatDuration } from "../util/duration";
import { InputError, showValue } from "../util/errors";
import { KeyAlgorithm, validateKeyAlgorithm } from "./keyAlgorithm";
import { resolveValidity, validateGeneration } from "./validity";

export interface LeafSettings {
    keyAlgorithm: KeyAlgorithm;
    validityMs: number;
    policy: RenewalPolicy;
    generation: number;
    warnings: string[];
}

export interface IssuerLimits {
    displayName: string;
    validityMs?: number;
    renewalWindowMs?: number;
}

export function resolveLeafSettings(
    args: { keyAlgorithm?: KeyAlgorithm; validity?: Duration; renewal?: RenewalPolicyArgs; generation?: number },
    defaultValidity: Duration,
    issuer: IssuerLimits,
    input: string,
): LeafSettings {
    const validityMs = resolveValidity(args.validity ?? defaultValidity, `${input}.validity`);
    const warnings: string[] = [];
    if (issuer.validityMs !== undefined && validityMs > issuer.validityMs) {
        throw new InputError(
            `${input}.validity`,
            `${formatDuration(validityMs)} is longer than the validity of its issuer ${showValue(issuer.displayName)} (${formatDuration(issuer.validityMs)})`,
            "shorten the certificate's validity, or lengthen the CA's",
        );
    }
    if (issuer.renewalWindowMs !== undefined && validityMs > issuer.renewalWindowMs) {
        warnings.push(
            `${input}.validity (${formatDuration(validityMs)}) is longer than the renewal window of ${showValue(issuer.displayName)} (${formatDuration(issuer.renewalWindowMs)}): a certificate issued just before the CA renews can outlive the CA`,
        );
    }
    const generation = validateGeneration(args.generation, `${input}.generation`);
    return {
        keyAlgorithm: validateKeyAlgorithm(args.keyAlgorithm, `${input}.keyAlgorithm`),
        validityMs,
        policy: resolveRenewalPolicy(args.renewal, validityMs, `${input}.renewal`),
        generation,
        warnings,
    };
}
