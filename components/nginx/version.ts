/**
 * The nginx version policy (pure), and the POSIX shell snippet that applies the same policy
 * on the target before anything is installed.
 *
 * CVE-2025-23419: when several server blocks share one address:port, a TLS session established
 * with one of them (TLS 1.3 tickets or the shared session cache) can be resumed on another, and
 * nginx then skips the client-certificate check of the second. Fixed upstream in 1.26.3 (stable)
 * and 1.27.4 (mainline), so in every 1.28+; distributions backported the fix to older versions
 * (Debian bookworm's 1.22.1-9+deb12u1x, Ubuntu, RHEL), which only their changelog tells.
 * A site with a dedicated listen address (or its own nginx instance) is not affected.
 */
import { joinScript, shAssign } from "./shell";
import { InputError } from "../util/errors";

export const CVE_ID = "CVE-2025-23419";

/** What to do with an nginx that lacks the fix while the site shares its listen address. */
export type VersionPolicy = "refuse" | "warn";

export interface NginxVersion {
    /** `nginx`, or the product a fork prints (`openresty`, `Tengine`) when it names no nginx version. */
    product: string;
    major: number;
    minor: number;
    patch: number;
    /** `major.minor.patch`. */
    text: string;
}

export interface VersionAssessment {
    /** The build carries the CVE-2025-23419 fix (upstream version or distribution backport). */
    fixed: boolean;
    /** `ok`: go on silently; `warn`: go on, printing `message`; `refuse`: stop with `message`. */
    level: "ok" | "warn" | "refuse";
    message: string;
    /** The parsed version, when `nginx -v` printed one. */
    version?: NginxVersion;
}

const NGINX_VERSION_RE = /nginx\/(\d+)\.(\d+)\.(\d+)/g;
const PRODUCT_VERSION_RE = /^nginx version: ([A-Za-z][A-Za-z0-9._-]*)\/(\d+)\.(\d+)\.(\d+)/;

/**
 * Parses `nginx -v` output (`nginx version: nginx/1.22.1`, `nginx version: nginx/1.24.0 (Ubuntu)`,
 * `nginx version: openresty/1.25.3.1`, `Tengine/3.1.0 (nginx/1.24.0)`).
 * The first line that names `nginx/x.y.z` wins (the last such name on that line); failing that,
 * the `nginx version: product/x.y.z` line. Exactly what the shell snippet's two `sed`s do.
 */
export function parseNginxVersion(output: string): NginxVersion | undefined {
    const lines = output.split("\n");
    for (const line of lines) {
        const matches = [...line.matchAll(NGINX_VERSION_RE)];
        if (matches.length > 0) {
            const m = matches[matches.length - 1];
            return version("nginx", m[1], m[2], m[3]);
        }
    }
    for (const line of lines) {
        const m = PRODUCT_VERSION_RE.exec(line);
        if (m) {
            return version(m[1], m[2], m[3], m[4]);
        }
    }
    return undefined;
}

function version(product: string, major: string, minor: string, patch: string): NginxVersion {
    const v = { product, major: Number(major), minor: Number(minor), patch: Number(patch) };
    return { ...v, text: `${v.major}.${v.minor}.${v.patch}` };
}

/** True for upstream versions that carry the fix: 1.26.3+ in 1.26, 1.27.4+, every 1.28+ (and 2.x). */
export function hasUpstreamFix(v: Pick<NginxVersion, "major" | "minor" | "patch">): boolean {
    if (v.major !== 1) {
        return v.major > 1;
    }
    if (v.minor >= 28) return true;
    if (v.minor === 27) return v.patch >= 4;
    if (v.minor === 26) return v.patch >= 3;
    return false;
}

/** The remedy, said the same way everywhere. */
export const VERSION_FIX =
    `upgrade nginx to 1.26.3+ (stable), 1.27.4+ (mainline) or any 1.28+, or to a distribution build with the ${CVE_ID} fix backported; ` +
    `or give the mTLS site a dedicated listen address/port (sharedListen: false)`;

