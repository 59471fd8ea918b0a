/**
 * Validation (and normalization) of every user value that reaches an NGINX config.
 *
 * The renderer emits most values as bare nginx words, so a value is only accepted when it cannot
 * change the config's structure: no whitespace, quotes, `;`, `{`, `}`, `$` (variables), `#`, backslash,
 * control or format characters. The few values that need other characters (allowlisted DNs and CNs)
 * are escaped by `render.ts` and proven safe by test/unit/nginx/render.property.test.ts.
 *
 * Pure: no Pulumi, no I/O. Problems are collected as {@link InputError}s (input path + fix) and thrown
 * together with {@link throwIfAny}.
 */
import * as net from "net";
import * as posixPath from "path";
import { InputError, InputErrors, showValue, throwIfAny } from "../util/errors";
import { forbiddenNameCharacter, NAME_CHARACTER_FIX } from "../util/names";
import type { NginxConfInput, SiteSpec } from "./siteSpec";

const path = posixPath.posix;

/** Internal prefix of the error-page location; user locations may not start with it. */
export const ERROR_PAGES_URI = "/.mtls-errors/";

/** Largest accepted error page (bytes of UTF-8). */
export const MAX_ERROR_PAGE_BYTES = 64 * 1024;

/** Characters never allowed in a value emitted as a bare nginx word. */
const UNSAFE_WORD_CHARS = /[\s"'`;{}$#\\\p{C}\p{Z}]/u;

type Errors = InputError[];

const show = showValue;

function firstUnsafe(value: string, re: RegExp = UNSAFE_WORD_CHARS): string | undefined {
    const m = re.exec(value);
    if (!m) return undefined;
    const ch = m[0];
    const cp = ch.codePointAt(0) ?? 0;
    return cp < 0x20 || cp === 0x7f || /[\p{C}\p{Z}\s]/u.test(ch) ? `U+${cp.toString(16).toUpperCase().padStart(4, "0")}` : JSON.stringify(ch);
}

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkInteger(value: unknown, input: string, min: number, max: number, errors: Errors, what: string, example: string): value is number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        errors.push(new InputError(input, `${show(value)} is not ${what} (an integer from ${min} to ${max})`, `use e.g. ${example}`));
        return false;
    }
    return true;
}

function checkBoolean(value: unknown, input: string, errors: Errors): value is boolean {
    if (typeof value !== "boolean") {
        errors.push(new InputError(input, `${show(value)} is not a boolean`, "use true or false"));
        return false;
    }
    return true;
}

