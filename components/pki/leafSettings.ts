/**
 * Validation shared by every leaf certificate (client and server): key algorithm, validity against
 * the issuer, renewal policy. Pure.
 */
import { RenewalPolicy, RenewalPolicyArgs, resolveRenewalPolicy } from "../renewal/policy";
import { Duration, formatDuration, parseDuration } from "../util/duration";
import { InputError } from "../util/errors";
import { validityHours } from "./issuance";
import { KeyAlgorithm, validateKeyAlgorithm } from "./keyAlgorithm";

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
    const validityMs = validityHours(parseDuration(args.validity ?? defaultValidity, `${input}.validity`)) * 3600_000;
    const warnings: string[] = [];
    if (issuer.validityMs !== undefined && validityMs > issuer.validityMs) {
        throw new InputError(
            `${input}.validity`,
            `${formatDuration(validityMs)} is longer than the validity of its issuer ${JSON.stringify(issuer.displayName)} (${formatDuration(issuer.validityMs)})`,
            "shorten the certificate's validity, or lengthen the CA's",
        );
    }
    if (issuer.renewalWindowMs !== undefined && validityMs > issuer.renewalWindowMs) {
        warnings.push(
            `${input}.validity (${formatDuration(validityMs)}) is longer than the renewal window of ${JSON.stringify(issuer.displayName)} (${formatDuration(issuer.renewalWindowMs)}): a certificate issued just before the CA renews can outlive the CA`,
        );
    }
    const generation = args.generation ?? 0;
    if (!Number.isInteger(generation) || generation < 0) {
        throw new InputError(`${input}.generation`, `${JSON.stringify(args.generation)} is not a non-negative integer`, "use 0, then bump it by one to re-issue now");
    }
    return {
        keyAlgorithm: validateKeyAlgorithm(args.keyAlgorithm, `${input}.keyAlgorithm`),
        validityMs,
        policy: resolveRenewalPolicy(args.renewal, validityMs, `${input}.renewal`),
        generation,
        warnings,
    };
}