type MessageKind = "upstream" | "distribution" | "dedicated" | "refuse" | "warn" | "unknown-dedicated" | "unknown-refuse" | "unknown-warn";

/**
 * The message for each outcome; `v` is the version text (`1.24.0`) or, for the `unknown-*` kinds,
 * the first line `nginx -v` printed. The shell snippet prints the very same texts.
 */
export function versionMessage(kind: MessageKind, v: string): string {
    const risk =
        `${CVE_ID}: when several server blocks share one address:port, a TLS session resumed from another server block ` +
        `skips this site's client-certificate check`;
    switch (kind) {
        case "upstream":
            return `nginx ${v} includes the ${CVE_ID} fix`;
        case "distribution":
            return `nginx ${v} is a distribution build with the ${CVE_ID} fix backported (its changelog says so)`;
        case "dedicated":
            return `nginx ${v} lacks the ${CVE_ID} fix, which does not matter here: the site has a dedicated listen address`;
        case "refuse":
            return `nginx ${v} is affected by ${risk}, and this site shares its listen address. Refusing to install (versionPolicy "refuse"). Fix: ${VERSION_FIX}; or accept the risk with versionPolicy "warn"`;
        case "warn":
            return `nginx ${v} is affected by ${risk}, and this site shares its listen address; installing anyway (versionPolicy "warn"). Fix: ${VERSION_FIX}`;
        case "unknown-dedicated":
            return `could not read an nginx version from \`nginx -v\` (it printed: ${v}); the site has a dedicated listen address, so ${CVE_ID} does not matter here`;
        case "unknown-refuse":
            return `could not read an nginx version from \`nginx -v\` (it printed: ${v}), so the ${CVE_ID} fix cannot be confirmed while this site shares its listen address. Refusing to install (versionPolicy "refuse"). Fix: ${VERSION_FIX}; or accept the risk with versionPolicy "warn"`;
        case "unknown-warn":
            return `could not read an nginx version from \`nginx -v\` (it printed: ${v}), so the ${CVE_ID} fix cannot be confirmed while this site shares its listen address; installing anyway (versionPolicy "warn"). Fix: ${VERSION_FIX}`;
    }
}

/**
 * Decides what the install does with this nginx.
 *
 * @param versionOutput what `nginx -v` printed (stderr).
 * @param hasDistroFix the distribution's changelog for this very version mentions CVE-2025-23419.
 * @param sharedListen the site shares its address:port with other server blocks.
 * @param policy what to do with an unfixed nginx on a shared listen address. @default "refuse"
 */
export function assessNginxVersion(versionOutput: string, hasDistroFix: boolean, sharedListen: boolean, policy: VersionPolicy = "refuse"): VersionAssessment {
    const v = parseNginxVersion(versionOutput);
    if (!v) {
        const firstLine = versionOutput.split("\n")[0];
        if (!sharedListen) return { fixed: false, level: "ok", message: versionMessage("unknown-dedicated", firstLine) };
        return { fixed: false, level: policy, message: versionMessage(policy === "refuse" ? "unknown-refuse" : "unknown-warn", firstLine) };
    }
    if (hasUpstreamFix(v)) {
        return { fixed: true, level: "ok", message: versionMessage("upstream", v.text), version: v };
    }
    if (hasDistroFix) {
        return { fixed: true, level: "ok", message: versionMessage("distribution", v.text), version: v };
    }
    if (!sharedListen) {
        return { fixed: false, level: "ok", message: versionMessage("dedicated", v.text), version: v };
    }
    return { fixed: false, level: policy, message: versionMessage(policy, v.text), version: v };
}

/** Where Debian and Ubuntu keep nginx's changelogs. */
export const DEFAULT_CHANGELOG_GLOBS = ["/usr/share/doc/nginx*/changelog.Debian.gz"];

