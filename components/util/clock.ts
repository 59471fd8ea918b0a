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

/** The engine setting that makes it skip providers' Diff (and with it every renewal and CRL refresh). */
export const LEGACY_DIFF_ENV = "PULUMI_ENABLE_LEGACY_DIFF";

/**
 * Warnings about the run's environment that affect renewal and revocation, for a resource to log
 * (pure: the caller logs them). The engine calls a provider's Diff to learn that a renewal or a CRL
 * refresh is due; with legacy diff, or for resources outside `--target`, it never asks.
 */
export function timeWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
    const warnings: string[] = [];
    const clock = env[CLOCK_ENV];
    if (clock) {
        warnings.push(
            `${CLOCK_ENV}=${clock} moves the clock for decisions (which renewals and CRL refreshes are due); what is signed is still dated at the real time. Unset it for ordinary runs.`,
        );
    }
    const legacy = env[LEGACY_DIFF_ENV];
    if (legacy && !/^(0|false)$/i.test(legacy)) {
        warnings.push(
            `${LEGACY_DIFF_ENV}=${legacy}: the engine does not ask providers whether anything changed, so no certificate is renewed and no CRL re-signed on this run, and CRLs expire (nginx then refuses every client). Unset it.`,
        );
    }
    return warnings;
}
