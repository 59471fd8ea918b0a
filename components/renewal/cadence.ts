/**
 * The cadence check: a team states how often `pulumi up` runs (a nightly CI job by default), and
 * we warn at preview time when one missed run could let a certificate or a CRL lapse.
 *
 * Renewal only happens during a run. With runs every `cadence`, the first run after `actAt`
 * (renewAt for a certificate, refreshAt for a CRL) acts at most one cadence later, or two if a
 * run is missed. So the deadline (notAfter, nextUpdate) must lie at least two cadences after
 * actAt; and a deadline that has already passed means clients are being refused right now.
 */
import { formatDuration } from "../util/duration";

export interface CadenceSubject {
    kind: "certificate" | "crl";
    /** Name shown to the user, e.g. `client alice` or `CRL of Example Root CA`. */
    name: string;
    /** When we act: renewAt (certificate) or refreshAt (CRL). */
    actAt: Date;
    /** When it is too late: notAfter (certificate) or nextUpdate (CRL). */
    deadline: Date;
}

export interface CadenceFinding {
    subject: string;
    message: string;
}

/** Findings for subjects against `now` and a run cadence; empty when every run can afford to be missed once. */
export function cadenceFindings(subjects: ReadonlyArray<CadenceSubject>, now: Date, cadenceMs: number): CadenceFinding[] {
    const findings: CadenceFinding[] = [];
    const twoRuns = 2 * cadenceMs;
    for (const s of subjects) {
        const what = s.kind === "certificate" ? { act: "renewal", deadline: "notAfter" } : { act: "re-signing", deadline: "nextUpdate" };
        const window = s.deadline.getTime() - s.actAt.getTime();
        if (s.deadline.getTime() <= now.getTime()) {
            findings.push({
                subject: s.name,
                message: `${s.name}: ${what.deadline} ${s.deadline.toISOString()} has passed; clients are refused until this update completes`,
            });
            continue;
        }
        if (window < twoRuns) {
            findings.push({
                subject: s.name,
                message:
                    `${s.name}: only ${formatDuration(window)} between ${what.act} (${s.actAt.toISOString()}) and ${what.deadline} (${s.deadline.toISOString()}), ` +
                    `less than two runs at the stated cadence of ${formatDuration(cadenceMs)}; one missed run would let it lapse. ` +
                    `Fix: renew earlier (a window of at least ${formatDuration(twoRuns)}) or run \`pulumi up\` more often`,
            });
        }
    }
    return findings;
}
