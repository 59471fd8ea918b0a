/**
 * Per-host facts of a fleet (pure): what a host's install and gate printed, read back into values.
 *
 * A host's install command is the install script (install.ts) run through {@link fleetInstallCommand}:
 * after a successful run it prints `mtls-nginx-fleet: host <key> installed at <epoch ms>` (the host's
 * clock), after a failed one a line naming the host and saying the rollout stopped there. With the
 * script's own summary line (`mtls-nginx: site ...: release ... is live (...)`) that gives the facts of
 * {@link InstallFacts}; the gate's `mtls-nginx-gate {json}` line gives {@link GateFacts}.
 */
import { shQuote, shWrap } from "../nginx/shell";

/** Timings the install script reports, in milliseconds. */
export interface InstallTimings {
    /** Reading and checking the payload from stdin (includes its transfer over SSH). */
    decode?: number;
    /** nginx -t of the new release in its full context (and the swap). */
    test?: number;
    /** The reload (or the start of a dedicated instance; 0 when nothing had to change). */
    reload?: number;
    /** Until the new release was confirmed served. */
    live?: number;
    /** The whole script. */
    total?: number;
}

/** What one host's last install said. */
export interface InstallFacts {
    /** The host's key (its `name`). */
    host: string;
    /** The release the host serves. */
    releaseId?: string;
    /** `reload`, `start`, or `none` (already served: nothing changed). */
    action?: string;
    /** The release kept for rollback (`none` for a first install). */
    previousRelease?: string;
    /** nginx's version on the host. */
    nginxVersion?: string;
    /** SHA-256 of the certificate the host serves (lower-case hex). */
    fingerprintSha256?: string;
    /** When the install finished (ISO-8601, the host's clock). */
    installedAt?: string;
    /** When the install script started (installedAt minus its total time). */
    startedAt?: string;
    ms: InstallTimings;
}

/** What a host's gate said (the probe's line). */
export interface GateFacts {
    host: string;
    ok: boolean;
    /** What was requested. */
    url?: string;
    status?: number;
    /** The X-Mtls-Release header of the answer. */
    release?: string;
    fingerprintSha256?: string;
    attempts?: number;
    /** Time spent probing. */
    ms?: number;
    /** When the probe's node process started, its first request, and when it passed (ISO-8601, the Pulumi machine's clock). */
    processStartedAt?: string;
    startedAt?: string;
    checkedAt?: string;
}

/** A host's facts, as the component outputs them. */
export interface HostFacts extends InstallFacts {
    /** The gate's result (undefined without a gate). */
    gate?: GateFacts;
}

const STAMP_PREFIX = "mtls-nginx-fleet: host ";

/** The install summary line's fields (install.sh prints one line; unknown parts are ignored). */
export function parseInstallSummary(stdout: string, host: string): InstallFacts {
    const facts: InstallFacts = { host, ms: {} };
    const lines = (stdout ?? "").split("\n");
    const summary = [...lines].reverse().find((l) => /^mtls-nginx: site \S+: release \S+ is live/.test(l));
    if (summary) {
        const m = (re: RegExp) => re.exec(summary)?.[1];
        facts.releaseId = m(/: release ([0-9A-Za-z._-]+) is live/);
        facts.action = m(/ is live \(([a-z]+)[;)]/);
        facts.previousRelease = m(/; previous: ([0-9A-Za-z._-]+)/);
        facts.nginxVersion = m(/\); nginx ([^\s;(]+)/);
        facts.fingerprintSha256 = m(/; certificate sha256 ([0-9a-fA-F]{64})/)?.toLowerCase();
        const timings = /; ms: ([^;]*)/.exec(summary)?.[1] ?? "";
        for (const part of timings.split(",")) {
            const [name, value] = part.trim().split(/\s+/);
            const n = Number(value);
            if (!Number.isFinite(n)) continue;
            if (name === "decode" || name === "test" || name === "live" || name === "total") facts.ms[name] = n;
            else if (name === "reload" || name === "start" || name === "none") facts.ms.reload = n;
        }
    }
    const stamp = [...lines].reverse().find((l) => l.startsWith(`${STAMP_PREFIX}${host} installed at `));
    const at = stamp ? Number(stamp.slice(`${STAMP_PREFIX}${host} installed at `.length).trim()) : NaN;
    if (Number.isFinite(at) && at > 0) {
        facts.installedAt = new Date(at).toISOString();
        if (facts.ms.total !== undefined) facts.startedAt = new Date(at - facts.ms.total).toISOString();
    }
    return facts;
}

/** The gate's line (`mtls-nginx-gate {json}`), or undefined when there is none. */
export function parseGateOutput(stdout: string): GateFacts | undefined {
    const line = (stdout ?? "")
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("mtls-nginx-gate "));
    if (!line) return undefined;
    try {
        const v = JSON.parse(line.slice("mtls-nginx-gate ".length));
        return v && typeof v === "object" && typeof v.ok === "boolean" ? (v as GateFacts) : undefined;
    } catch {
        return undefined;
    }
}

/**
 * The command a fleet host's install runs: the install script (as renderInstallScript returns it:
 * already `sudo -n /bin/sh -c ...` with sudo) in a `/bin/sh` of its own, then either a line naming the
 * host and saying the rollout stopped there (on failure, with the script's exit status) or the time
 * it finished. Remote commands get it wrapped for `/bin/sh` (the SSH user's login shell may not be
 * POSIX). The payload still arrives on the command's stdin; nothing secret is in the text.
 */
export function fleetInstallCommand(installScript: string, opts: { host: string; sudo: boolean; remote: boolean }): string {
    const inner = opts.sudo ? installScript : shWrap(installScript);
    // Only the host's name: its position in the list is not part of the command, so reordering changes nothing.
    const failure = `mtls-nginx: host ${opts.host}: the install failed; the rollout stops here: the hosts after it were not started. The host keeps its previous release (the install rolls back); fix the cause above and run pulumi up again, which goes on from this host`;
    const text = [
        inner,
        "mtls_rc=$?",
        `if [ "$mtls_rc" -ne 0 ]; then printf '%s (exit %s)\\n' ${shQuote(failure)} "$mtls_rc" >&2; exit "$mtls_rc"; fi`,
        "mtls_t=$(date +%s%N 2>/dev/null) || mtls_t=",
        `case $mtls_t in ''|*[!0-9]*) mtls_t=$(( $(date +%s) * 1000 )) ;; *) mtls_t=$(( mtls_t / 1000000 )) ;; esac`,
        `printf '%s%s installed at %s\\n' ${shQuote(STAMP_PREFIX)} ${shQuote(opts.host)} "$mtls_t"`,
    ].join("\n");
    return opts.remote ? shWrap(text) : text;
}
