/**
 * Renewal math, as in cert-manager: the time to renew is a pure function of the certificate's
 * notBefore, notAfter and a policy. Default: renew once 2/3 of the lifetime has passed.
 */
import { Duration, formatDuration, parseDuration } from "../util/duration";
import { InputError, showValue } from "../util/errors";

/** How early to renew: at most one of the two; neither means "at 2/3 of the lifetime". */
export interface RenewalPolicyArgs {
    /**
     * Renew this long before notAfter, e.g. `"30d"`. Must be shorter than the validity.
     * @default unset (renew at 2/3 of the lifetime)
     */
    renewBefore?: Duration;
    /**
     * Renew when this percentage of the lifetime remains, in (0, 100), e.g. `25`.
     * @default unset (renew at 2/3 of the lifetime, i.e. 33.3% remaining)
     */
    renewBeforePercentage?: number;
    /**
     * Whether a renewal also makes a new private key. `"always"` is the safe default;
     * `"never"` keeps the key (e.g. when the public key is pinned elsewhere).
     * @default "always"
     */
    keyRotation?: "always" | "never";
}

/** A validated policy: exactly one way of computing renewAt. */
export type RenewalPolicy =
    | { kind: "fraction"; remainingFraction: number; keyRotation: "always" | "never" }
    | { kind: "duration"; renewBeforeMs: number; keyRotation: "always" | "never" };

export const DEFAULT_REMAINING_FRACTION = 1 / 3;

/**
 * Validates a policy against the certificate's validity. Errors name `input` and say how to fix:
 * both fields set, a percentage outside (0, 100), a negative or malformed duration, or a
 * renewBefore that is not shorter than the validity (which would renew on every run).
 */
export function resolveRenewalPolicy(args: RenewalPolicyArgs | undefined, validityMs: number, input: string): RenewalPolicy {
    const keyRotation = args?.keyRotation ?? "always";
    if (keyRotation !== "always" && keyRotation !== "never") {
        throw new InputError(`${input}.keyRotation`, `unknown value ${showValue(keyRotation)}`, `use "always" (default) or "never"`);
    }
    if (args?.renewBefore !== undefined && args?.renewBeforePercentage !== undefined) {
        throw new InputError(input, "both renewBefore and renewBeforePercentage are set", "set only one of them");
    }
    if (args?.renewBeforePercentage !== undefined) {
        const pct = args.renewBeforePercentage;
        if (typeof pct !== "number" || !Number.isFinite(pct) || pct <= 0 || pct >= 100) {
            throw new InputError(`${input}.renewBeforePercentage`, `${showValue(pct)} is outside (0, 100)`, "use a percentage of the lifetime strictly between 0 and 100, e.g. 33");
        }
        return { kind: "fraction", remainingFraction: pct / 100, keyRotation };
    }
    if (args?.renewBefore !== undefined) {
        const renewBeforeMs = parseDuration(args.renewBefore, `${input}.renewBefore`);
        if (renewBeforeMs >= validityMs) {
            throw new InputError(
                `${input}.renewBefore`,
                `${args.renewBefore} is not shorter than the validity (${formatDuration(validityMs)}), so the certificate would be renewed on every run`,
                "use a renewBefore shorter than the validity (e.g. a third of it), or a longer validity",
            );
        }
        return { kind: "duration", renewBeforeMs, keyRotation };
    }
    return { kind: "fraction", remainingFraction: DEFAULT_REMAINING_FRACTION, keyRotation };
}

/** When to renew a certificate valid from notBefore to notAfter. */
export function renewAt(notBefore: Date, notAfter: Date, policy: RenewalPolicy): Date {
    const lifetime = notAfter.getTime() - notBefore.getTime();
    const before = policy.kind === "duration" ? Math.min(policy.renewBeforeMs, lifetime) : lifetime * policy.remainingFraction;
    // Whole seconds, rounded down: renewing a fraction of a second early is harmless, late is not.
    return new Date(Math.floor((notAfter.getTime() - before) / 1000) * 1000);
}

/** True when a renewal is due: at or after renewAt (also after notAfter). */
export function isRenewalDue(now: Date, renewAtTime: Date): boolean {
    return now.getTime() >= renewAtTime.getTime();
}

/** Length of the window between renewAt and notAfter: how long a missed run can be tolerated. */
export function renewalWindowMs(validityMs: number, policy: RenewalPolicy): number {
    return policy.kind === "duration" ? Math.min(policy.renewBeforeMs, validityMs) : validityMs * policy.remainingFraction;
}
