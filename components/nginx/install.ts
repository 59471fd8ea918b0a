/**
 * Install, reload and rollback scripts for the nginx site (pure: text in, text out).
 *
 * The Site component runs the script returned by {@link renderInstallScript} as the `create` and
 * `update` command of a @pulumi/command `local.Command` / `remote.Command` (or through
 * `docker exec -i`), with {@link encodePayload}'s output as the command's secret `stdin`.
 * The command string holds only non-secret parameters, single-quoted; key material travels on stdin
 * only and is never printed.
 *
 * The scripts are the shell files in `./scripts/` (shellcheck-clean POSIX sh): this module writes a
 * header of single-quoted parameter assignments and joins the files after it (shell.ts `joinScript`).
 *
 * Layout on the target, under the absolute `installDir`:
 *
 * ```
 * installDir/
 *   releases/<releaseId>/   one immutable directory per content version (dirs 0755, keys 0600, rest 0644)
 *     .mtls-manifest        "<mode> <sha256> <path>" per file (what the payload announced)
 *   current  -> releases/<releaseId>   what nginx serves; swapped atomically (new symlink renamed over it)
 *   previous -> releases/<releaseId>   the release confirmed live before it (the rollback target)
 *   .lock/                  held while a script runs (owner "<pid> <pid>:<start time>"; see scripts/lock.sh)
 *   .journal                only while an install has moved `current` and nginx is not yet confirmed
 *                           to serve the new release: what the next run restores first
 * ```
 *
 * Configs reference ABSOLUTE release paths (`installDir/releases/<releaseId>/server.crt`), so the
 * running nginx's configuration keeps pointing at the old release's files while a new one is tested.
 * The caller therefore computes {@link releaseId} before rendering the config.
 *
 * Steps of the install script ({@link INSTALL_STEPS} names their boundaries):
 * 1. the nginx binary and the version policy (version.ts: CVE-2025-23419);
 * 2. take the lock; undo what a killed run left (its journal: `current` back to the last release
 *    confirmed live, its include link removed, nginx reloaded); decode stdin into
 *    `releases/.staging-<id>-<pid>` (umask 077), verify every file's sha256, the file count and the
 *    content hash (and `expectedContentHash`): a truncated or damaged payload stops here;
 * 3. rename the staging directory to `releases/<id>` (atomic), or reuse an identical existing one;
 * 4. `nginx -t` of the new release in its full context BEFORE anything live names it: a dedicated
 *    instance's config in the release is tested there; a system nginx's configuration (or a dedicated
 *    config outside the release) is dumped with `nginx -T` into a private mirror in which the site's
 *    files are the new release's (scripts/context.sh). The failure message starts with
 *    "mtls-nginx: nginx -t rejected the new configuration; ..." followed by nginx's words;
 * 5. write the journal, swap `current`; a system nginx also gets its include link (created when
 *    missing, never clobbered) and its real configuration tested once more;
 * 6. start the dedicated instance when its pid file names no running nginx, else reload gracefully
 *    (`nginx -s reload`, `systemctl reload`, or the user's command);
 * 7. confirm the new configuration is live (a reload exits 0 even when nginx then cannot apply it):
 *    poll, for at most `liveCheck.timeoutSeconds`, one TLS connection at a time without a client
 *    certificate (`openssl s_client`; where openssl is missing, e.g. in a container image, curl 7.88+
 *    with `--write-out %{certs}`), comparing the served certificate with the release's
 *    (fingerprint reported) and the `X-Mtls-Release` header with the release id; a new `[emerg]` in
 *    the error log ends the wait early. Then the journal goes. On failure: restore the previous
 *    release, reload, wait for it, print the error log's tail, exit non-zero;
 * 8. point `previous` at the release that was current (confirmed live before); prune all other releases.
 * It prints one non-secret summary line (release, previous, nginx version, fingerprint, timings, live-check client).
 * Every failure after step 3 is undone by the EXIT trap (`current`, include link, reload, new release).
 */
