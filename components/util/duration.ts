import { InputError } from "./errors";

const UNIT_MS: Record<string, number> = {
    w: 7 * 24 * 3600_000,
    d: 24 * 3600_000,
    h: 3600_000,
    m: 60_000,
    s: 1000,
};

/** A duration as written in args and stack config: `"90d"`, `"2160h"`, `"1h30m"`, `"2w"`. */
export type Duration = string;

const DURATION_RE = /^(?:\d+(?:\.\d+)?[wdhms])+$/;

/**
 * Parses a duration string (units w, d, h, m, s; compound forms like `1h30m` allowed)
 * into milliseconds. Negative, empty and unit-less values are rejected with an
 * {@link InputError} naming `input`.
 */
export function parseDuration(value: unknown, input: string): number {
    if (typeof value !== "string" || !DURATION_RE.test(value.trim())) {
        const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
        const problem = typeof value === "string" && value.trim().startsWith("-") ? `negative duration ${shown}` : `${shown} is not a duration`;
        throw new InputError(input, problem, `write a positive duration with units w, d, h, m or s, e.g. "90d", "2160h" or "1h30m"`);
    }
    let total = 0;
    for (const match of value.trim().matchAll(/(\d+(?:\.\d+)?)([wdhms])/g)) {
        total += Number(match[1]) * UNIT_MS[match[2]];
    }
    if (total <= 0) {
        throw new InputError(input, `duration ${JSON.stringify(value)} is zero`, "use a positive duration");
    }
    return total;
}

/** Whole hours in a duration, as @pulumi/tls's `validityPeriodHours` wants them (rounded up). */
export function durationToHours(ms: number): number {
    return Math.ceil(ms / 3600_000);
}

/** Formats milliseconds as a short human duration (`"59d 23h"`, `"3h 5m"`), for messages. */
export function formatDuration(ms: number): string {
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
