/**
 * Certificate validity and generation arguments, bounded (pure; the bounds are in components/util/limits.ts).
 */
import { now } from "../util/clock";
import { Duration, durationToHours, formatDuration, parseDuration } from "../util/duration";
import { InputError, showValue } from "../util/errors";
import { CERTIFICATE_VALIDITY, LATEST_NOT_AFTER } from "../util/limits";

/**
 * A certificate's validity in ms, in whole hours as @pulumi/tls signs it: at most 25 years, and ending by
 * 9999-12-31T23:59:59Z (the last time X.509 can state) when issued at `issuedAt`.
 */
export function resolveValidity(value: Duration, input: string, issuedAt: Date = now()): number {
    const validityMs = durationToHours(parseDuration(value, input, CERTIFICATE_VALIDITY)) * 3600_000;
    if (issuedAt.getTime() + validityMs > Date.parse(LATEST_NOT_AFTER)) {
        throw new InputError(
            input,
            `${formatDuration(validityMs)} from ${issuedAt.toISOString()} ends after ${LATEST_NOT_AFTER}, the last time a certificate can state (RFC 5280 GeneralizedTime)`,
            `use a validity that ends by ${LATEST_NOT_AFTER} (is ${"MTLS_NGINX_CLOCK"} set far ahead?)`,
        );
    }
    return validityMs;
}

/** A `generation` argument: a whole number from 0 (kept exactly in state: at most 2^53 - 1). */
export function validateGeneration(value: unknown, input: string): number {
    const generation = value ?? 0;
    if (typeof generation !== "number" || !Number.isSafeInteger(generation) || generation < 0) {
        throw new InputError(input, `${showValue(value)} is not a whole number from 0`, "use 0, then bump it by one to re-issue now");
    }
    return generation;
}