export interface VersionCheckOptions {
    policy: VersionPolicy;
    sharedListen: boolean;
    /**
     * Globs of gzip'd Debian-format changelogs searched for the CVE id. Only a changelog whose newest
     * entry has the same upstream version as the binary counts (a self-built nginx in /usr/local
     * next to a patched distribution package is not taken for the patched one).
     * @default ["/usr/share/doc/nginx*\/changelog.Debian.gz"]
     */
    changelogGlobs?: string[];
    /** Also ask rpm (`rpm -q --changelog nginx`) when it is installed. @default true */
    rpm?: boolean;
}

/** What a changelog glob may contain (it is written unquoted into the script, to expand). */
export const CHANGELOG_GLOB_RE = /^\/[A-Za-z0-9_.*?/+-]+$/;

/** Validates the options that end up in shell text unquoted (globs must expand). */
export function validateVersionCheckOptions(opts: VersionCheckOptions, input = "version"): void {
    if (opts.policy !== "refuse" && opts.policy !== "warn") {
        throw new InputError(`${input}.policy`, `${JSON.stringify(opts.policy)} is not a version policy`, `use "refuse" or "warn"`);
    }
    if (typeof opts.sharedListen !== "boolean") {
        throw new InputError(`${input}.sharedListen`, "must be a boolean", "say whether other server blocks share the site's address:port");
    }
    (opts.changelogGlobs ?? []).forEach((glob, i) => {
        if (!CHANGELOG_GLOB_RE.test(glob)) {
            throw new InputError(`${input}.changelogGlobs[${i}]`, `${JSON.stringify(glob)} is not an absolute glob of plain characters`, "use an absolute path made of letters, digits, . _ - + / * ?");
        }
    });
}

/**
 * A POSIX shell function `mtls_check_nginx_version` applying {@link assessNginxVersion} on the target
 * (scripts/version.sh after its parameter header).
 *
 * It runs `"$MTLS_NGINX" -v`, parses it, looks for a distribution fix, and then:
 * ok: returns 0 quietly; warn: prints `mtls-nginx: warning: <message>` to stderr, returns 0;
 * refuse (or nginx cannot run): prints `mtls-nginx: <message>` to stderr and returns 1.
 * It sets `MTLS_NGINX_VERSION` (`x.y.z`, empty when unknown), `MTLS_NGINX_VERNUM`
 * (`major*1000000 + minor*1000 + patch`, 0 when unknown) and `MTLS_NGINX_FIX`
 * (`upstream` | `distribution` | `none`).
 */
export function renderVersionCheck(opts: VersionCheckOptions): string {
    return joinScript(versionCheckParameters(opts), ["version.sh"]);
}

/** The header assignments scripts/version.sh reads (policy, globs, and the messages with `{v}` for the version). */
export function versionCheckParameters(opts: VersionCheckOptions): string[] {
    validateVersionCheckOptions(opts);
    const on = opts.sharedListen ? opts.policy : "ok";
    const message = (kind: "unfixed" | "unknown"): string => {
        if (!opts.sharedListen) return "";
        const k: MessageKind = kind === "unfixed" ? opts.policy : opts.policy === "refuse" ? "unknown-refuse" : "unknown-warn";
        return versionMessage(k, "{v}");
    };
    return [
        `# nginx version policy (${CVE_ID}): policy=${opts.policy} sharedListen=${opts.sharedListen}`,
        shAssign("MTLS_CHANGELOG_GLOBS", (opts.changelogGlobs ?? DEFAULT_CHANGELOG_GLOBS).join(" ")),
        shAssign("MTLS_VERSION_RPM", opts.rpm ?? true ? "1" : "0"),
        shAssign("MTLS_VERSION_ON_UNFIXED", on),
        shAssign("MTLS_VERSION_MSG_UNFIXED", message("unfixed")),
        shAssign("MTLS_VERSION_ON_UNKNOWN", on),
        shAssign("MTLS_VERSION_MSG_UNKNOWN", message("unknown")),
    ];
}