import * as crypto from "crypto";
import { InputError, throwIfAny } from "../util/errors";
import { joinScript, shAssign, shQuote, sudoWrap } from "./shell";
import { CHANGELOG_GLOB_RE, VersionPolicy, versionCheckParameters } from "./version";

/** The response header the renderer adds to every response (`add_header X-Mtls-Release "<id>" always;`). */
export const RELEASE_HEADER = "X-Mtls-Release";

/** First line of a payload. */
export const PAYLOAD_HEADER = "mtls-nginx-payload 1";

/** Name of the manifest the script writes into each release (payload paths may not start with `.mtls`). */
export const MANIFEST_FILE = ".mtls-manifest";

/**
 * The install script's step boundaries, in order (scripts/install.sh `mtls_step`): where a test can
 * stop it (testHooks). `current` names the new release from "swapped" on; it is confirmed live at "live".
 */
export const INSTALL_STEPS = ["locked", "staged", "released", "tested", "swapped", "reloaded", "live", "previous", "pruned"] as const;

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
    /** SNI and Host header: a DNS name (SNI cannot carry an IP literal). @default none (no SNI; Host is `hostHeader`, else `host`) */
    serverName?: string;
    /** The Host header when it is not `serverName`, e.g. an IP literal server name (`[::1]`, `10.0.0.5`). @default serverName, else host (IPv6 in brackets) */
    hostHeader?: string;
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
    /**
     * For tests only (no component sets it): honour the MTLS_TEST_* environment variables that stop or
     * trace the script at its step boundaries (see scripts/common.sh `mtls_step`). Without it the hooks are inert.
     * @default false
     */
    testHooks?: boolean;
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
    if (input.testHooks !== undefined && typeof input.testHooks !== "boolean") errors.push(new InputError("testHooks", "must be a boolean", "leave it out (it is for tests)"));
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
        if (l.hostHeader !== undefined && (typeof l.hostHeader !== "string" || !(DNS_RE.test(l.hostHeader) || /^\[[0-9A-Fa-f:.]+\]$/.test(l.hostHeader)))) {
            errors.push(new InputError("liveCheck.hostHeader", `${JSON.stringify(l.hostHeader)} is not a host name or IP literal`, "use the site's server name, e.g. 10.0.0.5 or [2001:db8::10]"));
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
// Shell text (POSIX sh: dash, busybox ash, bash --posix). The bodies are the shell files in
// ./scripts/ (see shell.ts SCRIPTS); parameters come only through the single-quoted assignments of
// the header written here.
// ---------------------------------------------------------------------------------------------

/**
 * A standalone script running exactly the install script's payload decoder: reads stdin into
 * `targetDir` (created 0755 when missing) and prints `decoded <count> files <contentHash> (<KiB> KiB)`
 * (what the files, the manifest and the checksum list take on disk, in 4 KiB blocks).
 * For tests and for inspecting a payload by hand.
 */
export function renderDecodeScript(targetDir: string): string {
    const problem = absolutePathProblem(targetDir);
    if (problem) throw new InputError("targetDir", `targetDir ${problem}`, "use an absolute, normalized path");
    return joinScript(["# mtls-nginx payload decoder (generated by pulumi-mtls-nginx; POSIX sh)", shAssign("MTLS_TARGET", targetDir)], ["common.sh", "decode.sh", "decode-main.sh"]);
}

/** The parameters every script shares (site, release, install directory, lock, nginx control). */
function header(kind: "install" | "uninstall", input: UninstallScriptInput): string[] {
    const c = input.control;
    const lines = [
        `# mtls-nginx ${kind} script for site ${input.site}, release ${input.releaseId} (generated by pulumi-mtls-nginx; POSIX sh)`,
        shAssign("MTLS_SITE", input.site),
        shAssign("MTLS_RELEASE", input.releaseId),
        shAssign("MTLS_DIR", input.installDir),
        shAssign("MTLS_LOCK", `${input.installDir}/.lock`),
        shAssign("MTLS_LOCK_TIMEOUT", String(input.lockTimeoutSeconds ?? 120)),
        shAssign("MTLS_MODE", c.kind),
        shAssign("MTLS_NGINX", c.nginxBinary ?? "/usr/sbin/nginx"),
        "MTLS_NGINX_VERNUM=0",
        shAssign("MTLS_TEST_HOOKS", input.testHooks === true ? "1" : "0"),
    ];
    if (c.kind === "dedicated") {
        lines.push(
            shAssign("MTLS_PREFIX", c.prefix),
            shAssign("MTLS_CONF", c.confFile),
            shAssign("MTLS_PID_FILE", c.pidFile ?? `${c.prefix}/logs/nginx.pid`),
            shAssign("MTLS_ERROR_LOG", c.errorLog ?? `${c.prefix}/logs/error.log`),
        );
    } else {
        lines.push(
            shAssign("MTLS_INCLUDE_LINK", c.includeLink),
            shAssign("MTLS_SITE_CONF", c.siteConf ?? "site.conf"),
            shAssign("MTLS_ERROR_LOG", c.errorLog ?? "/var/log/nginx/error.log"),
            // Each extra argument quoted as one word: control.sh expands them with eval "set -- ...".
            shAssign("MTLS_NGINX_ARGS", (c.nginxArgs ?? []).map(shQuote).join(" ")),
            shAssign("MTLS_RELOAD_KIND", typeof c.reload === "object" ? "command" : c.reload),
            shAssign("MTLS_SYSTEMD_UNIT", c.systemdUnit ?? "nginx"),
            shAssign("MTLS_RELOAD_COMMAND", typeof c.reload === "object" ? c.reload.command : ""),
        );
    }
    return lines;
}

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
    const c = input.control;
    const currentPrefix = `${input.installDir}/current/`;
    const script = joinScript(
        [
            ...header("install", input),
            // A dedicated main config inside the release is tested there before 'current' moves.
            ...(c.kind === "dedicated" ? [shAssign("MTLS_CONF_IN_RELEASE", c.confFile.startsWith(currentPrefix) ? c.confFile.slice(currentPrefix.length) : "")] : []),
            shAssign("MTLS_EXPECT_HASH", input.expectedContentHash ?? ""),
            shAssign("MTLS_LIVE_CONNECT", connect),
            // The same endpoint for curl (no openssl on the target): URL host (IPv6 in brackets) and port.
            shAssign("MTLS_LIVE_URL_HOST", host.includes(":") ? `[${host}]` : host),
            shAssign("MTLS_LIVE_PORT", String(live.port)),
            shAssign("MTLS_LIVE_NAME", live.serverName ?? ""),
            shAssign("MTLS_LIVE_HOST_HEADER", live.serverName ?? live.hostHeader ?? (host.includes(":") ? `[${host}]` : host)),
            shAssign("MTLS_LIVE_CERT", live.certFile ?? "server.crt"),
            shAssign("MTLS_LIVE_HEADER", live.releaseHeader === false ? "0" : "1"),
            shAssign("MTLS_LIVE_TIMEOUT", String(live.timeoutSeconds ?? 10)),
            ...versionCheckParameters({ policy: input.versionPolicy ?? "refuse", sharedListen: input.sharedListen, changelogGlobs: input.changelogGlobs }),
        ],
        ["common.sh", "decode.sh", "version.sh", "lock.sh", "control.sh", "live.sh", "context.sh", "install.sh"],
    );
    return input.sudo ? sudoWrap(script, "mtls-nginx-install") : script;
}

/**
 * The delete script: removes the site only when `current` still points at this resource's release
 * (after a create-before-delete replacement, the new release owns the site and is left alone).
 * Dedicated: stops the instance (QUIT, then TERM), removes `current` and `releases/` (logs stay).
 * System: removes the include link (only when it points at this install), tests and reloads nginx,
 * then removes the files. Exit 0 when there is nothing to do.
 */
export function renderUninstallScript(input: UninstallScriptInput): string {
    validateUninstallScriptInput(input);
    const script = joinScript(header("uninstall", input), ["common.sh", "lock.sh", "control.sh", "uninstall.sh"]);
    return input.sudo ? sudoWrap(script, "mtls-nginx-uninstall") : script;
}
