/**
 * Install, reload and rollback scripts for the nginx site (pure: text in, text out).
 *
 * The Site component runs the script returned by {@link renderInstallScript} as the `create` and
 * `update` command of a @pulumi/command `local.Command` / `remote.Command` (or through
 * `docker exec -i`), with {@link encodePayload}'s output as the command's secret `stdin`.
 * The command string holds only non-secret parameters, single-quoted; key material travels on stdin
 * only and is never printed.
 *
 * Layout on the target, under the absolute `installDir`:
 *
 * ```
 * installDir/
 *   releases/<releaseId>/   one immutable directory per content version (dirs 0755, keys 0600, rest 0644)
 *     .mtls-manifest        "<mode> <sha256> <path>" per file (what the payload announced)
 *   current  -> releases/<releaseId>   what nginx serves; swapped atomically (new symlink renamed over it)
 *   previous -> releases/<releaseId>   the release before it (kept by pruning, the rollback target)
 *   .lock/                  held while a script runs (mkdir lock; a dead holder's lock is taken over)
 * ```
 *
 * Configs reference ABSOLUTE release paths (`installDir/releases/<releaseId>/server.crt`), so the
 * running nginx's configuration keeps pointing at the old release's files while a new one is tested.
 * The caller therefore computes {@link releaseId} before rendering the config.
 *
 * Steps of the install script:
 * 1. the nginx binary and the version policy (version.ts: CVE-2025-23419);
 * 2. take the lock; decode stdin into `releases/.staging-<id>-<pid>` (umask 077), verify every file's
 *    sha256, the file count and the content hash (and `expectedContentHash`): a truncated or damaged
 *    payload stops here, before anything is swapped;
 * 3. rename the staging directory to `releases/<id>` (atomic), or reuse an identical existing one;
 * 4. `nginx -t`: for a dedicated instance whose config lives in the release, on the release's own file
 *    BEFORE `current` moves; otherwise (system nginx: its main config includes `current`) after the
 *    swap, swapping back on failure. The failure message starts with
 *    "mtls-nginx: nginx -t rejected the new configuration; ..." followed by nginx's words;
 * 5. swap `current`; a system nginx also gets its include link (created when missing, never clobbered);
 * 6. start the dedicated instance when its pid file names no running nginx, else reload gracefully
 *    (`nginx -s reload`, `systemctl reload`, or the user's command);
 * 7. confirm the new configuration is live (a reload exits 0 even when nginx then cannot apply it):
 *    poll, for at most `liveCheck.timeoutSeconds`, one TLS connection at a time without a client
 *    certificate (`openssl s_client`; where openssl is missing, e.g. in a container image, curl 7.88+
 *    with `--write-out %{certs}`), comparing the served certificate with the release's
 *    (fingerprint reported) and the `X-Mtls-Release` header with the release id; a new `[emerg]` in
 *    the error log ends the wait early. On failure: restore the previous release, reload, wait for it,
 *    print the error log's tail, exit non-zero;
 * 8. point `previous` at the release that was current; prune all other releases.
 * It prints one non-secret summary line (release, previous, nginx version, fingerprint, timings, live-check client).
 * Every failure after step 3 is undone by the EXIT trap (`current`, include link, reload, new release).
 */
import * as crypto from "crypto";
import { InputError, throwIfAny } from "../util/errors";
import { shAssign, shQuote, sudoWrap } from "./shell";
import { CHANGELOG_GLOB_RE, VersionPolicy, renderVersionCheck } from "./version";

/** The response header the renderer adds to every response (`add_header X-Mtls-Release "<id>" always;`). */
export const RELEASE_HEADER = "X-Mtls-Release";

/** First line of a payload. */
export const PAYLOAD_HEADER = "mtls-nginx-payload 1";

/** Name of the manifest the script writes into each release (payload paths may not start with `.mtls`). */
export const MANIFEST_FILE = ".mtls-manifest";

/** The message nginx -t failures start with (after `mtls-nginx: `). */
export const TEST_REJECTED = "nginx -t rejected the new configuration;";

export interface InstallFile {
    /** Relative path inside the release: `/`-separated segments of `[A-Za-z0-9._-]`, no `.`/`..`, no leading `/`. */
    path: string;
    /** The file's text (written as UTF-8 bytes). */
    content: string;
    /** 0o600 for private keys (required when the content holds a PEM private key), 0o644 otherwise. */
    mode: 0o600 | 0o644;
}

// ---------------------------------------------------------------------------------------------
// Files, hashes, payload
// ---------------------------------------------------------------------------------------------

const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;
const PRIVATE_KEY_RE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** Problems with one relative release path (empty when fine). */
function pathProblems(path: unknown): string | undefined {
    if (typeof path !== "string" || path === "") return "is empty";
    if (path.startsWith("/")) return `${JSON.stringify(path)} is absolute`;
    if (path.length > 255) return `${JSON.stringify(path.slice(0, 40))}... is longer than 255 characters`;
    const segments = path.split("/");
    for (const segment of segments) {
        if (segment === "") return `${JSON.stringify(path)} has an empty segment`;
        if (segment === "." || segment === "..") return `${JSON.stringify(path)} has a ${JSON.stringify(segment)} segment`;
        if (!SEGMENT_RE.test(segment)) return `${JSON.stringify(path)} has a character outside [A-Za-z0-9._-] in ${JSON.stringify(segment)}`;
    }
    if (segments[0].startsWith(".mtls")) return `${JSON.stringify(path)} starts with ".mtls", which the install scripts reserve`;
    return undefined;
}

/**
 * Validates release files, collecting every problem: paths, modes, duplicates, a file that is also
 * a directory of another, and private keys that are not 0o600.
 * @param input dotted path of the files input, for the error messages.
 */
export function validateInstallFiles(files: readonly InstallFile[], input = "files"): void {
    if (!Array.isArray(files)) {
        throw new InputError(input, "must be a list of files", "pass [{ path, content, mode }, ...]");
    }
    const errors: InputError[] = [];
    const seen = new Map<string, number>();
    files.forEach((file, i) => {
        const at = `${input}[${i}]`;
        const problem = pathProblems(file?.path);
        if (problem) {
            errors.push(new InputError(`${at}.path`, `path ${problem}`, "use a relative path of segments made of letters, digits, '.', '_' and '-', such as \"server.crt\" or \"errors/496.html\""));
        } else if (seen.has(file.path)) {
            errors.push(new InputError(`${at}.path`, `${JSON.stringify(file.path)} is also ${input}[${seen.get(file.path)}]`, "give every file its own path"));
        } else {
            seen.set(file.path, i);
        }
        if (typeof file?.content !== "string") {
            errors.push(new InputError(`${at}.content`, "must be a string", "pass the file's text"));
        }
        if (file?.mode !== 0o600 && file?.mode !== 0o644) {
            errors.push(new InputError(`${at}.mode`, `${typeof file?.mode === "number" ? "0o" + file.mode.toString(8) : String(file?.mode)} is not an allowed mode`, "use 0o600 for private keys and 0o644 for everything else"));
        } else if (file.mode !== 0o600 && typeof file.content === "string" && PRIVATE_KEY_RE.test(file.content)) {
            errors.push(new InputError(`${at}.mode`, `${JSON.stringify(file.path)} holds a private key but has mode 0o${file.mode.toString(8)}`, "give key files mode 0o600"));
        }
    });
    // A file that is also a directory of another file ("a" and "a/b").
    for (const [path, i] of seen) {
        const parts = path.split("/");
        for (let k = 1; k < parts.length; k++) {
            const dir = parts.slice(0, k).join("/");
            if (seen.has(dir)) {
                errors.push(new InputError(`${input}[${i}].path`, `${JSON.stringify(path)} lies under ${JSON.stringify(dir)}, which is a file (${input}[${seen.get(dir)}])`, "rename one of them"));
            }
        }
    }
    throwIfAny(errors);
}

function sha256(data: string | Buffer): string {
    return crypto.createHash("sha256").update(data).digest("hex");
}

function octal(mode: number): string {
    return "0" + mode.toString(8);
}

