import { InputError, showValue } from "./errors";
import { ANY_DURATION } from "./limits";

const UNIT_MS: Record<string, number> = {
    w: 7 * 24 * 3600_000,
    d: 24 * 3600_000,
    h: 3600_000,
    m: 60_000,
    s: 1000,
};

/** A duration as written in args and stack config: `"90d"`, `"2160h"`, `"1h30m"`, `"2w"`. */
export type Duration = string;

/** The accepted range of one duration argument (see components/util/limits.ts). */
export interface DurationBound {
    /** Longest accepted, in ms, and as users write it (`"9132d"`) and say it (`"25 years"`). */
    maxMs: number;
    max: Duration;
    maxLabel: string;
    /** Shortest accepted (default: anything positive). */
    minMs?: number;
    min?: Duration;
    /** What is bounded, e.g. "a certificate's validity". */
    what: string;
    /** Why the bound, for the fix. */
    why: string;
}

// Each term ends with a unit letter, which no digit matches: one way to match, linear time.
const DURATION_RE = /^(?:\d+(?:\.\d+)?[wdhms])+$/;

/**
 * Parses a duration string (units w, d, h, m, s; compound forms like `1h30m` allowed) into milliseconds.
 * Negative, empty, unit-less and out-of-range values (see `bound`, by default 25 years) are rejected with
 * an {@link InputError} naming `input`.
 */
export function parseDuration(value: unknown, input: string, bound: DurationBound = ANY_DURATION): number {
    if (typeof value !== "string" || !DURATION_RE.test(value.trim())) {
        const shown = showValue(value);
        const problem = typeof value === "string" && value.trim().startsWith("-") ? `negative duration ${shown}` : `${shown} is not a duration`;
        throw new InputError(input, problem, `write a positive duration with units w, d, h, m or s, e.g. "90d", "2160h" or "1h30m"`);
    }
    let total = 0;
    for (const match of value.trim().matchAll(/(\d+(?:\.\d+)?)([wdhms])/g)) {
        total += Number(match[1]) * UNIT_MS[match[2]];
    }
    if (total <= 0) {
        throw new InputError(input, `duration ${showValue(value)} is zero`, "use a positive duration");
    }
    // Also catches totals too large for a number (Infinity): digits are unbounded in the syntax.
    if (!(total <= bound.maxMs)) {
        throw new InputError(input, `${showValue(value)} is longer than ${bound.max} (${bound.maxLabel}), the longest ${bound.what} may be`, `use at most "${bound.max}": ${bound.why}`);
    }
    if (bound.minMs !== undefined && total < bound.minMs) {
        throw new InputError(input, `${showValue(value)} is shorter than ${bound.min}, the shortest ${bound.what} may be`, `use at least "${bound.min}": ${bound.why}`);
    }
    return total;
}

/** Whole hours in a duration, as @pulumi/tls's `validityPeriodHours` wants them (rounded up). */
export function durationToHours(ms: number): number {
    return Math.ceil(ms / 3600_000);
}

/** Formats milliseconds as a short human duration (`"59d 23h"`, `"3h 5m"`), for messages. */
export function formatDuration(ms: number): string {
    if (!Number.isFinite(ms)) return Number.isNaN(ms) ? "an undefined time" : ms > 0 ? "forever" : "-forever";
    const negative = ms < 0;
    let rest = Math.abs(ms);
    const days = Math.floor(rest / UNIT_MS.d);
    rest -= days * UNIT_MS.d;
    const hours = Math.floor(rest / UNIT_MS.h);
    rest -= hours * UNIT_MS.h;
    const minutes = Math.floor(rest / UNIT_MS.m);
    const parts = days > 0 ? [`${days}d`, `${hours}h`] : hours > 0 ? [`${hours}h`, `${minutes}m`] : [`${minutes}m`];
    return (negative ? "-" : "") + parts.join(" ");
}