function checkStringArray(value: unknown, input: string, errors: Errors, opts: { nonEmpty: boolean; example: string }): value is string[] {
    if (!Array.isArray(value)) {
        errors.push(new InputError(input, `${show(value)} is not a list`, `give a list, e.g. ${opts.example}`));
        return false;
    }
    if (opts.nonEmpty && value.length === 0) {
        errors.push(new InputError(input, "the list is empty", `give at least one entry, e.g. ${opts.example}`));
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

export interface PathRules {
    /** `"file"` or `"directory"` (only used in messages and to refuse "/" for directories). */
    kind: "file" | "directory";
    /** Refuse `*`, `?`, `[`, `]` (nginx `include` treats them as a glob, silently matching nothing). */
    noGlob?: boolean;
}

/**
 * An absolute, normalized POSIX path that is safe as a bare nginx word: no whitespace, quotes, `;`, `{`,
 * `}`, `$`, `#`, backslash, control/format/unassigned characters or lone surrogates; no `.`/`..`
 * segments, no `//`, no trailing `/`; at most {@link MAX_TOKEN_BYTES} bytes with segments of at most 255 bytes.
 */
export function checkAbsolutePath(value: unknown, input: string, errors: Errors, rules: PathRules): value is string {
    const example = rules.kind === "file" ? "/etc/mtls-nginx/site/server.crt" : "/var/lib/mtls-nginx/site";
    if (typeof value !== "string" || value.length === 0) {
        errors.push(new InputError(input, `${show(value)} is not a path`, `give an absolute path such as ${example}`));
        return false;
    }
    if (!value.startsWith("/")) {
        errors.push(new InputError(input, `${show(value)} is not an absolute path`, `give an absolute path on the target, such as ${example}`));
        return false;
    }
    const bad = firstUnsafe(value);
    if (bad) {
        errors.push(
            new InputError(
                input,
                `path ${show(value)} contains ${bad}, which cannot appear in an nginx path`,
                "use a path without whitespace, quotes, ; { } $ # \\ or control characters (rename the file or directory)",
            ),
        );
        return false;
    }
    if (rules.noGlob && /[*?[\]]/.test(value)) {
        errors.push(new InputError(input, `path ${show(value)} contains a glob character (* ? [ ])`, "nginx include would treat it as a pattern; use a plain file path"));
        return false;
    }
    if (path.normalize(value) !== value || (value.length > 1 && value.endsWith("/"))) {
        const fixed = path.normalize(value).replace(/(.)\/$/, "$1");
        errors.push(new InputError(input, `path ${show(value)} is not normalized (., .., // or a trailing /)`, `write it as ${show(fixed)}`));
        return false;
    }
    if (value === "/" && rules.kind === "directory") {
        errors.push(new InputError(input, `"/" (the filesystem root) is not a sensible directory here`, `use a directory of its own, such as ${example}`));
        return false;
    }
    if (Buffer.byteLength(value, "utf8") > MAX_TOKEN_BYTES || value.split("/").some((s) => Buffer.byteLength(s, "utf8") > 255)) {
        errors.push(new InputError(input, `path ${show(value)} is too long (max ${MAX_TOKEN_BYTES} bytes, 255 per segment)`, "use a shorter path"));
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Names and addresses
// ---------------------------------------------------------------------------------------------

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** RFC 1123 host name (letters, digits, hyphens; labels of 1..63; at most 253 characters). */
export function isHostname(value: string): boolean {
    if (value.length === 0 || value.length > 253) return false;
    return value.split(".").every((label) => LABEL.test(label));
}

/** The canonical text of an IPv6 literal (WHATWG form, lowercase, compressed), or undefined. */
export function canonicalIPv6(value: string): string | undefined {
    const bare = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
    if (!net.isIPv6(bare) || bare.includes("%")) return undefined;
    try {
        return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    } catch {
        return undefined;
    }
}

function isMappedIPv4(canonical: string): boolean {
    return /^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(canonical);
}

/**
 * A server name as nginx will get it (lowercase; IPv6 literals in brackets, canonical form).
 * Returns undefined when the value is not acceptable.
 */
export function normalizeServerName(value: string): string | undefined {
    if (net.isIPv4(value)) return value;
    const v6 = canonicalIPv6(value);
    if (v6 !== undefined) return `[${v6}]`;
    const lower = value.toLowerCase();
    if (lower.startsWith("*.")) return isHostname(lower.slice(2)) ? lower : undefined;
    return isHostname(lower) ? lower : undefined;
}

function checkServerName(value: unknown, input: string, errors: Errors): value is string {
    if (typeof value !== "string" || normalizeServerName(value) === undefined) {
        errors.push(
            new InputError(
                input,
                `${show(value)} is not a host name (RFC 1123), a leading wildcard or an IP literal`,
                `use e.g. "app.example.com", "*.example.com", "localhost" or "10.0.0.5" (letters, digits, hyphens and dots only)`,
            ),
        );
        return false;
    }
    return true;
}

/** A listen address as nginx wants it: `*`, an IPv4 literal, or a bracketed canonical IPv6 literal. */
export function normalizeListenAddress(value: string, allowStar: boolean): string | undefined {
    if (value === "*" && allowStar) return "*";
    if (net.isIPv4(value)) {
        const first = Number(value.split(".")[0]);
        if (first >= 224 && value !== "0.0.0.0") return undefined; // multicast / reserved / broadcast
        return value;
    }
    const v6 = canonicalIPv6(value);
    // Not IPv4-mapped (unbindable with nginx's ipv6only=on), multicast (ff00::/8) or link-local
    // (fe80::/10: needs a zone id, which nginx's listen cannot take).
    if (v6 === undefined || isMappedIPv4(v6) || /^ff[0-9a-f]{2}:/.test(v6) || /^fe[89ab][0-9a-f]:/.test(v6)) return undefined;
    return `[${v6}]`;
}

function checkListenAddress(value: unknown, input: string, errors: Errors, ipv6Only: boolean): void {
    const ok =
        typeof value === "string" &&
        (ipv6Only ? canonicalIPv6(value) !== undefined && normalizeListenAddress(value, false)?.startsWith("[") : normalizeListenAddress(value, true) !== undefined);
    if (!ok) {
        errors.push(
            new InputError(
                input,
                `${show(value)} is not ${ipv6Only ? "an IPv6 address" : "an IPv4 or IPv6 address or *"} nginx can listen on`,
                ipv6Only
                    ? `use an IPv6 literal such as "::" (all) or "2001:db8::10"; no zone ids, no IPv4-mapped, link-local or multicast addresses`
                    : `use "0.0.0.0" (all IPv4), "*", "127.0.0.1", "::" or another unicast literal; no host names, zone ids, IPv4-mapped, link-local or multicast addresses`,
            ),
        );
    }
}

/** `[a-z0-9-]`, 1..32 characters, not starting or ending with "-". */
export const SITE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/** The nginx variable-name fragment for a site (hyphens become underscores; injective for site names). */
export function siteVariableSuffix(siteName: string): string {
    return siteName.replace(/-/g, "_");
}

// ---------------------------------------------------------------------------------------------
// Upstream URL, header prefix, location paths, index names, release marker
// ---------------------------------------------------------------------------------------------

const CANONICAL_UPSTREAM = /^https?:\/\/(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?(?:\/[A-Za-z0-9._~!&()*+,=:@%/-]*)?$/;

/**
 * Parses an upstream URL with the WHATWG URL parser and returns the canonical text nginx gets
 * (lowercase scheme and host, IDN as punycode, default port dropped, path percent-encoded), or an
 * error message. The canonical form contains only characters that are safe in a bare nginx word.
 */
export function canonicalUpstream(value: string): { url: string } | { problem: string; fix: string } {
    const fixGeneric = `write it as http(s)://host[:port][/path], e.g. "http://127.0.0.1:8080" or "https://backend.internal/app"`;
    if (value.length > 2048) return { problem: "the URL is longer than 2048 characters", fix: "use a shorter URL" };
    const bad = firstUnsafe(value, /[\s"'`;{}$#\\<>^|\p{C}\p{Z}]/u);
    if (bad) return { problem: `${show(value)} contains ${bad}`, fix: `${fixGeneric}; percent-encode other characters in the path` };
    if (value.includes("?")) return { problem: `${show(value)} has a query string`, fix: "leave out the ?query; nginx passes the client's query on" };
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return { problem: `${show(value)} is not a URL`, fix: fixGeneric };
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return { problem: `scheme ${show(url.protocol)} is not http or https`, fix: fixGeneric };
    if (url.username !== "" || url.password !== "") return { problem: "the URL contains credentials", fix: "remove user:password@ (the upstream should trust the identity headers from nginx, not a shared password in the config)" };
    if (url.search !== "" || url.hash !== "") return { problem: "the URL has a query or fragment", fix: fixGeneric };
    if (url.hostname === "" || url.hostname.endsWith(".")) return { problem: `host ${show(url.hostname)} is empty or ends with a dot`, fix: fixGeneric };
    if (url.port === "0") return { problem: "port 0 is not a port", fix: "use a port from 1 to 65535" };
    const hasPath = /^[a-z][a-z0-9+.-]*:\/\/[^/]*\//i.test(value);
    const canonical = `${url.protocol}//${url.host}${hasPath ? url.pathname : ""}`;
    if (!CANONICAL_UPSTREAM.test(canonical)) return { problem: `${show(value)} has characters nginx cannot take in proxy_pass`, fix: `${fixGeneric}; percent-encode other characters in the path` };
    if (canonical.length > MAX_TOKEN_BYTES) return { problem: `the URL is ${canonical.length} characters once percent-encoded, more than the ${MAX_TOKEN_BYTES} an nginx config token may have`, fix: "use a shorter URL" };
    return { url: canonical };
}

/**
 * Header prefix: an HTTP token restricted to letters, digits and "-", starting with a letter, 1..32
 * characters. The cap keeps the longest identity header (`<prefix>Days-Remaining`) at 46 characters,
 * the most nginx's default `proxy_headers_hash_bucket_size` (64 bytes on 64-bit) can hold
 * ("could not build proxy_headers_hash" otherwise).
 */
export const HEADER_PREFIX_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;

/**
 * Location path: "/" then segments of `[A-Za-z0-9._~@:+,=!-]`, no `.`/`..` segments, no `//`, at most 1024
 * characters. One flat character class and plain string checks: the former `^\/(?:[…]+\/?)*$` nested two
 * quantifiers over the same characters and took exponential time on a path ending in a refused character
 * (`"/reports/" + 26 × "x" + "?"`: minutes per call).
 */
export function isSafeLocationPath(value: string): boolean {
    if (value.length > 1024 || !/^\/[A-Za-z0-9._~@:+,=!\/-]*$/.test(value) || value.includes("//")) return false;
    return !value.split("/").some((s) => s === "." || s === "..");
}

/** Index file name: `[A-Za-z0-9._~+@=,-]`, not starting with ".", at most 255 characters. */
export const INDEX_NAME_PATTERN = /^[A-Za-z0-9_~+@=,-][A-Za-z0-9._~+@=,-]{0,254}$/;

/** Release marker (a content hash: hex or base64). */
export const RELEASE_MARKER_PATTERN = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/** Zone suffix (a short hash). */
export const ZONE_SUFFIX_PATTERN = /^[a-z0-9]{1,16}$/;

// ---------------------------------------------------------------------------------------------
// Escaping (used by render.ts; here so that validation can measure what will be rendered)
// ---------------------------------------------------------------------------------------------

/**
 * nginx reads a config file through a 4096-byte buffer and refuses a single token that fills it
 * ("too long parameter"); we keep every rendered token at or below this many bytes.
 */
export const MAX_TOKEN_BYTES = 4000;

/**
 * Quotes a string as one nginx token: inside double quotes the tokenizer turns `\\` into `\` and
 * `\"` into `"` and keeps everything else, so the token nginx reads is exactly `value`.
 * Only for values without control characters (validated).
 */
export function nginxQuote(value: string): string {
    return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * A PCRE pattern matching `value` literally: every ASCII character other than a letter or digit gets
 * a backslash (in PCRE a backslash before a non-alphanumeric character always means that character);
 * non-ASCII characters are literals already.
 */
export function pcreLiteral(value: string): string {
    return value.replace(/[\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/g, (c) => "\\" + c);
}

/**
 * The PCRE (before nginx quoting) that matches an RFC 2253 DN, as nginx prints `$ssl_client_s_dn`,
 * whose FIRST CN attribute (the most specific) is exactly `commonName`. It walks the DN attribute by
 * attribute from the start (a value is a run of non-separators and `\x` escapes), so a `CN=` inside
 * another attribute's value can never be taken for the CN. Case-sensitive.
 */
export function commonNamePattern(commonName: string): string {
    return String.raw`^(?:(?!CN=)(?:[^\\,+]|\\.)*[,+])*CN=` + pcreLiteral(rfc2253EscapeValue(commonName)) + String.raw`(?:[,+]|\z)`;
}

/** The PCRE (before nginx quoting) that matches exactly the DN `dn` (as nginx prints it). Case-sensitive. */
export function subjectDnPattern(dn: string): string {
    return "^" + pcreLiteral(dn) + String.raw`\z`;
}

/** The map key rendered for a DN/CN pattern: a quoted regex key. */
export function regexMapKey(pattern: string): string {
    return nginxQuote("~" + pattern);
}

// ---------------------------------------------------------------------------------------------
// Allowlist entries
// ---------------------------------------------------------------------------------------------

/**
 * A serial number in nginx's `$ssl_client_serial` form: OpenSSL's `i2a_ASN1_INTEGER`, i.e. the
 * magnitude as whole bytes of uppercase hex without leading zero bytes (`0FAB12`, `FF`, `80FF01`,
 * `01`; zero is `00`). Accepts `0fab12`, `0F:AB:12`, `0x0fab12`, `fab12`, `00:0f:ab:12`.
 * Returns undefined for anything else (negative, non-hex, more than 20 significant bytes).
 */
export function normalizeSerial(value: string): string | undefined {
    const m = /^(?:0x)?([0-9A-Fa-f]+(?::[0-9A-Fa-f]+)*)$/.exec(value);
    if (!m) return undefined;
    if (m[1].includes(":") && !/^[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{2})*$/.test(m[1])) return undefined;
    let hex = m[1].replace(/:/g, "").toUpperCase().replace(/^0+/, "");
    if (hex.length > 40) return undefined;
    if (hex.length === 0) return "00";
    if (hex.length % 2 === 1) hex = "0" + hex;
    return hex;
}

/** A SHA-1 fingerprint in nginx's `$ssl_client_fingerprint` form (40 lowercase hex digits), or undefined. */
export function normalizeFingerprintSha1(value: string): string | undefined {
    const hex = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){19}$/.test(value) ? value.replace(/:/g, "") : value;
    return /^[0-9A-Fa-f]{40}$/.test(hex) ? hex.toLowerCase() : undefined;
}

/**
 * Escapes an attribute value the way nginx prints it in `$ssl_client_s_dn` (OpenSSL `X509_NAME_print_ex`
 * with `XN_FLAG_RFC2253`): `, + " \ < > ;` get a backslash, a leading `#` or space and a trailing space
 * get a backslash, and every byte of a non-ASCII character becomes `\XX` (uppercase hex of its UTF-8).
 * The value must not contain control characters (see {@link checkCommonName}).
 */
export function rfc2253EscapeValue(value: string): string {
    const chars = Array.from(value);
    return chars
        .map((ch, i) => {
            const cp = ch.codePointAt(0) ?? 0;
            if (cp > 0x7e) {
                return [...Buffer.from(ch, "utf8")].map((b) => "\\" + b.toString(16).toUpperCase().padStart(2, "0")).join("");
            }
            if (',+"\\<>;'.includes(ch)) return "\\" + ch;
            if (i === 0 && (ch === "#" || ch === " ")) return "\\" + ch;
            if (i === chars.length - 1 && ch === " ") return "\\ ";
            return ch;
        })
        .join("");
}

/** An RFC 2253 DN as nginx prints it: `TYPE=value` pairs joined by "," or "+", printable ASCII only. */
const RFC2253_ATTR = String.raw`(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)=(?:[^\\,+"<>;\x00-\x1f\x7f-\uffff]|\\[\x20-\x7e])*`;
const RFC2253_DN = new RegExp(`^${RFC2253_ATTR}(?:[,+]${RFC2253_ATTR})*$`);

function checkSubjectDn(value: unknown, input: string, errors: Errors): void {
    const example = `"CN=alice,O=Example Corp" (what openssl x509 -noout -subject -nameopt RFC2253 prints after subject=)`;
    if (typeof value !== "string" || value.length === 0 || value.length > 2048) {
        errors.push(new InputError(input, `${show(value)} is not a distinguished name`, `give the DN as nginx reports it, e.g. ${example}`));
        return;
    }
    if (/[^\x20-\x7e]/.test(value)) {
        errors.push(
            new InputError(
                input,
                `DN ${show(value)} contains ${firstUnsafe(value, /[^\x20-\x7e]/u)}; nginx reports non-ASCII as \\XX UTF-8 escapes and never contains control characters, so this entry could never match`,
                `write non-ASCII characters as nginx prints them, e.g. "CN=Jos\\C3\\A9" for "José" (openssl x509 -noout -subject -nameopt RFC2253)`,
            ),
        );
        return;
    }
    if (!RFC2253_DN.test(value)) {
        errors.push(
            new InputError(
                input,
                `${show(value)} is not an RFC 2253 DN as nginx reports it (TYPE=value joined by "," with no spaces, special characters escaped with \\)`,
                `write it as nginx reports it, e.g. ${example}`,
            ),
        );
        return;
    }
    const decoded = decodeRfc2253Escapes(value);
    const bad = decoded === undefined ? "bytes that are not UTF-8" : forbiddenNameCharacter(decoded);
    if (bad) {
        errors.push(new InputError(input, `DN ${show(value)} contains ${bad} once its \\XX escapes are decoded`, NAME_CHARACTER_FIX));
        return;
    }
    checkTokenLength(regexMapKey(subjectDnPattern(value)), value, input, errors);
}

/** The DN text with its `\\XX` (UTF-8 byte) and `\\c` escapes decoded; undefined when the bytes are not UTF-8. */
function decodeRfc2253Escapes(dn: string): string | undefined {
    const bytes: number[] = [];
    for (let i = 0; i < dn.length; i++) {
        const hex = dn[i] === "\\" ? /^[0-9A-Fa-f]{2}/.exec(dn.slice(i + 1, i + 3)) : null;
        if (hex) {
            bytes.push(parseInt(hex[0], 16));
            i += 2;
        } else {
            if (dn[i] === "\\") i++;
            bytes.push(dn.charCodeAt(i)); // printable ASCII (checked before)
        }
    }
    try {
        return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
    } catch {
        return undefined;
    }
}

function checkTokenLength(token: string, value: string, input: string, errors: Errors): void {
    const bytes = Buffer.byteLength(token, "utf8");
    if (bytes > MAX_TOKEN_BYTES) {
        errors.push(new InputError(input, `${show(value)} is too long: escaped for nginx it takes ${bytes} bytes, more than the ${MAX_TOKEN_BYTES} an nginx config token may have`, "use a shorter value (or another kind of allowlist entry, e.g. the serial)"));
    }
}

function checkCommonName(value: unknown, input: string, errors: Errors): void {
    if (typeof value !== "string" || value.length === 0 || Array.from(value).length > 256) {
        errors.push(new InputError(input, `${show(value)} is not a common name`, `give the CN as issued, e.g. "alice" or "build-agent-7" (1 to 256 characters)`));
        return;
    }
    const bad = forbiddenNameCharacter(value);
    if (bad) {
        errors.push(new InputError(input, `common name ${show(value)} contains ${bad}`, NAME_CHARACTER_FIX));
        return;
    }
    checkTokenLength(regexMapKey(commonNamePattern(value)), value, input, errors);
}

// ---------------------------------------------------------------------------------------------
// The site
// ---------------------------------------------------------------------------------------------

function checkFilePaths(paths: unknown, input: string, errors: Errors): void {
    if (!isObject(paths)) {
        errors.push(new InputError(input, `${show(paths)} is not an object`, "give certificate, certificateKey, clientCa and errorPagesDir paths"));
        return;
    }
    checkAbsolutePath(paths.certificate, `${input}.certificate`, errors, { kind: "file" });
    checkAbsolutePath(paths.certificateKey, `${input}.certificateKey`, errors, { kind: "file" });
    checkAbsolutePath(paths.clientCa, `${input}.clientCa`, errors, { kind: "file" });
    if (paths.trustedCa !== undefined) checkAbsolutePath(paths.trustedCa, `${input}.trustedCa`, errors, { kind: "file" });
    if (paths.crl !== undefined) checkAbsolutePath(paths.crl, `${input}.crl`, errors, { kind: "file" });
    checkAbsolutePath(paths.errorPagesDir, `${input}.errorPagesDir`, errors, { kind: "directory" });
}

function checkMode(mode: unknown, input: string, errors: Errors): void {
    if (!isObject(mode) || (mode.kind !== "proxy" && mode.kind !== "static")) {
        errors.push(new InputError(`${input}.kind`, `${show(isObject(mode) ? mode.kind : mode)} is not a site mode`, `use { kind: "proxy", upstream: "http://127.0.0.1:8080" } or { kind: "static", root: "/var/www/app" }`));
        return;
    }
    if (mode.kind === "proxy") {
        if (typeof mode.upstream !== "string") {
            errors.push(new InputError(`${input}.upstream`, `${show(mode.upstream)} is not a URL`, `use e.g. "http://127.0.0.1:8080"`));
        } else {
            const result = canonicalUpstream(mode.upstream);
            if ("problem" in result) errors.push(new InputError(`${input}.upstream`, result.problem, result.fix));
        }
        checkBoolean(mode.forwardClientCertificate, `${input}.forwardClientCertificate`, errors);
        if (typeof mode.headerPrefix !== "string" || !HEADER_PREFIX_PATTERN.test(mode.headerPrefix)) {
            errors.push(
                new InputError(`${input}.headerPrefix`, `${show(mode.headerPrefix)} is not a usable header-name prefix`, `use letters, digits and "-", starting with a letter, e.g. "X-Client-" (1 to 32 characters: longer header names overflow nginx's proxy header hash)`),
            );
        }
    } else {
        checkAbsolutePath(mode.root, `${input}.root`, errors, { kind: "directory" });
        if (checkStringArray(mode.index, `${input}.index`, errors, { nonEmpty: true, example: `["index.html"]` })) {
            mode.index.forEach((name, i) => {
                if (typeof name !== "string" || !INDEX_NAME_PATTERN.test(name) || name === "..") {
                    errors.push(new InputError(`${input}.index[${i}]`, `${show(name)} is not a plain file name`, `use e.g. "index.html" (letters, digits, . _ ~ + @ = , -; not starting with ".")`));
                }
            });
        }
    }
}

function checkAllow(allow: unknown, input: string, errors: Errors): void {
    if (!isObject(allow)) {
        errors.push(new InputError(input, `${show(allow)} is not an object`, "give { subjectDns?, commonNames?, serials?, fingerprintsSha1? }, or leave it out to admit every verified client"));
        return;
    }
    let total = 0;
    let malformed = false;
    const lists: [keyof typeof allow, (v: unknown, p: string, e: Errors) => void, (v: string) => string][] = [
        ["subjectDns", checkSubjectDn, (v) => v],
        ["commonNames", checkCommonName, (v) => v],
        [
            "serials",
            (v, p, e) => {
                if (typeof v !== "string" || normalizeSerial(v) === undefined) {
                    e.push(new InputError(p, `${show(v)} is not a certificate serial number in hex`, `use hex digits as openssl x509 -noout -serial prints them, e.g. "0FAB12" or "0f:ab:12" (at most 20 bytes, not negative)`));
                }
            },
            (v) => normalizeSerial(v) ?? v,
        ],
        [
            "fingerprintsSha1",
            (v, p, e) => {
                if (typeof v !== "string" || normalizeFingerprintSha1(v) === undefined) {
                    e.push(new InputError(p, `${show(v)} is not a SHA-1 fingerprint`, `give 40 hex digits, colons allowed, as openssl x509 -noout -fingerprint -sha1 prints them`));
                }
            },
            (v) => normalizeFingerprintSha1(v) ?? v,
        ],
    ];
    for (const [key, check, normalize] of lists) {
        const list = allow[key];
        if (list === undefined) continue;
        const p = `${input}.${String(key)}`;
        if (!checkStringArray(list, p, errors, { nonEmpty: false, example: `["..."]` })) {
            malformed = true;
            continue;
        }
        total += list.length;
        const seen = new Map<string, number>();
        list.forEach((entry, i) => {
            const before = errors.length;
            check(entry, `${p}[${i}]`, errors);
            if (errors.length !== before || typeof entry !== "string") return;
            const norm = normalize(entry);
            const first = seen.get(norm);
            if (first !== undefined) {
                errors.push(new InputError(`${p}[${i}]`, `${show(entry)} repeats ${p}[${first}]`, "remove the duplicate"));
            } else {
                seen.set(norm, i);
            }
        });
    }
    if (total === 0 && !malformed) {
        errors.push(new InputError(input, "the allowlist has no entries, which would admit nobody", "add entries, or leave out allow to admit every certificate signed by the client CA"));
    }
}

/**
 * Validates a site (defaults applied). Collects every problem with its input path under `inputPath`
 * (e.g. `site.serverNames[1]`) and throws them together.
 */
export function validateSiteSpec(spec: SiteSpec, inputPath = "site"): void {
    const errors: Errors = [];
    const p = inputPath;
    const s = spec as unknown;
    if (!isObject(s)) {
        throwIfAny([new InputError(p, `${show(s)} is not a site description`, "pass an object with siteName, serverNames, paths, mode, ...")]);
        return;
    }
    if (typeof s.siteName !== "string" || !SITE_NAME_PATTERN.test(s.siteName)) {
        errors.push(new InputError(`${p}.siteName`, `${show(s.siteName)} is not a site name`, `use 1 to 32 lowercase letters, digits and "-" (not at either end), e.g. "app" or "team-portal"`));
    }

    if (!isObject(s.listen)) {
        errors.push(new InputError(`${p}.listen`, `${show(s.listen)} is not an object`, `give { address: "0.0.0.0", port: 443, http2: true }`));
    } else {
        checkListenAddress(s.listen.address, `${p}.listen.address`, errors, false);
        checkInteger(s.listen.port, `${p}.listen.port`, 1, 65535, errors, "a TCP port", "443");
        checkBoolean(s.listen.http2, `${p}.listen.http2`, errors);
        if (s.listen.ipv6Address !== undefined) {
            const before = errors.length;
            checkListenAddress(s.listen.ipv6Address, `${p}.listen.ipv6Address`, errors, true);
            if (errors.length === before && typeof s.listen.address === "string" && normalizeListenAddress(s.listen.address, true) === normalizeListenAddress(s.listen.ipv6Address as string, false)) {
                errors.push(new InputError(`${p}.listen.ipv6Address`, `${show(s.listen.ipv6Address)} is the same address as listen.address (nginx refuses a duplicate listen)`, "leave ipv6Address out, or give another IPv6 address"));
            }
        }
    }

    if (checkStringArray(s.serverNames, `${p}.serverNames`, errors, { nonEmpty: true, example: `["app.example.com"]` })) {
        const seen = new Map<string, number>();
        s.serverNames.forEach((name, i) => {
            if (!checkServerName(name, `${p}.serverNames[${i}]`, errors)) return;
            const norm = normalizeServerName(name)!;
            const first = seen.get(norm);
            if (first !== undefined) errors.push(new InputError(`${p}.serverNames[${i}]`, `${show(name)} repeats serverNames[${first}]`, "remove the duplicate"));
            else seen.set(norm, i);
        });
    }

    if (s.tlsProtocols !== "TLSv1.2+TLSv1.3" && s.tlsProtocols !== "TLSv1.3") {
        errors.push(new InputError(`${p}.tlsProtocols`, `${show(s.tlsProtocols)} is not a supported protocol policy`, `use "TLSv1.2+TLSv1.3" (Mozilla intermediate) or "TLSv1.3" (Mozilla modern)`));
    }
    if (s.verifyClient !== "on" && s.verifyClient !== "optional") {
        const fix = s.verifyClient === "optional_no_ca" ? `"optional_no_ca" admits certificates that failed verification; use "optional" and let locations that need a certificate check it` : `use "on" or "optional"`;
        errors.push(new InputError(`${p}.verifyClient`, `${show(s.verifyClient)} is not a supported client verification mode`, fix));
    }
    checkInteger(s.verifyDepth, `${p}.verifyDepth`, 1, 10, errors, "a verification depth", "1 (client certificates signed by a root) or 2 (with one intermediate)");
    checkFilePaths(s.paths, `${p}.paths`, errors);

    if (!isObject(s.sessionCache)) {
        errors.push(new InputError(`${p}.sessionCache`, `${show(s.sessionCache)} is not an object`, "give { sizeMb: 10, timeoutMinutes: 60 }"));
    } else {
        checkInteger(s.sessionCache.sizeMb, `${p}.sessionCache.sizeMb`, 1, 1024, errors, "a size in MB", "10");
        checkInteger(s.sessionCache.timeoutMinutes, `${p}.sessionCache.timeoutMinutes`, 1, 1440, errors, "a timeout in minutes", "60");
        const suffix = s.sessionCache.zoneSuffix;
        if (suffix !== undefined && (typeof suffix !== "string" || !ZONE_SUFFIX_PATTERN.test(suffix))) {
            errors.push(new InputError(`${p}.sessionCache.zoneSuffix`, `${show(suffix)} is not a zone suffix`, "use 1 to 16 lowercase letters and digits, e.g. the first 8 hex digits of a hash of the CA bundle and CRL"));
        }
    }

    if (s.hsts !== false) {
        if (!isObject(s.hsts)) {
            errors.push(new InputError(`${p}.hsts`, `${show(s.hsts)} is neither false nor an object`, "give false or { maxAgeSeconds: 63072000, includeSubDomains: false }"));
        } else {
            checkInteger(s.hsts.maxAgeSeconds, `${p}.hsts.maxAgeSeconds`, 0, 2 ** 31 - 1, errors, "a max-age in seconds", "63072000 (two years)");
            checkBoolean(s.hsts.includeSubDomains, `${p}.hsts.includeSubDomains`, errors);
        }
    }

    checkMode(s.mode, `${p}.mode`, errors);

    if (s.locations !== undefined && checkStringArray(s.locations, `${p}.locations`, errors, { nonEmpty: true, example: `[{ path: "/", requireClientCertificate: true }]` })) {
        const seen = new Map<string, number>();
        (s.locations as unknown[]).forEach((loc, i) => {
            const lp = `${p}.locations[${i}]`;
            if (!isObject(loc)) {
                errors.push(new InputError(lp, `${show(loc)} is not an object`, `give { path: "/", requireClientCertificate: true }`));
                return;
            }
            if (typeof loc.path !== "string" || !isSafeLocationPath(loc.path)) {
                errors.push(new InputError(`${lp}.path`, `${show(loc.path)} is not a usable location path`, `start with "/" and use letters, digits and . _ ~ @ : + , = ! - between single slashes, e.g. "/api/"`));
            } else if (loc.path.startsWith(ERROR_PAGES_URI.slice(0, -1))) {
                errors.push(new InputError(`${lp}.path`, `${show(loc.path)} is reserved for the error pages`, `use a path that does not start with ${ERROR_PAGES_URI.slice(0, -1)}`));
            } else {
                const first = seen.get(loc.path);
                if (first !== undefined) errors.push(new InputError(`${lp}.path`, `${show(loc.path)} repeats locations[${first}]`, "merge the two entries"));
                else seen.set(loc.path, i);
            }
            if (checkBoolean(loc.requireClientCertificate, `${lp}.requireClientCertificate`, errors) && !loc.requireClientCertificate && s.verifyClient === "on") {
                errors.push(
                    new InputError(
                        `${lp}.requireClientCertificate`,
                        `a location without a client certificate needs verifyClient "optional" (with "on" nginx refuses every request without one)`,
                        `set verifyClient to "optional", or requireClientCertificate to true`,
                    ),
                );
            }
        });
    }

    if (s.allow !== undefined) checkAllow(s.allow, `${p}.allow`, errors);

    if (s.errorPages !== undefined) {
        if (!isObject(s.errorPages)) {
            errors.push(new InputError(`${p}.errorPages`, `${show(s.errorPages)} is not an object`, "give { 495?: html, 496?: html, 403?: html }"));
        } else {
            for (const [key, html] of Object.entries(s.errorPages)) {
                const ep = `${p}.errorPages.${key}`;
                if (!["495", "496", "403"].includes(key)) {
                    errors.push(new InputError(ep, `there is no error page ${show(key)}`, "use 495, 496 or 403"));
                } else if (html !== undefined && typeof html !== "string") {
                    errors.push(new InputError(ep, `${show(html)} is not HTML text`, "give the page as a string"));
                } else if (typeof html === "string" && Buffer.byteLength(html, "utf8") > MAX_ERROR_PAGE_BYTES) {
                    errors.push(new InputError(ep, `the page is ${Buffer.byteLength(html, "utf8")} bytes, more than ${MAX_ERROR_PAGE_BYTES}`, "keep error pages small and self-contained (inline CSS, no images)"));
                }
            }
        }
    }

    if (s.releaseMarker !== undefined && (typeof s.releaseMarker !== "string" || !RELEASE_MARKER_PATTERN.test(s.releaseMarker))) {
        errors.push(new InputError(`${p}.releaseMarker`, `${show(s.releaseMarker)} is not a release marker`, "use a content hash: 1 to 128 characters of letters, digits and . _ : + / = -"));
    }
    throwIfAny(errors);
}

/**
 * Validates the sites one nginx will serve together: each site, plus what only shows up across sites
 * (nginx would warn and ignore a repeated server name, or fail on a repeated zone; HTTP/2 is a property
 * of the address:port in nginx 1.22).
 */
export function validateSiteSpecs(specs: SiteSpec[], inputPath = "sites"): void {
    const errors: Errors = [];
    if (!Array.isArray(specs)) {
        throwIfAny([new InputError(inputPath, `${show(specs)} is not a list of sites`, "pass a list")]);
        return;
    }
    specs.forEach((spec, i) => {
        try {
            validateSiteSpec(spec, `${inputPath}[${i}]`);
        } catch (e) {
            if (e instanceof InputError) errors.push(e);
            else if (e instanceof InputErrors) errors.push(...e.errors);
            else throw e;
        }
    });
    if (errors.length === 0) {
        const names = new Map<string, number>();
        const serverNames = new Map<string, string>();
        const http2 = new Map<string, { value: boolean; index: number }>();
        specs.forEach((spec, i) => {
            const first = names.get(spec.siteName);
            if (first !== undefined) errors.push(new InputError(`${inputPath}[${i}].siteName`, `${show(spec.siteName)} is also the name of ${inputPath}[${first}]`, "give every site its own name"));
            else names.set(spec.siteName, i);
            // "*" and 0.0.0.0 are the same address to nginx.
            const addresses = [normalizeListenAddress(spec.listen.address, true)!.replace(/^\*$/, "0.0.0.0"), ...(spec.listen.ipv6Address ? [normalizeListenAddress(spec.listen.ipv6Address, false)!] : [])];
            spec.serverNames.forEach((name, j) => {
                for (const address of addresses) {
                    const key = `${address}:${spec.listen.port} ${normalizeServerName(name)}`;
                    const other = serverNames.get(key);
                    if (other !== undefined && !other.startsWith(`${inputPath}[${i}]`)) {
                        errors.push(new InputError(`${inputPath}[${i}].serverNames[${j}]`, `${show(name)} on ${address}:${spec.listen.port} is also a server name of ${other}`, "nginx would ignore one of them; give each site its own names"));
                    } else {
                        serverNames.set(key, `${inputPath}[${i}].serverNames[${j}]`);
                    }
                }
            });
            for (const address of addresses) {
                const key = `${address}:${spec.listen.port}`;
                const seen = http2.get(key);
                if (seen && seen.value !== spec.listen.http2) {
                    errors.push(
                        new InputError(`${inputPath}[${i}].listen.http2`, `${key} is shared with ${inputPath}[${seen.index}], which sets http2 ${seen.value}`, "nginx enables HTTP/2 for a whole address:port; give sites on the same address:port the same http2 setting"),
                    );
                } else if (!seen) {
                    http2.set(key, { value: spec.listen.http2, index: i });
                }
            }
        });
    }
    throwIfAny(errors);
}

// ---------------------------------------------------------------------------------------------
// nginx.conf
// ---------------------------------------------------------------------------------------------

const LOG_LEVELS = ["debug", "info", "notice", "warn", "error", "crit"];

/** Validates the input of `renderNginxConf`. */
export function validateNginxConfInput(input: NginxConfInput, inputPath = "nginx"): void {
    const errors: Errors = [];
    const p = inputPath;
    const s = input as unknown;
    if (!isObject(s)) {
        throwIfAny([new InputError(p, `${show(s)} is not an object`, "pass { prefix, pidFile, errorLog, siteIncludes, tempDir }")]);
        return;
    }
    checkAbsolutePath(s.prefix, `${p}.prefix`, errors, { kind: "directory" });
    checkAbsolutePath(s.pidFile, `${p}.pidFile`, errors, { kind: "file" });
    checkAbsolutePath(s.errorLog, `${p}.errorLog`, errors, { kind: "file" });
    if (s.errorLogLevel !== undefined && !LOG_LEVELS.includes(s.errorLogLevel as string)) {
        errors.push(new InputError(`${p}.errorLogLevel`, `${show(s.errorLogLevel)} is not an nginx log level`, `use one of ${LOG_LEVELS.join(", ")}`));
    }
    if (s.accessLog !== undefined && s.accessLog !== false) checkAbsolutePath(s.accessLog, `${p}.accessLog`, errors, { kind: "file" });
    if (s.workerProcesses !== undefined && s.workerProcesses !== "auto") {
        checkInteger(s.workerProcesses, `${p}.workerProcesses`, 1, 1024, errors, "a number of worker processes", `"auto" or 2`);
    }
    checkAbsolutePath(s.tempDir, `${p}.tempDir`, errors, { kind: "directory" });
    if (checkStringArray(s.siteIncludes, `${p}.siteIncludes`, errors, { nonEmpty: false, example: `["/etc/mtls-nginx/sites/app.conf"]` })) {
        const seen = new Map<string, number>();
        s.siteIncludes.forEach((file, i) => {
            if (!checkAbsolutePath(file, `${p}.siteIncludes[${i}]`, errors, { kind: "file", noGlob: true })) return;
            const first = seen.get(file);
            if (first !== undefined) errors.push(new InputError(`${p}.siteIncludes[${i}]`, `${show(file)} repeats siteIncludes[${first}]`, "include each site once"));
            else seen.set(file, i);
        });
    }
    throwIfAny(errors);
}
