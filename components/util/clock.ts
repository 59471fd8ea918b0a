/**
 * The one place the program reads the time.
 *
 * `MTLS_NGINX_CLOCK` (an ISO-8601 instant) overrides it, so a user can ask
 * "what would rotate by then?" with `MTLS_NGINX_CLOCK=2027-03-01T00:00:00Z pulumi preview`,
 * and tests can move time. Components warn when the override is set.
 * The dynamic providers read the same variable (they cannot import this module:
 * they are serialized and must stay self-contained).
 */
export const CLOCK_ENV = "MTLS_NGINX_CLOCK";

export function now(): Date {
    const override = process.env[CLOCK_ENV];
    if (override) {
        const parsed = Date.parse(override);
        if (Number.isNaN(parsed)) {
            throw new Error(`${CLOCK_ENV}=${JSON.stringify(override)} is not an ISO-8601 time. Fix: unset it, or write e.g. 2027-03-01T00:00:00Z`);
        }
        return new Date(parsed);
    }
    return new Date();
}

/** The override, if one is set (for a warning at construction). */
export function clockOverride(): string | undefined {
    return process.env[CLOCK_ENV] || undefined;
}