function sortedFiles(files: readonly InstallFile[]): InstallFile[] {
    return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `<mode> <sha256> <path>\n` per file, sorted by path: what the script writes as `.mtls-manifest`. */
export function manifest(files: readonly InstallFile[]): string {
    return sortedFiles(files)
        .map((f) => `${octal(f.mode)} ${sha256(Buffer.from(f.content, "utf8"))} ${f.path}\n`)
        .join("");
}

/**
 * sha256 hex of the files' manifest (paths, modes and content hashes): changes whenever any file
 * does. Use it in the command's `triggers`; the payload's end line carries it and the script checks it.
 * (It is a hash of key material, not the material: safe in state.)
 */
export function contentHash(files: readonly InstallFile[], input = "files"): string {
    validateInstallFiles(files, input);
    return sha256(manifest(files));
}

/**
 * The release id: 16 hex digits of sha256 over the paths, modes and contents of the files that do
 * not embed the id (certificates, keys, CA bundle, CRL, error pages...) and a canonical string of
 * every input the config is rendered from (see {@link canonicalJson}). Compute it before rendering
 * the config, which references `installDir/releases/<releaseId>/...`.
 */
export function releaseId(files: readonly InstallFile[], renderInputs: string, input = "files"): string {
    validateInstallFiles(files, input);
    if (typeof renderInputs !== "string") {
        throw new InputError("renderInputs", "must be a string", "pass canonicalJson(<the render inputs>)");
    }
    const m = manifest(files);
    const text = `mtls-nginx-release 1\n${Buffer.byteLength(m)}\n${m}${Buffer.byteLength(renderInputs)}\n${renderInputs}`;
    return sha256(text).slice(0, 16);
}

/** JSON with object keys sorted at every level (undefined members dropped): a stable string for hashing. */
export function canonicalJson(value: unknown): string {
    if (value === null || typeof value !== "object") {
        return JSON.stringify(value) ?? "null";
    }
    if (Array.isArray(value)) {
        return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
    }
    const entries = Object.keys(value as Record<string, unknown>)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
}

/**
 * Encodes release files for the script's standard input. Line-oriented, so `read` + `base64 -d` decode it:
 *
 * ```
 * mtls-nginx-payload 1
 * <mode> <sha256 of content> <path> <base64 of content on one line, or "-" when empty>
 * ...                                        (sorted by path)
 * end <file count> <contentHash(files)>
 * ```
 *
 * A truncated stdin has no end line (or a last line without its newline) and is rejected; a corrupted
 * one fails a checksum. Nothing is swapped before the whole payload has been verified.
 */
export function encodePayload(files: readonly InstallFile[], input = "files"): string {
    validateInstallFiles(files, input);
    const lines = [PAYLOAD_HEADER];
    for (const f of sortedFiles(files)) {
        const bytes = Buffer.from(f.content, "utf8");
        lines.push(`${octal(f.mode)} ${sha256(bytes)} ${f.path} ${bytes.length === 0 ? "-" : bytes.toString("base64")}`);
    }
    lines.push(`end ${files.length} ${sha256(manifest(files))}`);
    return lines.join("\n") + "\n";
}

/** Decodes {@link encodePayload}'s output (the reference decoder; the script has its own). Throws on any damage. */
export function decodePayload(text: string): InstallFile[] {
    const lines = text.split("\n");
    if (lines[0] !== PAYLOAD_HEADER) throw new Error("payload: missing header line");
    const files: InstallFile[] = [];
    for (let i = 1; i < lines.length; i++) {
        const [kind, a, b, data] = lines[i].split(" ");
        if (kind === "end") {
            if (i !== lines.length - 2 || lines[lines.length - 1] !== "") throw new Error("payload: data after the end line, or no final newline");
            if (Number(a) !== files.length) throw new Error(`payload: end line announces ${a} files, ${files.length} were read`);
            if (b !== sha256(manifest(files))) throw new Error("payload: content hash mismatch");
            return files;
        }
        if (kind !== "0600" && kind !== "0644") throw new Error(`payload: line ${i + 1} has mode ${JSON.stringify(kind)}`);
        const content = data === "-" ? "" : Buffer.from(data ?? "", "base64").toString("utf8");
        if (sha256(Buffer.from(content, "utf8")) !== a) throw new Error(`payload: ${b} does not match its checksum`);
        files.push({ path: b, content, mode: kind === "0600" ? 0o600 : 0o644 });
    }
    throw new Error("payload: truncated (no end line)");
}

// ---------------------------------------------------------------------------------------------
// Script inputs
// ---------------------------------------------------------------------------------------------

/** A private nginx run for this site alone (`nginx -p prefix -c confFile`), started by the script when not running. */
export interface DedicatedControl {
    kind: "dedicated";
    /** Absolute path of the nginx binary. @default "/usr/sbin/nginx" */
    nginxBinary?: string;
    /** Absolute prefix directory (`-p`); created when missing. */
    prefix: string;
    /**
     * Absolute path of the main config, normally `installDir/current/nginx.conf`; a path under
     * `installDir/current/` is tested in the new release before `current` moves.
     */
    confFile: string;
    /** The pid file the config names with `pid` (tells whether the instance runs). @default "<prefix>/logs/nginx.pid" */
    pidFile?: string;
    /** The config's `error_log` file (its tail is printed on failure; also passed as `-e` on nginx 1.19.5+). @default "<prefix>/logs/error.log" */
    errorLog?: string;
}

/** The machine's nginx: the site's config is linked into its include directory and nginx is reloaded. */
export interface SystemControl {
    kind: "system";
    /** Absolute path of the nginx binary. @default "/usr/sbin/nginx" */
    nginxBinary?: string;
    /** Absolute path of the symlink the main config includes, e.g. `/etc/nginx/conf.d/mtls-<site>.conf`. */
    includeLink: string;
    /** The site config inside the release, which the include link points at (through `current`). @default "site.conf" */
    siteConf?: string;
    /**
     * How to reload: `"signal"` (`nginx -s reload`), `"systemctl"` (`systemctl reload <systemdUnit>`),
     * or `{ command }`, run with `/bin/sh -c` (it must exit non-zero when it cannot signal nginx).
     */
    reload: "signal" | "systemctl" | { command: string };
    /** The unit for `reload: "systemctl"`. @default "nginx" */
    systemdUnit?: string;
    /** Extra arguments for every `nginx -t` / `nginx -s` run, e.g. `["-c", "/etc/nginx/nginx.conf"]`. @default [] */
    nginxArgs?: string[];
    /** nginx's error log (its tail is printed on failure). @default "/var/log/nginx/error.log" */
    errorLog?: string;
}

export type NginxControl = DedicatedControl | SystemControl;

/** How the script confirms that the new release is what nginx serves. */
export interface LiveCheck {
    /** Address to connect to (IP or host name). @default "127.0.0.1" */
    host?: string;
    /** The site's TLS port. */
    port: number;
    /** SNI and Host header. @default none (no SNI; Host is `host`) */
    serverName?: string;
    /** The served certificate, inside the release (its first PEM block is compared). @default "server.crt" */
    certFile?: string;
    /** Also require the `X-Mtls-Release: <releaseId>` response header. @default true */
    releaseHeader?: boolean;
    /** How long to wait for the new release to be served. @default 10 */
    timeoutSeconds?: number;
}

/** What both scripts need. */
export interface UninstallScriptInput {
    /** Absolute directory that holds `releases/` and `current` on the target. */
    installDir: string;
    /** The release this resource installs (from {@link releaseId}). */
    releaseId: string;
    /** Site name, for messages: `[A-Za-z0-9._-]`, at most 64 characters. */
    site: string;
    control: NginxControl;
    /** Run the script as root through `sudo -n /bin/sh -c '<script>'`. @default false */
    sudo?: boolean;
    /** How long to wait for another install on the same installDir. @default 120 */
    lockTimeoutSeconds?: number;
}

export interface InstallScriptInput extends UninstallScriptInput {
    /** What to do with an nginx lacking the CVE-2025-23419 fix when `sharedListen`. @default "refuse" */
    versionPolicy?: VersionPolicy;
    /** The site shares its address:port with other server blocks (a dedicated instance or address does not). */
    sharedListen: boolean;
    /** Changelog globs for the distribution-fix check (see version.ts). @default Debian/Ubuntu's */
    changelogGlobs?: string[];
    liveCheck: LiveCheck;
    /** `contentHash(files)`: the script refuses a payload with another hash (a stale or foreign stdin). @default not checked */
    expectedContentHash?: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HOST_RE = /^[A-Za-z0-9.:-]+$/;
const DNS_RE = /^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

function absolutePathProblem(p: unknown): string | undefined {
    if (typeof p !== "string" || p === "") return "is empty";
    if (!p.startsWith("/")) return `${JSON.stringify(p)} is not absolute`;
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(p)) return `${JSON.stringify(p)} contains a control character`;
    if (p !== "/" && p.endsWith("/")) return `${JSON.stringify(p)} ends with "/"`;
    if (p.split("/").slice(1).some((s) => s === "" || s === "." || s === "..")) return `${JSON.stringify(p)} is not normalized (empty, "." or ".." segment)`;
    return undefined;
}

function checkAbsolute(errors: InputError[], input: string, p: unknown, what: string): void {
    const problem = absolutePathProblem(p);
    if (problem) errors.push(new InputError(input, `${what} ${problem}`, "use an absolute, normalized path such as /opt/mtls-nginx/site"));
}

function validateCommon(input: UninstallScriptInput, errors: InputError[]): void {
    checkAbsolute(errors, "installDir", input.installDir, "installDir");
    if (input.installDir === "/") errors.push(new InputError("installDir", "is the root directory", "use a directory of its own, e.g. /opt/mtls-nginx/<site>"));
    if (typeof input.releaseId !== "string" || !ID_RE.test(input.releaseId)) {
        errors.push(new InputError("releaseId", `${JSON.stringify(input.releaseId)} is not a release id`, "pass releaseId(files, renderInputs)"));
    }
    if (typeof input.site !== "string" || !ID_RE.test(input.site)) {
        errors.push(new InputError("site", `${JSON.stringify(input.site)} is not a site name`, "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"));
    }
    const c = input.control;
    if (!c || (c.kind !== "dedicated" && c.kind !== "system")) {
        errors.push(new InputError("control.kind", `${JSON.stringify((c as { kind?: unknown })?.kind)} is not a control mode`, `use "dedicated" or "system"`));
    } else {
        if (c.nginxBinary !== undefined) checkAbsolute(errors, "control.nginxBinary", c.nginxBinary, "nginxBinary");
        if (c.errorLog !== undefined) checkAbsolute(errors, "control.errorLog", c.errorLog, "errorLog");
        if (c.kind === "dedicated") {
            checkAbsolute(errors, "control.prefix", c.prefix, "prefix");
            checkAbsolute(errors, "control.confFile", c.confFile, "confFile");
            if (c.pidFile !== undefined) checkAbsolute(errors, "control.pidFile", c.pidFile, "pidFile");
        } else {
            checkAbsolute(errors, "control.includeLink", c.includeLink, "includeLink");
            if (typeof c.includeLink === "string" && typeof input.installDir === "string" && (c.includeLink + "/").startsWith(input.installDir + "/")) {
                errors.push(new InputError("control.includeLink", "lies inside installDir", "put the link in nginx's include directory, e.g. /etc/nginx/conf.d/mtls-<site>.conf"));
            }
            if (c.siteConf !== undefined) {
                const p = pathProblems(c.siteConf);
                if (p) errors.push(new InputError("control.siteConf", `path ${p}`, "name the site config's relative path in the release, e.g. \"site.conf\""));
            }
            const r = c.reload;
            if (r !== "signal" && r !== "systemctl" && !(r && typeof r === "object" && typeof r.command === "string" && r.command.trim() !== "" && !r.command.includes("\0"))) {
                errors.push(new InputError("control.reload", `${JSON.stringify(r)} is not a reload method`, `use "signal", "systemctl" or { command: "<shell command>" }`));
            }
            if (c.systemdUnit !== undefined && (typeof c.systemdUnit !== "string" || !/^[A-Za-z0-9@._:-]+$/.test(c.systemdUnit))) {
                errors.push(new InputError("control.systemdUnit", `${JSON.stringify(c.systemdUnit)} is not a unit name`, "use e.g. \"nginx\" or \"nginx.service\""));
            }
            (c.nginxArgs ?? []).forEach((a, i) => {
                if (typeof a !== "string" || a.includes("\0")) errors.push(new InputError(`control.nginxArgs[${i}]`, "must be a string without NUL", "pass plain arguments, e.g. [\"-c\", \"/etc/nginx/nginx.conf\"]"));
            });
        }
    }
    if (input.sudo !== undefined && typeof input.sudo !== "boolean") errors.push(new InputError("sudo", "must be a boolean", "use true or false"));
    if (input.lockTimeoutSeconds !== undefined && !(Number.isInteger(input.lockTimeoutSeconds) && input.lockTimeoutSeconds >= 0 && input.lockTimeoutSeconds <= 3600)) {
        errors.push(new InputError("lockTimeoutSeconds", `${input.lockTimeoutSeconds} is not a whole number of seconds in 0..3600`, "use e.g. 120"));
    }
}

/** Validates install-script inputs, collecting every problem. */
export function validateInstallScriptInput(input: InstallScriptInput): void {
    const errors: InputError[] = [];
    validateCommon(input, errors);
    if (input.versionPolicy !== undefined && input.versionPolicy !== "refuse" && input.versionPolicy !== "warn") {
        errors.push(new InputError("versionPolicy", `${JSON.stringify(input.versionPolicy)} is not a version policy`, `use "refuse" or "warn"`));
    }
    if (typeof input.sharedListen !== "boolean") {
        errors.push(new InputError("sharedListen", "must be a boolean", "say whether other server blocks share the site's address:port (false for a dedicated instance or address)"));
    }
    (input.changelogGlobs ?? []).forEach((glob, i) => {
        if (typeof glob !== "string" || !CHANGELOG_GLOB_RE.test(glob)) {
            errors.push(new InputError(`changelogGlobs[${i}]`, `${JSON.stringify(glob)} is not an absolute glob of plain characters`, "use an absolute path made of letters, digits, . _ - + / * ?"));
        }
    });
    const l = input.liveCheck;
    if (!l || typeof l !== "object") {
        errors.push(new InputError("liveCheck", "is required", "give the site's TLS port, e.g. { port: 8443 }"));
    } else {
        if (!(Number.isInteger(l.port) && l.port >= 1 && l.port <= 65535)) errors.push(new InputError("liveCheck.port", `${l.port} is not a TCP port`, "use 1..65535"));
        if (l.host !== undefined && (typeof l.host !== "string" || !HOST_RE.test(l.host))) errors.push(new InputError("liveCheck.host", `${JSON.stringify(l.host)} is not a host`, "use an IP address or host name, e.g. 127.0.0.1"));
        if (l.serverName !== undefined && (typeof l.serverName !== "string" || !DNS_RE.test(l.serverName) || l.serverName.includes("*"))) {
            errors.push(new InputError("liveCheck.serverName", `${JSON.stringify(l.serverName)} is not a DNS name`, "use the site's server name, e.g. api.example.com"));
        }
        if (input.sharedListen === true && l.serverName === undefined) {
            errors.push(
                new InputError("liveCheck.serverName", "is required when the site shares its listen address (without SNI nginx answers with the default server, which may be another site)", "set it to the site's server name"),
            );
        }
        if (l.certFile !== undefined) {
            const p = pathProblems(l.certFile);
            if (p) errors.push(new InputError("liveCheck.certFile", `path ${p}`, "name the served certificate inside the release, e.g. \"server.crt\""));
        }
        if (l.releaseHeader !== undefined && typeof l.releaseHeader !== "boolean") errors.push(new InputError("liveCheck.releaseHeader", "must be a boolean", "use true or false"));
        if (l.timeoutSeconds !== undefined && !(Number.isInteger(l.timeoutSeconds) && l.timeoutSeconds >= 1 && l.timeoutSeconds <= 600)) {
            errors.push(new InputError("liveCheck.timeoutSeconds", `${l.timeoutSeconds} is not a whole number of seconds in 1..600`, "use e.g. 10"));
        }
    }
    if (input.expectedContentHash !== undefined && (typeof input.expectedContentHash !== "string" || !/^[0-9a-f]{64}$/.test(input.expectedContentHash))) {
        errors.push(new InputError("expectedContentHash", "is not a sha256 hex digest", "pass contentHash(files)"));
    }
    throwIfAny(errors);
}

/** Validates uninstall-script inputs. */
export function validateUninstallScriptInput(input: UninstallScriptInput): void {
    const errors: InputError[] = [];
    validateCommon(input, errors);
    throwIfAny(errors);
}

// ---------------------------------------------------------------------------------------------
// Shell text (POSIX sh: dash, busybox ash, bash --posix). Constant bodies; parameters come only
// through the single-quoted assignments of the header.
// ---------------------------------------------------------------------------------------------

const COMMON_FUNCTIONS = `
mtls_say() { printf 'mtls-nginx: %s\\n' "$*"; }
mtls_warn() { printf 'mtls-nginx: warning: %s\\n' "$*" >&2; }
mtls_fail() { printf 'mtls-nginx: %s\\n' "$*" >&2; exit 1; }
mtls_now_ms() {
    _t=$(date +%s%N 2>/dev/null) || _t=
    case $_t in
        ''|*[!0-9]*) echo $(( $(date +%s) * 1000 )) ;;
        *) echo $(( _t / 1000000 )) ;;
    esac
}
mtls_sha256() { # file -> hex digest
    _h=$(sha256sum < "$1") || return 1
    printf '%s\\n' "\${_h%% *}"
}
`;

const DECODE_FUNCTION = `
# Reads the payload on stdin into directory $1 (existing, empty). Never prints file contents.
# One process per file (base64 -d, fed by a here-document); checksums and modes in one go at the end.
mtls_decode_payload() {
    _d=$1
    _n=0
    _public=
    if ! IFS= read -r _l; then
        mtls_fail "payload: standard input is empty (expected the release files); nothing was changed"
    fi
    if [ "$_l" != "${PAYLOAD_HEADER}" ]; then
        mtls_fail "payload: standard input does not start with '${PAYLOAD_HEADER}'; nothing was changed"
    fi
    : > "$_d/${MANIFEST_FILE}"
    : > "$_d/.mtls-sha256"
    while :; do
        if ! IFS=' ' read -r _mode _sum _path _data; then
            mtls_fail "payload: truncated after $_n file(s) (no end line); nothing was changed"
        fi
        if [ "$_mode" = end ]; then
            break
        fi
        _n=$((_n + 1))
        case $_mode in
            0600) ;;
            0644) _public="$_public ./$_path" ;;
            *) mtls_fail "payload: entry $_n has mode '$_mode' (expected 0600 or 0644); nothing was changed" ;;
        esac
        case $_sum in
            *[!0-9a-f]*|'') mtls_fail "payload: entry $_n has no sha256; nothing was changed" ;;
        esac
        if [ \${#_sum} -ne 64 ]; then
            mtls_fail "payload: entry $_n has no sha256; nothing was changed"
        fi
        case $_path in
            ''|/*|*/|*//*|.mtls*|*[!A-Za-z0-9._/-]*) mtls_fail "payload: entry $_n has an unsafe path; nothing was changed" ;;
        esac
        case /$_path/ in
            */./*|*/../*) mtls_fail "payload: entry $_n has an unsafe path; nothing was changed" ;;
        esac
        _f=$_d/$_path
        if [ -e "$_f" ] || [ -h "$_f" ]; then
            mtls_fail "payload: $_path appears twice; nothing was changed"
        fi
        case $_path in
            */*) [ -d "\${_f%/*}" ] || (umask 022 && mkdir -p "\${_f%/*}") || mtls_fail "payload: cannot create the directory of $_path; nothing was changed" ;;
        esac
        if [ "$_data" = - ]; then
            : > "$_f"
        elif ! base64 -d > "$_f" 2>/dev/null <<MTLS_B64
$_data
MTLS_B64
        then
            mtls_fail "payload: $_path is not valid base64 (corrupted standard input); nothing was changed"
        fi
        printf '%s %s %s\\n' "$_mode" "$_sum" "$_path" >> "$_d/${MANIFEST_FILE}"
        printf '%s  ./%s\\n' "$_sum" "$_path" >> "$_d/.mtls-sha256"
    done
    if [ "$_sum" != "$_n" ]; then
        mtls_fail "payload: the end line announces $_sum file(s) but $_n were read; nothing was changed"
    fi
    if ! (cd "$_d" && sha256sum -c .mtls-sha256 >/dev/null 2>&1); then
        _bad=$(cd "$_d" && sha256sum -c .mtls-sha256 2>/dev/null | sed -n 's#^\\./\\(.*\\): FAILED.*$#\\1#p' | tr '\\n' ' ')
        mtls_fail "payload: \${_bad:-a file }does not match its sha256 (truncated or corrupted standard input); nothing was changed"
    fi
    rm -f "$_d/.mtls-sha256"
    MTLS_PAYLOAD_HASH=$(mtls_sha256 "$_d/${MANIFEST_FILE}")
    if [ "$MTLS_PAYLOAD_HASH" != "$_path" ]; then
        mtls_fail "payload: content hash mismatch (corrupted standard input); nothing was changed"
    fi
    # Files were created 0600 (umask 077); open up the public ones (paths hold no blanks or glob characters).
    chmod 0644 "$_d/${MANIFEST_FILE}"
    if [ -n "$_public" ]; then
        (cd "$_d" && set -f && chmod 0644 $_public)
    fi
    MTLS_PAYLOAD_FILES=$_n
}
`;

/**
 * A standalone script running exactly the install script's payload decoder: reads stdin into
 * `targetDir` (created 0755 when missing) and prints `decoded <count> files <contentHash>`.
 * For tests and for inspecting a payload by hand.
 */
export function renderDecodeScript(targetDir: string): string {
    const problem = absolutePathProblem(targetDir);
    if (problem) throw new InputError("targetDir", `targetDir ${problem}`, "use an absolute, normalized path");
    return [
        "set -eu",
        "umask 077",
        shAssign("MTLS_TARGET", targetDir),
        COMMON_FUNCTIONS,
        DECODE_FUNCTION,
        `(umask 022 && mkdir -p "$MTLS_TARGET")`,
        `mtls_decode_payload "$MTLS_TARGET"`,
        `printf 'decoded %s files %s\\n' "$MTLS_PAYLOAD_FILES" "$MTLS_PAYLOAD_HASH"`,
        "",
    ].join("\n");
}

/** Functions shared by install and uninstall (locking, `current`, nginx control). */
const CONTROL_FUNCTIONS = `
mtls_lock() {
    _waited=0
    while ! mkdir "$MTLS_LOCK" 2>/dev/null; do
        _holder=$(cat "$MTLS_LOCK/pid" 2>/dev/null) || _holder=
        # A holder is alive when it can be signalled or (another user's, e.g. under sudo) is in /proc.
        if [ -n "$_holder" ] && ! kill -0 "$_holder" 2>/dev/null && [ ! -d "/proc/$_holder" ]; then
            mtls_warn "taking over the lock of a process that is gone (pid $_holder)"
            rm -rf "$MTLS_LOCK"
            continue
        fi
        if [ "$_waited" -ge "$MTLS_LOCK_TIMEOUT" ]; then
            mtls_fail "another install holds $MTLS_LOCK (pid \${_holder:-unknown}) since $MTLS_LOCK_TIMEOUT s or more. Fix: wait for it, or remove that directory if no install runs"
        fi
        sleep 1
        _waited=$((_waited + 1))
    done
    MTLS_LOCKED=1
    echo $$ > "$MTLS_LOCK/pid"
}
# The release 'current' (or $1, e.g. 'previous') points at (empty when none).
mtls_current() {
    _c=$(readlink "$MTLS_DIR/\${1:-current}" 2>/dev/null) || _c=
    printf '%s\\n' "\${_c#releases/}"
}
# Points 'current' (or $2, e.g. 'previous') at releases/$1 atomically: a new symlink renamed over the old one.
mtls_point_current() {
    _name=\${2:-current}
    rm -f "$MTLS_DIR/.$_name.tmp-$$"
    ln -s "releases/$1" "$MTLS_DIR/.$_name.tmp-$$"
    if ! mv -f -T "$MTLS_DIR/.$_name.tmp-$$" "$MTLS_DIR/$_name" 2>/dev/null; then
        # mv without -T (very old busybox): not atomic, but correct.
        rm -f "$MTLS_DIR/.$_name.tmp-$$"
        ln -s -f -n "releases/$1" "$MTLS_DIR/$_name"
    fi
}
mtls_error_log_tail() {
    if [ -r "$MTLS_ERROR_LOG" ]; then
        printf 'mtls-nginx: last lines of %s:\\n' "$MTLS_ERROR_LOG" >&2
        tail -n 15 "$MTLS_ERROR_LOG" | sed 's/^/    /' >&2
    fi
}
mtls_log_size() {
    if [ -r "$MTLS_ERROR_LOG" ]; then echo $(( $(wc -c < "$MTLS_ERROR_LOG") )); else echo 0; fi
}
# True when nginx logged an [emerg] after byte offset $1 of its error log (a reload it could not apply).
mtls_new_emerg() {
    [ -r "$MTLS_ERROR_LOG" ] || return 1
    tail -c +"$(( $1 + 1 ))" "$MTLS_ERROR_LOG" 2>/dev/null | grep -q '\\[emerg\\]'
}
# Pid of the dedicated instance when it runs (and is an nginx), else fails.
mtls_dedicated_pid() {
    [ -f "$MTLS_PID_FILE" ] || return 1
    _pid=$(cat "$MTLS_PID_FILE" 2>/dev/null) || return 1
    case $_pid in ''|*[!0-9]*) return 1 ;; esac
    kill -0 "$_pid" 2>/dev/null || return 1
    if [ -r "/proc/$_pid/cmdline" ]; then
        tr '\\000' ' ' < "/proc/$_pid/cmdline" | grep -q nginx || return 1
    fi
    printf '%s\\n' "$_pid"
}
# Stops the dedicated instance (graceful QUIT, then TERM), waiting for it to exit.
mtls_stop_dedicated() {
    _spid=$(mtls_dedicated_pid) || return 0
    kill -QUIT "$_spid" 2>/dev/null || true
    _i=0
    while kill -0 "$_spid" 2>/dev/null; do
        _i=$((_i + 1))
        if [ "$_i" -eq 100 ]; then kill -TERM "$_spid" 2>/dev/null || true; fi
        if [ "$_i" -ge 150 ]; then mtls_warn "nginx (pid $_spid) did not exit"; return 1; fi
        sleep 0.1 2>/dev/null || sleep 1
    done
    return 0
}
`;

function nginxFunctions(control: NginxControl): string {
    if (control.kind === "dedicated") {
        return `
# nginx for the dedicated instance: mtls_nginx_d CONF ARGS...
mtls_nginx_d() {
    _conf=$1
    shift
    if [ "$MTLS_NGINX_VERNUM" -ge 1019005 ]; then
        "$MTLS_NGINX" -p "$MTLS_PREFIX" -c "$_conf" -e "$MTLS_ERROR_LOG" "$@"
    else
        "$MTLS_NGINX" -p "$MTLS_PREFIX" -c "$_conf" "$@"
    fi
}
`;
    }
    const args = (control.nginxArgs ?? []).map(shQuote).join(" ");
    const reload =
        control.reload === "signal"
            ? `mtls_nginx_sys -s reload`
            : control.reload === "systemctl"
              ? `systemctl reload "$MTLS_SYSTEMD_UNIT"`
              : `/bin/sh -c "$MTLS_RELOAD_COMMAND"`;
    return `
# nginx for the system instance: mtls_nginx_sys ARGS...
mtls_nginx_sys() {
    "$MTLS_NGINX"${args ? " " + args : ""} "$@"
}
mtls_reload_system() {
    ${reload}
}
`;
}

function header(kind: "install" | "uninstall", input: UninstallScriptInput): string[] {
    const c = input.control;
    const lines = [
        `# mtls-nginx ${kind} script for site ${input.site}, release ${input.releaseId} (generated by pulumi-mtls-nginx; POSIX sh)`,
        "set -eu",
        "umask 077",
        shAssign("MTLS_SITE", input.site),
        shAssign("MTLS_RELEASE", input.releaseId),
        shAssign("MTLS_DIR", input.installDir),
        shAssign("MTLS_LOCK", `${input.installDir}/.lock`),
        shAssign("MTLS_LOCK_TIMEOUT", String(input.lockTimeoutSeconds ?? 120)),
        shAssign("MTLS_MODE", c.kind),
        shAssign("MTLS_NGINX", c.nginxBinary ?? "/usr/sbin/nginx"),
        "MTLS_NGINX_VERNUM=0",
    ];
    if (c.kind === "dedicated") {
        const currentPrefix = `${input.installDir}/current/`;
        lines.push(
            shAssign("MTLS_PREFIX", c.prefix),
            shAssign("MTLS_CONF", c.confFile),
            shAssign("MTLS_CONF_IN_RELEASE", c.confFile.startsWith(currentPrefix) ? c.confFile.slice(currentPrefix.length) : ""),
            shAssign("MTLS_PID_FILE", c.pidFile ?? `${c.prefix}/logs/nginx.pid`),
            shAssign("MTLS_ERROR_LOG", c.errorLog ?? `${c.prefix}/logs/error.log`),
        );
    } else {
        lines.push(
            shAssign("MTLS_INCLUDE_LINK", c.includeLink),
            shAssign("MTLS_SITE_CONF", c.siteConf ?? "site.conf"),
            shAssign("MTLS_ERROR_LOG", c.errorLog ?? "/var/log/nginx/error.log"),
            shAssign("MTLS_SYSTEMD_UNIT", c.systemdUnit ?? "nginx"),
            shAssign("MTLS_RELOAD_COMMAND", typeof c.reload === "object" ? c.reload.command : ""),
        );
    }
    return lines;
}

/** Both scripts clean up in mtls_on_exit, also when interrupted (exit status 128 + signal). */
const EXIT_TRAPS = `trap mtls_on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
`;

const INSTALL_BODY = `
MTLS_LOCKED=0
MTLS_STAGE=
MTLS_TMP=
MTLS_PREV=
MTLS_NEW_RELEASE=0
MTLS_SWAPPED=0
MTLS_LINK_CREATED=0
MTLS_RELOADED=0
MTLS_STARTED=0
MTLS_DONE=0

# The TLS client of the live check (mtls_pick_tls_tool): openssl when present, else curl 7.88+
# (--write-out %{certs}; e.g. a container image without openssl). Without openssl, certificates are
# compared in the same canonical layout (first PEM block, base64 in 64-column lines) and fingerprinted
# with base64 -d | sha256sum.
MTLS_TLS_TOOL=openssl
mtls_pick_tls_tool() {
    if command -v openssl >/dev/null 2>&1; then
        MTLS_TLS_TOOL=openssl
        return 0
    fi
    _cv=
    if command -v curl >/dev/null 2>&1; then
        _cv=$(curl --version 2>/dev/null | sed -n '1s/^curl \\([0-9][0-9]*\\)\\.\\([0-9][0-9]*\\)\\..*$/\\1 \\2/p') || _cv=
    fi
    case $_cv in
        *' '*)
            if [ "$(( \${_cv%% *} * 1000 + \${_cv#* } ))" -ge 7088 ]; then
                MTLS_TLS_TOOL=curl
                return 0
            fi
            ;;
    esac
    mtls_fail "neither openssl nor curl 7.88+ (for --write-out %{certs}) is available to confirm which certificate nginx serves; nothing was changed. Fix: install openssl (or curl >= 7.88) on the target or in its image"
}
mtls_pem_first() { # PEM text on stdin -> its first certificate, base64 in 64-column lines (openssl's layout)
    _b=$(tr -d '\\r' | sed 's/^[A-Za-z ]*:-----BEGIN CERTIFICATE-----/-----BEGIN CERTIFICATE-----/' \\
        | sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/{/^-----END CERTIFICATE-----/q;/^-----BEGIN CERTIFICATE-----/d;p;}' \\
        | tr -d ' \\t\\n') || _b=
    [ -n "$_b" ] || return 0
    printf '%s\\n' '-----BEGIN CERTIFICATE-----'
    printf '%s\\n' "$_b" | fold -w 64
    printf '%s\\n' '-----END CERTIFICATE-----'
}
mtls_fingerprint() { # PEM text on stdin -> sha256 hex of its first certificate (lower case, no colons)
    if [ "$MTLS_TLS_TOOL" = openssl ]; then
        openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed -n 's/^[^=]*=//p' | tr -d ':' | tr 'ABCDEF' 'abcdef'
    else
        _b=$(mtls_pem_first | sed '/^-----/d' | tr -d '\\n') || _b=
        [ -n "$_b" ] || return 0
        _h=$(printf '%s\\n' "$_b" | base64 -d 2>/dev/null | sha256sum) || return 0
        printf '%s\\n' "\${_h%% *}"
    fi
}
mtls_pem() { # file -> its first certificate in openssl's canonical PEM (what s_client prints)
    if [ "$MTLS_TLS_TOOL" = openssl ]; then
        openssl x509 -in "$1" 2>/dev/null
    else
        mtls_pem_first < "$1" 2>/dev/null
    fi
}
mtls_curl() { # one HEAD request without a client certificate: response headers, then the served chain in PEM
    if [ -n "$MTLS_LIVE_NAME" ]; then
        set -- --resolve "$MTLS_LIVE_NAME:$MTLS_LIVE_PORT:$MTLS_LIVE_URL_HOST" "https://$MTLS_LIVE_NAME:$MTLS_LIVE_PORT/"
    else
        set -- "https://$MTLS_LIVE_URL_HOST:$MTLS_LIVE_PORT/"
    fi
    curl -sk -I --http1.1 --max-time 5 -H "Host: $MTLS_LIVE_HOST_HEADER" -H 'User-Agent: mtls-nginx-install' \\
        -o /dev/null -D - -w '%{certs}' "$@" </dev/null
}
mtls_s_client() {
    if command -v timeout >/dev/null 2>&1; then set -- timeout 5 "$@"; fi
    if [ -n "$MTLS_LIVE_NAME" ]; then
        "$@" openssl s_client -connect "$MTLS_LIVE_CONNECT" -servername "$MTLS_LIVE_NAME" -ign_eof
    else
        "$@" openssl s_client -connect "$MTLS_LIVE_CONNECT" -ign_eof
    fi
}
# One TLS connection without a client certificate: sets MTLS_SEEN_PEM (served certificate) and
# MTLS_SEEN_RELEASE (the release header of the response, 400 included).
mtls_probe() {
    if [ "$MTLS_TLS_TOOL" = openssl ]; then
        _o=$(printf 'HEAD / HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: mtls-nginx-install\\r\\n\\r\\n' "$MTLS_LIVE_HOST_HEADER" | mtls_s_client 2>/dev/null) || true
        MTLS_SEEN_PEM=$(printf '%s\\n' "$_o" | sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p') || MTLS_SEEN_PEM=
    else
        _o=$(mtls_curl 2>/dev/null) || true
        MTLS_SEEN_PEM=$(printf '%s\\n' "$_o" | mtls_pem_first) || MTLS_SEEN_PEM=
    fi
    MTLS_SEEN_RELEASE=$(printf '%s\\n' "$_o" | tr -d '\\r' | sed -n '/^[Xx]-[Mm][Tt][Ll][Ss]-[Rr][Ee][Ll][Ee][Aa][Ss][Ee]:/{s/^[^:]*:[ 	]*//p;q;}') || MTLS_SEEN_RELEASE=
}
mtls_is_live() { # release id, certificate PEM
    [ -n "$2" ] && [ "$MTLS_SEEN_PEM" = "$2" ] || return 1
    [ "$MTLS_LIVE_HEADER" = 0 ] || [ "$MTLS_SEEN_RELEASE" = "$1" ]
}
# An unchanged release needs no reload when it is served; three probes, so that one slow or
# refused connection on a busy host does not cause a needless reload.
mtls_confirm_unchanged() {
    _n=0
    while :; do
        mtls_probe
        if mtls_is_live "$MTLS_RELEASE" "$MTLS_EXPECT_PEM"; then return 0; fi
        _n=$((_n + 1))
        [ "$_n" -lt 3 ] || return 1
        sleep 0.3 2>/dev/null || sleep 1
    done
}
# Waits until release $1 with certificate $2 (PEM) is served; $3 = error log offset to watch for [emerg].
mtls_wait_live() {
    _deadline=$(( $(date +%s) + MTLS_LIVE_TIMEOUT ))
    while :; do
        mtls_probe
        if mtls_is_live "$1" "$2"; then return 0; fi
        if mtls_new_emerg "$3"; then
            sleep 0.2 2>/dev/null || sleep 1
            mtls_probe
            if mtls_is_live "$1" "$2"; then return 0; fi
            MTLS_LIVE_FAILURE="nginx logged an [emerg] after the reload: it kept the previous configuration"
            return 1
        fi
        if [ "$(date +%s)" -ge "$_deadline" ]; then
            MTLS_LIVE_FAILURE="the new release was not served within $MTLS_LIVE_TIMEOUT s"
            return 1
        fi
        sleep 0.1 2>/dev/null || sleep 1
    done
}
mtls_reload() {
    if [ "$MTLS_MODE" = dedicated ]; then
        mtls_nginx_d "$MTLS_CONF" -s reload </dev/null
    else
        mtls_reload_system </dev/null
    fi
}
mtls_nginx_test() { # config file (dedicated) -> nginx's output in MTLS_TEST_OUTPUT
    if [ "$MTLS_MODE" = dedicated ]; then
        MTLS_TEST_OUTPUT=$(mtls_nginx_d "$1" -t -q 2>&1 </dev/null)
    else
        MTLS_TEST_OUTPUT=$(mtls_nginx_sys -t -q 2>&1 </dev/null)
    fi
}
mtls_rejected() { # nginx -t failed: say so with nginx's words, then exit (the EXIT trap rolls back)
    if [ -n "$MTLS_PREV" ]; then _what="the previous configuration is still being served:"; else _what="nothing was installed:"; fi
    printf 'mtls-nginx: ${TEST_REJECTED} %s\\n' "$_what" >&2
    printf '%s\\n' "$MTLS_TEST_OUTPUT" | sed 's/^/    /' >&2
    exit 1
}

# Undoes a failed install: 'current', the include link, the running configuration, the new release.
mtls_rollback() {
    [ "$MTLS_DONE" = 1 ] && return 0
    _rb=
    if [ "$MTLS_SWAPPED" = 1 ]; then
        if [ -n "$MTLS_PREV" ]; then
            mtls_point_current "$MTLS_PREV" && _rb="current -> releases/$MTLS_PREV"
        else
            rm -f "$MTLS_DIR/current" && _rb="current removed"
        fi
    fi
    if [ "$MTLS_LINK_CREATED" = 1 ]; then
        rm -f "$MTLS_INCLUDE_LINK" && _rb="$_rb; include link removed"
    fi
    if [ "$MTLS_RELOADED" = 1 ]; then
        if [ "$MTLS_STARTED" = 1 ]; then
            mtls_stop_dedicated && _rb="$_rb; the nginx this install started was stopped"
        elif _mark=$(mtls_log_size) && _out=$(mtls_reload 2>&1); then
            _rb="$_rb; nginx reloaded with the previous configuration"
            if [ -n "$MTLS_PREV" ] && [ -f "$MTLS_DIR/releases/$MTLS_PREV/$MTLS_LIVE_CERT" ]; then
                _ppem=$(mtls_pem "$MTLS_DIR/releases/$MTLS_PREV/$MTLS_LIVE_CERT")
                if mtls_wait_live "$MTLS_PREV" "$_ppem" "$_mark"; then
                    _rb="$_rb, which is served again"
                else
                    mtls_warn "after the rollback reload, release $MTLS_PREV is not served either: $MTLS_LIVE_FAILURE"
                fi
            fi
        else
            mtls_warn "the rollback reload failed: $_out. Fix: run nginx -t and reload nginx by hand"
        fi
    fi
    if [ "$MTLS_NEW_RELEASE" = 1 ]; then
        rm -rf "$MTLS_DIR/releases/$MTLS_RELEASE"
    fi
    if [ -n "$_rb" ]; then
        printf 'mtls-nginx: rolled back (%s)\\n' "\${_rb#; }" >&2
    fi
}
mtls_on_exit() {
    _rc=$?
    set +e
    if [ "$_rc" -ne 0 ]; then mtls_rollback; fi
    [ -z "$MTLS_STAGE" ] || rm -rf "$MTLS_STAGE"
    [ -z "$MTLS_TMP" ] || rm -f "$MTLS_TMP"
    rm -f "$MTLS_DIR/.current.tmp-$$" "$MTLS_DIR/.previous.tmp-$$"
    [ "$MTLS_LOCKED" = 0 ] || rm -rf "$MTLS_LOCK"
    exit "$_rc"
}
${EXIT_TRAPS}
MTLS_T0=$(mtls_now_ms)

# (1) nginx binary and version policy; the TLS client of the live check.
mtls_check_nginx_version || exit 1
mtls_pick_tls_tool

# (2) decode the payload into a staging directory, under the lock.
(umask 022 && mkdir -p "$MTLS_DIR/releases") || mtls_fail "cannot create $MTLS_DIR/releases"
if [ "$MTLS_MODE" = dedicated ]; then
    (umask 022 && mkdir -p "$MTLS_PREFIX/logs" "\${MTLS_PID_FILE%/*}" "\${MTLS_ERROR_LOG%/*}") || mtls_fail "cannot create the prefix $MTLS_PREFIX"
fi
mtls_lock
MTLS_STAGE="$MTLS_DIR/releases/.staging-$MTLS_RELEASE-$$"
rm -rf "$MTLS_STAGE"
mkdir "$MTLS_STAGE"
mtls_decode_payload "$MTLS_STAGE"
exec </dev/null
if [ -n "$MTLS_EXPECT_HASH" ] && [ "$MTLS_PAYLOAD_HASH" != "$MTLS_EXPECT_HASH" ]; then
    mtls_fail "payload: its content hash $MTLS_PAYLOAD_HASH is not the expected $MTLS_EXPECT_HASH (standard input belongs to another version); nothing was changed"
fi
if [ ! -f "$MTLS_STAGE/$MTLS_LIVE_CERT" ]; then
    mtls_fail "payload: it has no $MTLS_LIVE_CERT (the served certificate the live check compares); nothing was changed"
fi
if [ "$MTLS_MODE" = dedicated ] && [ -n "$MTLS_CONF_IN_RELEASE" ] && [ ! -f "$MTLS_STAGE/$MTLS_CONF_IN_RELEASE" ]; then
    mtls_fail "payload: it has no $MTLS_CONF_IN_RELEASE (the configuration nginx runs); nothing was changed"
fi
if [ "$MTLS_MODE" = system ] && [ ! -f "$MTLS_STAGE/$MTLS_SITE_CONF" ]; then
    mtls_fail "payload: it has no $MTLS_SITE_CONF (the site configuration the include link points at); nothing was changed"
fi
if [ "$MTLS_TLS_TOOL" = openssl ]; then
    # One openssl run: "sha256 Fingerprint=AB:CD:..." then the certificate in canonical PEM.
    _x=$(openssl x509 -in "$MTLS_STAGE/$MTLS_LIVE_CERT" -fingerprint -sha256 2>/dev/null) || _x=
    MTLS_EXPECT_FP=$(printf '%s\\n' "$_x" | sed -n '1s/^[^=]*=//p' | tr -d ':' | tr 'ABCDEF' 'abcdef')
    MTLS_EXPECT_PEM=$(printf '%s\\n' "$_x" | sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p')
else
    MTLS_EXPECT_PEM=$(mtls_pem "$MTLS_STAGE/$MTLS_LIVE_CERT") || MTLS_EXPECT_PEM=
    MTLS_EXPECT_FP=$(printf '%s\\n' "$MTLS_EXPECT_PEM" | mtls_fingerprint) || MTLS_EXPECT_FP=
fi
[ -n "$MTLS_EXPECT_PEM" ] && [ -n "$MTLS_EXPECT_FP" ] || mtls_fail "payload: $MTLS_LIVE_CERT is not a PEM certificate; nothing was changed"
MTLS_T_DECODED=$(mtls_now_ms)

# (3) the release directory: rename the staging one, or reuse an identical existing one.
MTLS_PREV=$(mtls_current)
MTLS_REL="$MTLS_DIR/releases/$MTLS_RELEASE"
mtls_same_release() { # existing release dir holds exactly the staged files
    [ -f "$MTLS_REL/${MANIFEST_FILE}" ] || return 1
    [ "$(mtls_sha256 "$MTLS_REL/${MANIFEST_FILE}")" = "$MTLS_PAYLOAD_HASH" ] || return 1
    while read -r _m _s _p; do
        [ -f "$MTLS_REL/$_p" ] && [ ! -h "$MTLS_REL/$_p" ] || return 1
        [ "$(mtls_sha256 "$MTLS_REL/$_p")" = "$_s" ] || return 1
    done < "$MTLS_STAGE/${MANIFEST_FILE}"
    [ "$(( $(find "$MTLS_REL" -type f | wc -l) ))" -eq "$(( MTLS_PAYLOAD_FILES + 1 ))" ]
}
if [ -e "$MTLS_REL" ] || [ -h "$MTLS_REL" ]; then
    if mtls_same_release; then
        while read -r _m _s _p; do chmod "$_m" "$MTLS_REL/$_p"; done < "$MTLS_STAGE/${MANIFEST_FILE}"
        rm -rf "$MTLS_STAGE"
        MTLS_STAGE=
        MTLS_REUSED=yes
    elif [ "$MTLS_PREV" = "$MTLS_RELEASE" ]; then
        mtls_fail "release $MTLS_RELEASE is being served with different files than this payload: the release id must change with every file and render input. Fix: compute releaseId over all non-config files and the render inputs; nothing was changed"
    else
        mtls_warn "replacing releases/$MTLS_RELEASE, whose files differ from this payload"
        rm -rf "$MTLS_REL"
    fi
fi
if [ -n "$MTLS_STAGE" ]; then
    chmod 0755 "$MTLS_STAGE"
    mv "$MTLS_STAGE" "$MTLS_REL"
    MTLS_STAGE=
    MTLS_NEW_RELEASE=1
    MTLS_REUSED=no
fi
# A release that is also the rollback target is never deleted by a rollback.
[ "$MTLS_PREV" != "$MTLS_RELEASE" ] || MTLS_NEW_RELEASE=0

# (4)+(5) nginx -t and the swap of 'current' (+ the include link of a system nginx).
MTLS_RUNNING_PID=
if [ "$MTLS_MODE" = dedicated ]; then
    MTLS_RUNNING_PID=$(mtls_dedicated_pid) || MTLS_RUNNING_PID=
fi
if [ "$MTLS_MODE" = dedicated ] && [ -n "$MTLS_CONF_IN_RELEASE" ]; then
    # The new configuration is tested where it lies, before anything points at it.
    mtls_nginx_test "$MTLS_REL/$MTLS_CONF_IN_RELEASE" || mtls_rejected
    if [ "$MTLS_PREV" != "$MTLS_RELEASE" ]; then
        mtls_point_current "$MTLS_RELEASE"
        MTLS_SWAPPED=1
    fi
else
    if [ "$MTLS_PREV" != "$MTLS_RELEASE" ]; then
        mtls_point_current "$MTLS_RELEASE"
        MTLS_SWAPPED=1
    fi
    if [ "$MTLS_MODE" = system ]; then
        _want="$MTLS_DIR/current/$MTLS_SITE_CONF"
        if [ -h "$MTLS_INCLUDE_LINK" ]; then
            _have=$(readlink "$MTLS_INCLUDE_LINK")
            [ "$_have" = "$_want" ] || mtls_fail "the include link $MTLS_INCLUDE_LINK points at $_have, not at $_want. Fix: remove it if it is left over, or choose another includeLink"
        elif [ -e "$MTLS_INCLUDE_LINK" ]; then
            mtls_fail "$MTLS_INCLUDE_LINK exists and is not a symlink; it was left alone. Fix: move it away, or choose another includeLink"
        else
            (umask 022 && mkdir -p "\${MTLS_INCLUDE_LINK%/*}")
            rm -f "$MTLS_INCLUDE_LINK.tmp-$$"
            ln -s "$_want" "$MTLS_INCLUDE_LINK.tmp-$$"
            mv -f "$MTLS_INCLUDE_LINK.tmp-$$" "$MTLS_INCLUDE_LINK"
            MTLS_LINK_CREATED=1
        fi
    fi
    mtls_nginx_test "\${MTLS_CONF:-}" || mtls_rejected
fi
MTLS_T_TESTED=$(mtls_now_ms)

# (6) start or reload; (7) confirm that the new release is served.
MTLS_LIVE_FAILURE=
MTLS_ACTION=reload
if [ "$MTLS_PREV" = "$MTLS_RELEASE" ] && { [ "$MTLS_MODE" = system ] || [ -n "$MTLS_RUNNING_PID" ]; } && mtls_confirm_unchanged; then
    MTLS_ACTION=none
    MTLS_T_RELOADED=$(mtls_now_ms)
else
    if [ "$MTLS_PREV" = "$MTLS_RELEASE" ] && { [ "$MTLS_MODE" = system ] || [ -n "$MTLS_RUNNING_PID" ]; }; then
        MTLS_SEEN_FP=$(printf '%s\\n' "$MTLS_SEEN_PEM" | mtls_fingerprint) || MTLS_SEEN_FP=
        mtls_say "release $MTLS_RELEASE is current but was not confirmed live (served certificate sha256 \${MTLS_SEEN_FP:-none}, release header \${MTLS_SEEN_RELEASE:-none}): reloading"
    fi
    _mark=$(mtls_log_size)
    if [ "$MTLS_MODE" = dedicated ] && [ -z "$MTLS_RUNNING_PID" ]; then
        MTLS_ACTION=start
        MTLS_TMP="$MTLS_DIR/.nginx-out-$$"
        MTLS_RELOADED=1
        MTLS_STARTED=1
        if ! mtls_nginx_d "$MTLS_CONF" </dev/null >"$MTLS_TMP" 2>&1; then
            printf 'mtls-nginx: nginx could not start with the new configuration:\\n' >&2
            sed 's/^/    /' "$MTLS_TMP" >&2
            mtls_error_log_tail
            exit 1
        fi
        _i=0
        until mtls_dedicated_pid >/dev/null; do
            _i=$((_i + 1))
            if [ "$_i" -ge 100 ]; then
                printf 'mtls-nginx: nginx started but %s names no running nginx\\n' "$MTLS_PID_FILE" >&2
                mtls_error_log_tail
                exit 1
            fi
            sleep 0.1 2>/dev/null || sleep 1
        done
    else
        MTLS_RELOADED=1
        if ! _out=$(mtls_reload 2>&1); then
            printf 'mtls-nginx: the reload failed: %s\\n' "$_out" >&2
            mtls_error_log_tail
            exit 1
        fi
    fi
    MTLS_T_RELOADED=$(mtls_now_ms)
    if ! mtls_wait_live "$MTLS_RELEASE" "$MTLS_EXPECT_PEM" "$_mark"; then
        MTLS_SEEN_FP=$(printf '%s\\n' "$MTLS_SEEN_PEM" | mtls_fingerprint) || MTLS_SEEN_FP=
        printf 'mtls-nginx: %s; restoring the previous release. Served on %s: certificate sha256 %s, %s %s; expected %s, release %s\\n' \\
            "$MTLS_LIVE_FAILURE" "$MTLS_LIVE_CONNECT" "\${MTLS_SEEN_FP:-none}" "${RELEASE_HEADER}" "\${MTLS_SEEN_RELEASE:-none}" "$MTLS_EXPECT_FP" "$MTLS_RELEASE" >&2
        mtls_error_log_tail
        exit 1
    fi
fi
MTLS_T_LIVE=$(mtls_now_ms)
MTLS_DONE=1

# (8) 'previous' names the release to roll back to; prune all but current and previous.
if [ "$MTLS_SWAPPED" = 1 ] && [ -n "$MTLS_PREV" ]; then
    mtls_point_current "$MTLS_PREV" previous
fi
MTLS_KEEP=$(mtls_current previous)
for _r in "$MTLS_DIR"/releases/* "$MTLS_DIR"/releases/.staging-*; do
    [ -e "$_r" ] || [ -h "$_r" ] || continue
    _b=\${_r##*/}
    if [ "$_b" = "$MTLS_RELEASE" ] || [ "$_b" = "$MTLS_PREV" ] || [ "$_b" = "$MTLS_KEEP" ]; then continue; fi
    rm -rf "$_r"
done
if [ "$MTLS_KEEP" = "$MTLS_RELEASE" ]; then rm -f "$MTLS_DIR/previous"; MTLS_KEEP=; fi

printf 'mtls-nginx: site %s: release %s is live (%s; previous: %s; release dir %s); nginx %s (%s fix: %s); certificate sha256 %s; %s file(s); ms: decode %s, test %s, %s %s, live %s, total %s; live check: %s\\n' \\
    "$MTLS_SITE" "$MTLS_RELEASE" "$MTLS_ACTION" "\${MTLS_KEEP:-none}" "$MTLS_REUSED" "\${MTLS_NGINX_VERSION:-unknown}" "${"CVE-2025-23419"}" "$MTLS_NGINX_FIX" \\
    "$MTLS_EXPECT_FP" "$MTLS_PAYLOAD_FILES" "$(( MTLS_T_DECODED - MTLS_T0 ))" "$(( MTLS_T_TESTED - MTLS_T_DECODED ))" "$MTLS_ACTION" \\
    "$(( MTLS_T_RELOADED - MTLS_T_TESTED ))" "$(( MTLS_T_LIVE - MTLS_T_RELOADED ))" "$(( MTLS_T_LIVE - MTLS_T0 ))" "$MTLS_TLS_TOOL"
`;

/**
 * The create/update script. Run it with `/bin/sh -c` (local.Command's default interpreter), as a
 * remote.Command, or through {@link dockerExecWrap}; feed {@link encodePayload}'s output on stdin.
 * With `sudo`, the returned command is `sudo -n /bin/sh -c '<script>' mtls-nginx`.
 */
export function renderInstallScript(input: InstallScriptInput): string {
    validateInstallScriptInput(input);
    const live = input.liveCheck;
    const host = live.host ?? "127.0.0.1";
    const connect = host.includes(":") ? `[${host}]:${live.port}` : `${host}:${live.port}`;
    const script = [
        ...header("install", input),
        shAssign("MTLS_EXPECT_HASH", input.expectedContentHash ?? ""),
        shAssign("MTLS_LIVE_CONNECT", connect),
        // The same endpoint for curl (no openssl on the target): URL host (IPv6 in brackets) and port.
        shAssign("MTLS_LIVE_URL_HOST", host.includes(":") ? `[${host}]` : host),
        shAssign("MTLS_LIVE_PORT", String(live.port)),
        shAssign("MTLS_LIVE_NAME", live.serverName ?? ""),
        shAssign("MTLS_LIVE_HOST_HEADER", live.serverName ?? (host.includes(":") ? `[${host}]` : host)),
        shAssign("MTLS_LIVE_CERT", live.certFile ?? "server.crt"),
        shAssign("MTLS_LIVE_HEADER", live.releaseHeader === false ? "0" : "1"),
        shAssign("MTLS_LIVE_TIMEOUT", String(live.timeoutSeconds ?? 10)),
        COMMON_FUNCTIONS,
        DECODE_FUNCTION,
        renderVersionCheck({ policy: input.versionPolicy ?? "refuse", sharedListen: input.sharedListen, changelogGlobs: input.changelogGlobs }),
        CONTROL_FUNCTIONS,
        nginxFunctions(input.control),
        INSTALL_BODY,
    ].join("\n");
    return input.sudo ? sudoWrap(script, "mtls-nginx-install") : script;
}

const UNINSTALL_BODY = `
MTLS_LOCKED=0
mtls_on_exit() {
    _rc=$?
    set +e
    [ "$MTLS_LOCKED" = 0 ] || rm -rf "$MTLS_LOCK"
    exit "$_rc"
}
${EXIT_TRAPS}exec </dev/null

if [ ! -e "$MTLS_DIR/current" ] && [ ! -h "$MTLS_DIR/current" ] && [ ! -d "$MTLS_DIR/releases" ]; then
    mtls_say "site $MTLS_SITE: nothing installed in $MTLS_DIR; nothing to remove"
    exit 0
fi
[ ! -d "$MTLS_DIR" ] || mtls_lock
MTLS_CUR=$(mtls_current)
if [ "$MTLS_CUR" != "$MTLS_RELEASE" ]; then
    mtls_say "site $MTLS_SITE: current is release \${MTLS_CUR:-none}, not $MTLS_RELEASE (this resource's): another deployment owns the site now; leaving it in place"
    exit 0
fi
if [ "$MTLS_MODE" = dedicated ]; then
    if _pid=$(mtls_dedicated_pid); then
        mtls_stop_dedicated || mtls_fail "nginx (pid $_pid) did not stop; the site was left in place"
        _stopped="stopped nginx (pid $_pid)"
    else
        _stopped="nginx was not running"
    fi
else
    _stopped="include link already gone"
    if [ -h "$MTLS_INCLUDE_LINK" ]; then
        _have=$(readlink "$MTLS_INCLUDE_LINK")
        if [ "$_have" = "$MTLS_DIR/current/$MTLS_SITE_CONF" ]; then
            rm -f "$MTLS_INCLUDE_LINK"
            if _out=$(mtls_nginx_sys -t -q 2>&1); then
                if _out=$(mtls_reload_system 2>&1); then
                    _stopped="removed $MTLS_INCLUDE_LINK and reloaded nginx"
                else
                    mtls_warn "removed $MTLS_INCLUDE_LINK but the reload failed: $_out"
                    _stopped="removed $MTLS_INCLUDE_LINK (reload failed)"
                fi
            else
                mtls_warn "removed $MTLS_INCLUDE_LINK but nginx -t fails, so nginx was not reloaded: $_out"
                _stopped="removed $MTLS_INCLUDE_LINK (not reloaded)"
            fi
        else
            mtls_warn "$MTLS_INCLUDE_LINK points at $_have, not at this site; left alone"
            _stopped="include link not ours"
        fi
    fi
fi
rm -f "$MTLS_DIR/current" "$MTLS_DIR/previous"
rm -rf "$MTLS_DIR/releases"
rm -rf "$MTLS_LOCK"
MTLS_LOCKED=0
rmdir "$MTLS_DIR" 2>/dev/null || true
mtls_say "site $MTLS_SITE: removed release $MTLS_RELEASE from $MTLS_DIR; $_stopped"
`;

/**
 * The delete script: removes the site only when `current` still points at this resource's release
 * (after a create-before-delete replacement, the new release owns the site and is left alone).
 * Dedicated: stops the instance (QUIT, then TERM), removes `current` and `releases/` (logs stay).
 * System: removes the include link (only when it points at this install), tests and reloads nginx,
 * then removes the files. Exit 0 when there is nothing to do.
 */
export function renderUninstallScript(input: UninstallScriptInput): string {
    validateUninstallScriptInput(input);
    const script = [
        ...header("uninstall", input),
        COMMON_FUNCTIONS,
        CONTROL_FUNCTIONS,
        nginxFunctions(input.control),
        UNINSTALL_BODY,
    ].join("\n");
    return input.sudo ? sudoWrap(script, "mtls-nginx-uninstall") : script;
}
