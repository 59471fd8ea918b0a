/**
 * Upper (and lower) bounds on the durations arguments take, with the reason a PKI engineer would give.
 * Key sizes are bounded by the key algorithm list (components/pki/keyAlgorithm.ts: RSA at most 4096 bits).
 * Pure; README lists these bounds.
 */
import type { DurationBound } from "./duration";

export const HOUR_MS = 3600_000;
export const DAY_MS = 24 * HOUR_MS;

/**
 * Any certificate, a root CA's included: at most 25 years (9132 days, leap days counted). Public roots are
 * issued for 20 to 25 years; a CA that must outlive that is renewed (the old one stays trusted until what
 * it issued has expired), not stretched. Leaves are further bounded by their issuer's validity.
 */
export const CERTIFICATE_VALIDITY: DurationBound = {
    maxMs: 9132 * DAY_MS,
    max: "9132d",
    maxLabel: "25 years",
    what: "a certificate's validity",
    why: "no certificate here is valid for more than 25 years (public root CAs are issued for 20 to 25); renew a CA rather than stretch it",
};

/** Any other duration (e.g. renewal.renewBefore): never longer than the longest certificate. */
export const ANY_DURATION: DurationBound = { ...CERTIFICATE_VALIDITY, what: "a duration", why: "no duration here is longer than the longest certificate validity (25 years)" };

/**
 * A CRL's validity (nextUpdate - thisUpdate): from an hour (it must outlive the time between two runs)
 * to a year (366 days), the CA/Browser Forum's limit even for a root's CRL; nginx keeps accepting a stale
 * CRL that long when `pulumi up` stops running.
 */
export const CRL_VALIDITY: DurationBound = {
    minMs: HOUR_MS,
    min: "1h",
    maxMs: 366 * DAY_MS,
    max: "366d",
    maxLabel: "a year",
    what: "a CRL's validity",
    why: 'CRLs are published for days (default "7d"); the CA/Browser Forum allows at most 12 months even for a root\'s CRL, and nginx accepts a stale CRL until its nextUpdate',
};

/** How often `pulumi up` runs: at most yearly, since no CRL here lives longer and each must be re-signed in time. */
export const CADENCE: DurationBound = {
    maxMs: 366 * DAY_MS,
    max: "366d",
    maxLabel: "a year",
    what: "the run cadence",
    why: "CRLs live at most a year and must be re-signed before they expire, so pulumi up has to run at least that often (a nightly job: \"24h\")",
};

/** The last instant a certificate can state (RFC 5280 §4.1.2.5: GeneralizedTime 99991231235959Z). */
export const LATEST_NOT_AFTER = "9999-12-31T23:59:59Z";
