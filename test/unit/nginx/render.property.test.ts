/**
 * Injection resistance, property-based: for EACH user value that reaches the nginx config, 1,000
 * hostile strings (quotes, ; { } $ #, backslashes, CR/LF/NUL and other controls, Unicode spaces and
 * format characters, lone surrogates, very long strings, valid values with injected suffixes such as
 * `example.com; return 200`). For every one of them, either
 *   - validation throws InputError(s) naming exactly that input, or
 *   - the config renders, our nginx tokenizer (test/support/nginxConf.ts) finds exactly the directive
 *     outline of the config rendered with a benign value (same directives, same places, same argument
 *     counts: nothing the user did not ask for), the directive that carries the value carries exactly
 *     the (normalized) value, and real `nginx -t` accepts the config.
 * `nginx -t` runs after fast-check, on the deduplicated accepted values, many sites per run; a failing
 * batch is bisected down to the value that breaks it.
 */
import * as dns from "dns";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import fc from "fast-check";
import { renderNginxConf, renderSite } from "../../../components/nginx/render";
import { withDefaults, type NginxConfInput, type SiteSpec } from "../../../components/nginx/siteSpec";
import {
    canonicalUpstream,
    commonNamePattern,
    normalizeFingerprintSha1,
    normalizeListenAddress,
    normalizeSerial,
    normalizeServerName,
    rfc2253EscapeValue,
    subjectDnPattern,
} from "../../../components/nginx/validate";
import { InputError, InputErrors } from "../../../components/util/errors";
import { hasNginx, makeTestDir, nginxTest } from "../../support/nginx";
import { confTokenizer, findDirectives, outline, parseNginxConf, writeTestPki, type ConfNode, type TestPki, type TokenResult } from "../../support/nginxConf";
import { freePort } from "../../support/ports";

const RUNS = 1000;
const SITES_PER_NGINX_T = 120;
/** Accepted upstream URLs whose host does not resolve here: how many get an nginx -t of their own. */
const MAX_UNRESOLVABLE_CHECKS = 25;

// ---------------------------------------------------------------------------------------------
// Hostile strings
// ---------------------------------------------------------------------------------------------

const PIECES = [
    ";", "{", "}", "$", "#", "\\", '"', "'", "`", "\n", "\r", "\r\n", "\t", "\0", " ", "\u000b", "\u000c", "\u001b", "\u007f",
    "\u0085", "\u00a0", "\u2028", "\u2029", "\u200b", "\u200e", "\ufeff", "\u202e", "\ud800", "\udfff", "\ue000",
    "é", "ü", "😀", "Ω", "中", "İ", "ﬀ", "\u0301",
    "${x}", "$host", "$1", "${", "return 200", ' return 200 "pwned"', "; return 200 pwned;", "}\nserver {", "} location / {", "# c",
    '\\"', "\\n", "\\\\", "include /etc/passwd;", "default", "include", "hostnames", "~", "~*", "^~", "=", "@", "\\z", "(?<x>.*)",
    ".*", "|", "^", "*", "?", "[", "]", "(", ")", "<", ">", "+", ",", ":", "%", "%00", "%2F", "%24", "..", ".", "/", "//", "-", "_",
    "0", "1", "9", "a", "Z", "x", "ff", "0x", "::", ":ff", "CN=", "O=", "\\,", "\\+", "\\C3\\A9", "http://", "@evil", "?q=1",
];

const soup = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 8 }).map((a) => a.join(""));
const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 16 });
const codePoints = fc.string({ unit: "binary", maxLength: 16 });
const graphemes = fc.string({ unit: "grapheme", maxLength: 12 });
const long = fc.tuple(fc.constantFrom("a", "a.", "é", "$", ";", "\\", "😀", "x-"), fc.integer({ min: 60, max: 5000 })).map(([s, n]) => s.repeat(n));

/** Hostile strings around the valid examples of one input. */
function hostile(valid: string[], ...extra: fc.Arbitrary<string>[]): fc.Arbitrary<string> {
    const v = fc.constantFrom(...valid);
    return fc.oneof(
        { weight: 3, arbitrary: soup },
        { weight: 1, arbitrary: codeUnits },
        { weight: 1, arbitrary: codePoints },
        { weight: 1, arbitrary: graphemes },
        { weight: 1, arbitrary: long },
        { weight: 1, arbitrary: v },
        { weight: 4, arbitrary: fc.tuple(v, soup).map(([a, b]) => a + b) },
        { weight: 2, arbitrary: fc.tuple(soup, v).map(([a, b]) => a + b) },
        { weight: 2, arbitrary: fc.tuple(v, soup, v).map(([a, b, c]) => a + b + c) },
        { weight: 1, arbitrary: fc.tuple(v, long).map(([a, b]) => a + b) },
        ...extra.map((arbitrary) => ({ weight: 2, arbitrary })),
    );
}

/** Strings over a small alphabet (to reach length and character-class boundaries). */
const chars = (alphabet: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...alphabet), minLength: 1, maxLength });
const hex = (min: number, max: number) => fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF:"), minLength: min, maxLength: max });

// ---------------------------------------------------------------------------------------------
// The inputs
// ---------------------------------------------------------------------------------------------

let pki: TestPki;
let root: string; // hostile paths live under here (created for nginx -t)
let benignPaths: SiteSpec["paths"];

type FileKind = "cert" | "key" | "ca" | "crl" | "dir" | "parent" | "none" | "site";

interface SiteCase {
    kind: "site";
    name: string;
    input: string;
    arb: () => fc.Arbitrary<string>;
    benign: string;
    apply: (base: SiteSpec, value: string) => SiteSpec;
    /** The config text that must carry `value` (normalized), located in the parsed config. */
    carried: (conf: ConfNode[], spec: SiteSpec) => unknown;
    expected: (value: string, spec: SiteSpec) => unknown;
    /** Extra semantic checks of an accepted value. */
    semantics?: (value: string) => void;
    file?: FileKind;
    staticMode?: boolean;
}

interface ConfCase {
    kind: "nginx";
    name: string;
    input: string;
    arb: () => fc.Arbitrary<string>;
    benign: string;
    apply: (base: NginxConfInput, value: string) => NginxConfInput;
    carried: (conf: ConfNode[]) => unknown;
    file: FileKind;
}

type Case = SiteCase | ConfCase;

const args = (conf: ConfNode[], name: string, ctx?: string) => findDirectives(conf, name).filter(({ context }) => ctx === undefined || context.join(">") === ctx).map(({ node }) => node.args);
const mapEntries = (conf: ConfNode[], variable: string) => findDirectives(conf, "map").find(({ node }) => node.args[1] === variable)?.node.block?.map((e) => e.name) ?? [];

/** A path under `root`: `${root}/v<n>/<hostile>`, or a hostile relative path. */
function pathArb(valid: string[]): () => fc.Arbitrary<string> {
    return () =>
        fc.oneof(
            { weight: 5, arbitrary: fc.tuple(fc.nat({ max: 999_999 }), hostile(valid)).map(([n, s]) => `${root}/v${n}/${s}`) },
            { weight: 1, arbitrary: hostile(valid).filter((s) => !s.startsWith("/")) },
        );
}

const PATH_VALID = ["x.pem", "a/b.crt", "ü/ñ.pem", "a:b@c+d=e,f%g~h!i&j(k)l*m", "-x_y.z", "..x", "x..", "ca bundle.pem"];

function pathCase(key: keyof SiteSpec["paths"], directive: string, file: FileKind, ctx = "server"): SiteCase {
    return {
        kind: "site",
        name: `paths.${key}`,
        input: `site.paths.${key}`,
        arb: pathArb(PATH_VALID),
        benign: "",
        apply: (base, value) => ({ ...base, paths: { ...base.paths, [key]: value } }),
        carried: (conf) => args(conf, directive, ctx)[0]?.[0],
        expected: (value) => (key === "errorPagesDir" ? `${value}/` : value),
        file,
    };
}

const SERVER_NAMES_VALID = ["app.example.com", "localhost", "*.example.com", "10.0.0.5", "::1", "[2001:db8::1]", "a-b.c"];
const UPSTREAM_VALID = ["http://127.0.0.1:8080", "http://localhost:8080/app/", "https://[::1]:8443", "http://127.0.0.1", "https://localhost/a%20b/", "HTTP://LOCALHOST:80/x"];
const DN_VALID = ["CN=alice,O=Example", 'CN=Bob\\, Jr.,O=Ex\\"ample', "CN=Jos\\C3\\A9", "CN=a+UID=b,O=x", "2.5.4.3=x"];
const CN_VALID = ["alice", "Bob, Jr.", "José", "#lead ", 'a"b\\c', "x+y;z<w>", "CN=admin"];

const CASES: Case[] = [
    {
        kind: "site",
        name: "siteName",
        input: "site.siteName",
        arb: () => hostile(["app", "a-b", "x1", "portal-eu"], chars("abz09-_A.", 40)),
        benign: "benign",
        apply: (base, value) => ({ ...base, siteName: value }),
        carried: (conf) => args(conf, "ssl_session_cache", "server")[0]?.[0],
        expected: (value) => `shared:mtls_${value}_ab12:1m`,
    },
    {
        kind: "site",
        name: "serverNames[0]",
        input: "site.serverNames[0]",
        arb: () => hostile(SERVER_NAMES_VALID, fc.domain()),
        benign: "benign.example.com",
        apply: (base, value) => ({ ...base, serverNames: [value] }),
        carried: (conf) => args(conf, "server_name", "server")[0],
        expected: (value) => [normalizeServerName(value)],
    },
    {
        kind: "site",
        name: "listen.address",
        input: "site.listen.address",
        arb: () => hostile(["127.0.0.1", "0.0.0.0", "*", "::1", "::", "[::1]"], fc.ipV4(), fc.ipV6()),
        benign: "127.0.0.1",
        // Without ipv6Address here: a repeat of it is a cross-field error, named after ipv6Address (validate.test.ts).
        apply: (base, value) => ({ ...base, listen: { address: value, port: base.listen.port, http2: base.listen.http2 } }),
        carried: (conf) => args(conf, "listen", "server")[0]?.[0],
        expected: (value, spec) => `${normalizeListenAddress(value, true)}:${spec.listen.port}`,
    },
    {
        kind: "site",
        name: "listen.ipv6Address",
        input: "site.listen.ipv6Address",
        arb: () => hostile(["::1", "::", "[::1]"], fc.ipV6()),
        benign: "::1",
        apply: (base, value) => ({ ...base, listen: { ...base.listen, ipv6Address: value } }),
        carried: (conf) => args(conf, "listen", "server")[1]?.[0],
        expected: (value, spec) => `${normalizeListenAddress(value, false)}:${spec.listen.port}`,
    },
    pathCase("certificate", "ssl_certificate", "cert"),
    pathCase("certificateKey", "ssl_certificate_key", "key"),
    pathCase("clientCa", "ssl_client_certificate", "ca"),
    pathCase("trustedCa", "ssl_trusted_certificate", "ca"),
    pathCase("crl", "ssl_crl", "crl"),
    pathCase("errorPagesDir", "alias", "none", "server>location"),
    {
        kind: "site",
        name: "mode.upstream",
        input: "site.mode.upstream",
        arb: () => hostile(UPSTREAM_VALID, fc.webUrl()),
        benign: "http://127.0.0.1:8080",
        apply: (base, value) => ({ ...base, mode: { ...(base.mode as Extract<SiteSpec["mode"], { kind: "proxy" }>), upstream: value } }),
        carried: (conf) => [...new Set(args(conf, "proxy_pass").map((a) => a[0]))],
        expected: (value) => {
            const result = canonicalUpstream(value);
            return "url" in result ? [result.url] : [];
        },
    },
    {
        kind: "site",
        name: "mode.headerPrefix",
        input: "site.mode.headerPrefix",
        arb: () => hostile(["X-Client-", "X-Mtls-", "Ssl-", "a"], fc.string({ unit: fc.constantFrom("X", "x", "-", "0"), minLength: 1, maxLength: 80 })),
        benign: "X-Benign-",
        apply: (base, value) => ({ ...base, mode: { ...(base.mode as Extract<SiteSpec["mode"], { kind: "proxy" }>), headerPrefix: value } }),
        carried: (conf) => args(conf, "proxy_set_header", "server").map((a) => a[0]).filter((h) => !["Host", "X-Forwarded-For", "X-Forwarded-Proto"].includes(h)),
        expected: (value) => ["Verify", "Subject-DN", "Issuer-DN", "Serial", "Fingerprint", "Not-After", "Days-Remaining", "Cert"].map((s) => value + s),
    },
    {
        kind: "site",
        name: "locations[1].path",
        input: "site.locations[1].path",
        arb: () => hostile(["/api/", "/a.b", "/x-y_z~", "/p/q/", "/@x:y+z,w=v!"], fc.webPath(), chars("/a.-%~", 30).map((p) => "/" + p)),
        benign: "/benign/",
        apply: (base, value) => ({ ...base, locations: [{ path: "/", requireClientCertificate: true }, { path: value, requireClientCertificate: false }] }),
        carried: (conf) => args(conf, "location", "server")[2],
        expected: (value) => [value],
    },
    {
        kind: "site",
        name: "allow.subjectDns[0]",
        input: "site.allow.subjectDns[0]",
        arb: () => hostile(DN_VALID, fc.string({ unit: "grapheme-ascii", maxLength: 40 }).map((s) => `CN=${s}`)),
        benign: "CN=benign,O=Example",
        apply: (base, value) => ({ ...base, allow: { ...base.allow, subjectDns: [value] } }),
        carried: (conf) => mapEntries(conf, "$mtls_dn_benign")[1],
        expected: (value) => "~" + subjectDnPattern(value),
        semantics: (dn) => {
            const re = jsRegex(subjectDnPattern(dn));
            expect(re.test(dn)).toBe(true);
            expect(re.test(dn + ",O=x")).toBe(false);
            expect(re.test("O=x," + dn)).toBe(false);
            if (dn.toLowerCase() !== dn) expect(re.test(dn.toLowerCase())).toBe(false);
        },
    },
    {
        kind: "site",
        name: "allow.commonNames[0]",
        input: "site.allow.commonNames[0]",
        arb: () => hostile(CN_VALID),
        benign: "benign",
        apply: (base, value) => ({ ...base, allow: { ...base.allow, commonNames: [value] } }),
        carried: (conf) => mapEntries(conf, "$mtls_dn_benign")[2],
        expected: (value) => "~" + commonNamePattern(value),
        semantics: (cn) => {
            const re = jsRegex(commonNamePattern(cn));
            const esc = rfc2253EscapeValue(cn);
            // nginx never prints raw non-ASCII or controls in $ssl_client_s_dn.
            expect(esc).toMatch(/^[\x20-\x7e]*$/);
            expect(re.test(`CN=${esc},O=Example`)).toBe(true);
            expect(re.test(`O=Example,CN=${esc}`)).toBe(true);
            expect(re.test(`O=Example+CN=${esc}+UID=7`)).toBe(true);
            expect(re.test(`CN=${esc}x,O=Example`)).toBe(false);
            expect(re.test(`CN=other,CN=${esc}`)).toBe(false); // only the first (most specific) CN counts
            expect(re.test(`O=x\\,CN=${esc}`)).toBe(false); // "CN=" inside another attribute's value
            expect(re.test(`O=CN=${esc}`)).toBe(false);
            if (esc.toUpperCase() !== esc) expect(re.test(`CN=${esc.toUpperCase()}`)).toBe(false);
        },
    },
    {
        kind: "site",
        name: "allow.serials[0]",
        input: "site.allow.serials[0]",
        arb: () => hostile(["0FAB12", "0f:ab:12", "0x1234", "00", "80ff01"], hex(1, 50), hex(1, 6).map((h) => "0x" + h)),
        benign: "0BE419",
        apply: (base, value) => ({ ...base, allow: { ...base.allow, serials: [value] } }),
        carried: (conf) => mapEntries(conf, "$mtls_serial_benign")[1],
        expected: (value) => normalizeSerial(value),
    },
    {
        kind: "site",
        name: "allow.fingerprintsSha1[0]",
        input: "site.allow.fingerprintsSha1[0]",
        arb: () =>
            hostile(
                ["90b87bda7a5b313ba34bc0f27eb2aebe0c0d6834", "90:B8:7B:DA:7A:5B:31:3B:A3:4B:C0:F2:7E:B2:AE:BE:0C:0D:68:34"],
                hex(38, 42),
                fc.array(fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF"), minLength: 2, maxLength: 2 }), { minLength: 19, maxLength: 21 }).map((a) => a.join(":")),
            ),
        benign: "ffffffffffffffffffffffffffffffffffffffff",
        apply: (base, value) => ({ ...base, allow: { ...base.allow, fingerprintsSha1: [value] } }),
        carried: (conf) => mapEntries(conf, "$mtls_fp_benign")[1],
        expected: (value) => normalizeFingerprintSha1(value),
    },
    {
        ...pathCase("errorPagesDir", "root", "none"),
        name: "mode.root",
        input: "site.mode.root",
        benign: "",
        staticMode: true,
        apply: (base, value) => ({ ...base, mode: { kind: "static", root: value, index: ["index.html"] } }),
        carried: (conf) => args(conf, "root", "server")[0]?.[0],
        expected: (value) => value,
    },
    {
        kind: "site",
        name: "mode.index[0]",
        input: "site.mode.index[0]",
        arb: () => hostile(["index.html", "default.htm", "a_b-c~d+e@f=g,h", "x"], chars("ax.-_/~", 300)),
        benign: "benign.html",
        staticMode: true,
        apply: (base, value) => ({ ...base, mode: { kind: "static", root: "/srv/www", index: [value] } }),
        carried: (conf) => args(conf, "index", "server")[0],
        expected: (value) => [value],
    },
    {
        kind: "site",
        name: "releaseMarker",
        input: "site.releaseMarker",
        arb: () => hostile(["3b5d5c37", "sha256:AbC+/=", "v1.2-rc_3"], chars("aZ9+/=:._-", 140), fc.base64String()),
        benign: "benign",
        apply: (base, value) => ({ ...base, releaseMarker: value }),
        carried: (conf) => args(conf, "add_header", "server").find((a) => a[0] === "X-Mtls-Release")?.slice(1),
        expected: (value) => [value, "always"],
    },
    {
        kind: "site",
        name: "sessionCache.zoneSuffix",
        input: "site.sessionCache.zoneSuffix",
        arb: () => hostile(["ab12", "0", "deadbeef"], chars("af09A-", 20)),
        benign: "ab12",
        apply: (base, value) => ({ ...base, sessionCache: { ...base.sessionCache, zoneSuffix: value } }),
        carried: (conf) => args(conf, "ssl_session_cache", "server")[0]?.[0],
        expected: (value) => `shared:mtls_benign_${value}:1m`,
    },
    ...(
        [
            ["prefix", "dir"],
            ["pidFile", "parent"],
            ["errorLog", "parent"],
            ["accessLog", "parent"],
            ["tempDir", "dir"],
            ["siteIncludes[0]", "site"],
        ] as const
    ).map(
        ([key, file]): ConfCase => ({
            kind: "nginx",
            name: `nginx.${key}`,
            input: `nginx.${key}`,
            arb: pathArb(PATH_VALID),
            benign: "",
            file,
            apply: (base, value) => (key === "siteIncludes[0]" ? { ...base, siteIncludes: [value] } : { ...base, [key]: value }),
            carried: (conf) => {
                switch (key) {
                    case "prefix":
                        return args(conf, "access_log", "http")[0]?.[0]; // the default access log lives under the prefix
                    case "pidFile":
                        return args(conf, "pid", "")[0]?.[0];
                    case "errorLog":
                        return args(conf, "error_log", "")[0]?.[0];
                    case "accessLog":
                        return args(conf, "access_log", "http")[0]?.[0];
                    case "tempDir":
                        return args(conf, "client_body_temp_path", "http")[0]?.[0];
                    case "siteIncludes[0]":
                        return args(conf, "include", "http")[0]?.[0];
                }
            },
        }),
    ),
];

function confCarriedExpected(c: ConfCase, value: string): string {
    switch (c.name) {
        case "nginx.prefix":
            return `${value}/logs/access.log`;
        case "nginx.tempDir":
            return `${value}/client_body`;
        default:
            return value;
    }
}

/** Our PCRE patterns in JavaScript: only `\z` differs (JS `$` without the m flag is end of input). */
function jsRegex(pcre: string): RegExp {
    const js = pcre.endsWith(String.raw`(?:[,+]|\z)`) ? pcre.slice(0, -String.raw`(?:[,+]|\z)`.length) + "(?:[,+]|$)" : pcre.slice(0, -2) + "$";
    return new RegExp(js);
}

// ---------------------------------------------------------------------------------------------
// Benign specs
// ---------------------------------------------------------------------------------------------

function benignSite(staticMode: boolean): SiteSpec {
    return withDefaults({
        siteName: "benign",
        serverNames: ["benign.example.com"],
        listen: { address: "127.0.0.1", port: 443, http2: true, ipv6Address: "::1" },
        verifyClient: "optional",
        verifyDepth: 2,
        paths: benignPaths,
        sessionCache: { sizeMb: 1, zoneSuffix: "ab12" },
        mode: staticMode ? { kind: "static", root: "/srv/www", index: ["benign.html"] } : { kind: "proxy", upstream: "http://127.0.0.1:8080", headerPrefix: "X-Benign-" },
        locations: [
            { path: "/", requireClientCertificate: true },
            { path: "/benign/", requireClientCertificate: false },
        ],
        allow: {
            subjectDns: ["CN=benign,O=Example"],
            commonNames: ["benign"],
            serials: ["0BE419"],
            fingerprintsSha1: ["ffffffffffffffffffffffffffffffffffffffff"],
        },
        releaseMarker: "benign",
    });
}

function benignConf(): NginxConfInput {
    return { prefix: `${root}/benign-prefix`, pidFile: `${root}/benign.pid`, errorLog: `${root}/benign-error.log`, tempDir: `${root}/benign-tmp`, siteIncludes: [`${root}/benign-site.conf`] };
}

function inputErrorsOf(e: unknown): InputError[] {
    if (e instanceof InputErrors) return e.errors;
    if (e instanceof InputError) return [e];
    throw e;
}

// ---------------------------------------------------------------------------------------------
// nginx -t of accepted values
// ---------------------------------------------------------------------------------------------

interface Stats {
    input: string;
    runs: number;
    rejected: number;
    accepted: number;
    uniqueAccepted: number;
    nginxRuns: number;
    /** Accepted values nginx could not fully load for a reason of this machine, checked for the exact error. */
    environmental: number;
    /** Accepted upstream URLs with an unresolvable host beyond MAX_UNRESOLVABLE_CHECKS (validated and parsed, no nginx -t). */
    skipped: number;
    ms: number;
}
const stats: Stats[] = [];

let batchCounter = 0;

/** Writes what an accepted path needs on disk for nginx -t. */
function materialize(value: string, file: FileKind): void {
    if (!value.startsWith(root + "/")) throw new Error(`accepted path outside the test root: ${JSON.stringify(value)}`);
    const content: Partial<Record<FileKind, () => string>> = {
        cert: () => pki.server.certPem,
        key: () => pki.server.key.privateKeyPem,
        ca: () => pki.root.certPem + pki.intermediate.certPem,
        crl: () => fs.readFileSync(pki.files.crl, "utf8"),
        site: () => "# an empty site\n",
    };
    if (file === "dir") {
        fs.mkdirSync(value, { recursive: true });
    } else if (file === "parent") {
        fs.mkdirSync(path.dirname(value), { recursive: true });
    } else if (content[file]) {
        fs.mkdirSync(path.dirname(value), { recursive: true });
        fs.writeFileSync(value, content[file]!());
    }
}

/** The `v<n>` directory of a hostile path (values sharing one cannot be on disk together). */
function slot(value: string): string {
    return value.startsWith(root + "/") ? value.slice(root.length + 1).split("/")[0] : "";
}

function clearRoot(): void {
    for (const entry of fs.readdirSync(root)) if (entry.startsWith("v")) fs.rmSync(path.join(root, entry), { recursive: true, force: true });
}

/** Splits values into groups whose paths can coexist on disk. */
function groups<T>(items: T[], valueOf: (item: T) => string, size: number): T[][] {
    const out: T[][] = [];
    let rest = items;
    while (rest.length > 0) {
        const taken = new Set<string>();
        const group: T[] = [];
        const later: T[] = [];
        for (const item of rest) {
            const s = slot(valueOf(item));
            if (group.length < size && (s === "" || !taken.has(s))) {
                if (s) taken.add(s);
                group.push(item);
            } else {
                later.push(item);
            }
        }
        out.push(group);
        rest = later;
    }
    return out;
}

function runNginxT(confText: (dir: string) => { conf: string; prefix: string }): { ok: boolean; output: string } {
    const dir = path.join(root, `t${batchCounter++}`);
    fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
    const { conf, prefix } = confText(dir);
    const file = path.join(dir, "nginx.conf");
    fs.writeFileSync(file, conf);
    return nginxTest(prefix, file);
}

/** nginx -t of site specs together; returns the specs (and outputs) nginx refuses, found by bisection. */
function checkSites(specs: SiteSpec[], c: SiteCase, port: number, counter: { runs: number }): { spec: SiteSpec; output: string }[] {
    const render = (dir: string) => {
        const includes = specs.map((spec, i) => {
            const file = path.join(dir, `site-${i}.conf`);
            const adjusted: SiteSpec = {
                ...spec,
                siteName: c.name === "siteName" ? spec.siteName : `p${i}`,
                serverNames: c.name === "serverNames[0]" ? spec.serverNames : [`s${i}.test`],
                listen: { ...spec.listen, port },
            };
            fs.writeFileSync(file, renderSite(adjusted).siteConf);
            return file;
        });
        return {
            prefix: dir,
            conf: renderNginxConf({ prefix: dir, pidFile: `${dir}/nginx.pid`, errorLog: `${dir}/error.log`, tempDir: `${dir}/tmp`, accessLog: false, siteIncludes: includes }),
        };
    };
    counter.runs++;
    const result = runNginxT(render);
    if (result.ok) return [];
    if (specs.length === 1) return [{ spec: specs[0], output: result.output }];
    const half = Math.ceil(specs.length / 2);
    return [...checkSites(specs.slice(0, half), c, port, counter), ...checkSites(specs.slice(half), c, port, counter)];
}

async function canBind(address: string): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen({ host: address.replace(/^\[|\]$/g, ""), port: 0 }, () => server.close(() => resolve(true)));
    });
}

/** Like nginx at load time (getaddrinfo); a lookup that takes over 3 s counts as unresolvable. */
async function resolves(host: string): Promise<boolean> {
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 3000);
        dns.lookup(host.replace(/^\[|\]$/g, ""), (err) => {
            clearTimeout(timer);
            resolve(!err);
        });
    });
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

(hasNginx() ? describe : describe.skip)("hostile input: rejected with the input named, or harmless and accepted by nginx -t", () => {
    let dir: string;

    beforeAll(async () => {
        dir = makeTestDir("render-property");
        pki = await writeTestPki(path.join(dir, "pki"));
        root = path.join(dir, "h");
        fs.mkdirSync(root, { recursive: true });
        benignPaths = {
            certificate: pki.files.serverCert,
            certificateKey: pki.files.serverKey,
            clientCa: pki.files.intermediateCa,
            trustedCa: pki.files.rootCa,
            crl: pki.files.crl,
            errorPagesDir: path.join(dir, "errors"),
        };
    });

    afterAll(() => {
        // Thousands of small files (one directory per nginx -t); failures already carry nginx's output.
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
        if (stats.length === 0) return;
        const header = "input                           runs  rejected  accepted  unique  nginx -t runs  env.  skip  seconds";
        const lines = stats.map(
            (s) =>
                `${s.input.padEnd(30)} ${String(s.runs).padStart(5)} ${String(s.rejected).padStart(9)} ${String(s.accepted).padStart(9)} ${String(s.uniqueAccepted).padStart(7)} ${String(s.nginxRuns).padStart(14)} ${String(s.environmental).padStart(5)} ${String(s.skipped).padStart(5)} ${(s.ms / 1000).toFixed(1).padStart(8)}`,
        );
        const total = stats.reduce((a, s) => ({ runs: a.runs + s.runs, rejected: a.rejected + s.rejected, accepted: a.accepted + s.accepted }), { runs: 0, rejected: 0, accepted: 0 });
        // eslint-disable-next-line no-console
        console.log([header, ...lines, `total: ${total.runs} values, ${total.rejected} rejected, ${total.accepted} accepted`].join("\n"));
    });

    for (const c of CASES) {
        test(
            `${c.input}: ${RUNS} hostile values`,
            async () => {
                const started = Date.now();
                const s: Stats = { input: c.input, runs: 0, rejected: 0, accepted: 0, uniqueAccepted: 0, nginxRuns: 0, environmental: 0, skipped: 0, ms: 0 };
                stats.push(s);

                if (c.kind === "site") {
                    const base = benignSite(!!c.staticMode);
                    const benignSpec = c.benign === "" ? base : c.apply(base, c.benign);
                    const benignOutline = outline(parseNginxConf(renderSite(benignSpec).siteConf));
                    const accepted = new Map<string, { value: string; spec: SiteSpec }>();
                    fc.assert(
                        fc.property(c.arb(), (value) => {
                            s.runs++;
                            const spec = c.apply(base, value);
                            let siteConf: string;
                            try {
                                siteConf = renderSite(spec).siteConf;
                            } catch (e) {
                                const errors = inputErrorsOf(e);
                                expect(errors.length).toBeGreaterThan(0);
                                expect(errors.map((x) => x.input)).toEqual(errors.map(() => c.input));
                                for (const x of errors) expect(x.message).toMatch(/\. Fix: /);
                                s.rejected++;
                                return;
                            }
                            s.accepted++;
                            const conf = parseNginxConf(siteConf);
                            expect(outline(conf)).toEqual(benignOutline);
                            expect(c.carried(conf, spec)).toEqual(c.expected(value, spec));
                            c.semantics?.(value);
                            accepted.set(siteConf, { value, spec });
                        }),
                        { numRuns: RUNS },
                    );
                    s.uniqueAccepted = accepted.size;

                    // nginx -t, many sites per run.
                    let items = [...accepted.values()];
                    const counter = { runs: 0 };
                    const failures: { value: string; output: string }[] = [];
                    const port = await freePort();
                    if (c.name === "listen.address" || c.name === "listen.ipv6Address") {
                        const local: typeof items = [];
                        for (const item of items) {
                            const address = c.name === "listen.address" ? item.spec.listen.address : item.spec.listen.ipv6Address!;
                            const rendered = normalizeListenAddress(address, c.name === "listen.address")!;
                            if (rendered === "*" || (await canBind(rendered))) {
                                local.push(item);
                                continue;
                            }
                            // Not an address of this machine: nginx parses the whole config, then fails to bind.
                            const [result] = checkSites([item.spec], c, port, counter);
                            s.environmental++;
                            // (nginx prints the address its own way, e.g. [::3.1.206.202] for our [::301:ceca]; the
                            // benign listen on [::1] binds, so the failing socket is the one under test.)
                            const bindFailed = new RegExp(`\\[emerg\\] bind\\(\\) to \\[?[0-9a-f:.]+\\]?:${port} failed \\(99: Cannot assign requested address\\)`);
                            if (!result || !bindFailed.test(result.output) || (result.output.match(/\[emerg\]/g) ?? []).length !== 1) {
                                failures.push({ value: item.value, output: result?.output ?? "nginx -t passed although the address is not local" });
                            }
                        }
                        items = local;
                    }
                    if (c.name === "mode.upstream") {
                        const resolvable: typeof items = [];
                        const hosts = items.map((item) => new URL((canonicalUpstream(item.value) as { url: string }).url).hostname);
                        const ok = await Promise.all(hosts.map(resolves));
                        for (const [i, item] of items.entries()) {
                            const host = hosts[i];
                            if (ok[i]) {
                                resolvable.push(item);
                                continue;
                            }
                            // A syntactically valid host this machine cannot resolve: nginx resolves upstreams at load
                            // time and fails. Each costs an nginx -t of its own (and a DNS query), so a sample is enough.
                            if (s.environmental >= MAX_UNRESOLVABLE_CHECKS) {
                                s.skipped++;
                                continue;
                            }
                            const [result] = checkSites([item.spec], c, port, counter);
                            s.environmental++;
                            if (!result || !new RegExp(`\\[emerg\\] \\d+#\\d+: host not found in upstream "${host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(:\\d+)?"`).test(result.output)) {
                                failures.push({ value: item.value, output: result?.output ?? "nginx -t passed although the host does not resolve" });
                            }
                        }
                        items = resolvable;
                    }
                    for (const group of groups(items, (item) => item.value, SITES_PER_NGINX_T)) {
                        if (c.file) for (const item of group) if (slot(item.value)) materialize(item.value, c.file);
                        for (const failure of checkSites(group.map((g) => g.spec), c, port, counter)) {
                            failures.push({ value: group.find((g) => g.spec === failure.spec)!.value, output: failure.output });
                        }
                        if (c.file) clearRoot();
                    }
                    s.nginxRuns = counter.runs;
                    s.ms = Date.now() - started;
                    if (failures.length > 0) {
                        throw new Error(`nginx -t refused ${failures.length} accepted value(s) of ${c.input}, e.g. ${JSON.stringify(failures[0].value)}:\n${failures[0].output}`);
                    }
                } else {
                    const base = benignConf();
                    const benignOutline = outline(parseNginxConf(renderNginxConf(base)));
                    const accepted = new Map<string, { value: string; input: NginxConfInput }>();
                    fc.assert(
                        fc.property(c.arb(), (value) => {
                            s.runs++;
                            const input = c.apply(base, value);
                            let text: string;
                            try {
                                text = renderNginxConf(input);
                            } catch (e) {
                                const errors = inputErrorsOf(e);
                                expect(errors.map((x) => x.input)).toEqual(errors.map(() => c.input));
                                for (const x of errors) expect(x.message).toMatch(/\. Fix: /);
                                s.rejected++;
                                return;
                            }
                            s.accepted++;
                            const conf = parseNginxConf(text);
                            expect(outline(conf)).toEqual(benignOutline);
                            expect(c.carried(conf)).toEqual(confCarriedExpected(c, value));
                            accepted.set(text, { value, input });
                        }),
                        { numRuns: RUNS },
                    );
                    s.uniqueAccepted = accepted.size;
                    const failures: { value: string; output: string }[] = [];
                    // One nginx.conf per value: these are the instance's own paths.
                    fs.mkdirSync(`${base.prefix}/logs`, { recursive: true });
                    fs.mkdirSync(base.tempDir, { recursive: true });
                    fs.writeFileSync(base.siteIncludes[0], "# an empty site\n");
                    for (const group of groups([...accepted.values()], (item) => item.value, 50)) {
                        for (const item of group) {
                            materialize(item.value, c.file);
                            if (c.name === "nginx.prefix") fs.mkdirSync(`${item.value}/logs`, { recursive: true });
                            s.nginxRuns++;
                            const result = runNginxT(() => ({ prefix: item.input.prefix, conf: renderNginxConf(item.input) }));
                            if (!result.ok) failures.push({ value: item.value, output: result.output });
                        }
                        clearRoot();
                    }
                    s.ms = Date.now() - started;
                    if (failures.length > 0) {
                        throw new Error(`nginx -t refused ${failures.length} accepted value(s) of ${c.input}, e.g. ${JSON.stringify(failures[0].value)}:\n${failures[0].output}`);
                    }
                }
                // Both outcomes must actually occur, or the generator is not exercising the input.
                expect(s.rejected).toBeGreaterThan(0);
                expect(s.accepted).toBeGreaterThan(0);
            },
            240_000,
        );
    }
});

// ---------------------------------------------------------------------------------------------
// The oracle behind the outlines: test/support/nginxConf.ts must split text exactly like nginx.
// nginx echoes the value of a one-argument enum directive it cannot read ('invalid value "<token>"')
// and counts its arguments ('invalid number of arguments'), so `server_tokens <hostile>;` shows
// how nginx tokenized <hostile>.
// ---------------------------------------------------------------------------------------------

(hasNginx() ? describe : describe.skip)("test/support/nginxConf.ts tokenizes like nginx 1.22", () => {
    let dir: string;
    beforeAll(() => {
        dir = makeTestDir("tokenizer-oracle");
        fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
    });
    afterAll(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    function compare(sample: string): "token" | "count" | "block" | "syntax" {
        const header = `pid ${dir}/pid; error_log ${dir}/error.log; events {}\nhttp {\nclient_body_temp_path ${dir}/tmp/b; proxy_temp_path ${dir}/tmp/p; fastcgi_temp_path ${dir}/tmp/f; uwsgi_temp_path ${dir}/tmp/u; scgi_temp_path ${dir}/tmp/s;\n`;
        const text = `${header}server_tokens ${sample};\n}\n`;
        const file = path.join(dir, "nginx.conf");
        fs.writeFileSync(file, text);
        const nginx = nginxTest(dir, file);
        const tokenizer = confTokenizer(text);
        // The header: pid, error_log, events { }, http {, five temp paths.
        for (let i = 0; i < 10; i++) tokenizer.read();
        let step: TokenResult;
        try {
            step = tokenizer.read();
        } catch {
            expect(nginx.ok).toBe(false);
            expect(nginx.output).toMatch(/unexpected|too long parameter/);
            return "syntax";
        }
        expect(step.args[0]).toBe("server_tokens");
        if (step.kind === "block-start") {
            expect(nginx.output).toContain('directive "server_tokens" has no opening "{"'.replace("has no opening", "is not terminated by").replace('"{"', '";"'));
            return "block";
        }
        if (step.args.length !== 2) {
            expect(nginx.output).toContain('invalid number of arguments in "server_tokens" directive');
            return "count";
        }
        const token = step.args[1];
        if (/^(on|off|build)$/i.test(token)) {
            expect(nginx.output).not.toContain("invalid value");
        } else {
            // nginx 1.22 (an enum directive): invalid value "<token>" in <file>:<line>
            const start = nginx.output.indexOf('invalid value "') + 'invalid value "'.length;
            const end = nginx.output.lastIndexOf(`" in ${file}:`);
            expect(start).toBeGreaterThan(14);
            expect(nginx.output.slice(start, end)).toBe(token);
        }
        return "token";
    }

    test("fixed samples", () => {
        const samples: [string, ReturnType<typeof compare>][] = [
            ["a${x}b", "token"],
            ["a}b", "token"],
            ["a#b", "token"],
            ['"a b"', "token"],
            ["'a\"b'", "token"],
            ['"a\\"b\\\\c\\n\\t\\x"', "token"],
            ["a\\ b", "token"],
            ['"on"', "token"],
            ["a b", "count"],
            ['"a"b', "syntax"],
            ["#comment\non", "token"],
            ['"a\nb"', "token"],
        ];
        for (const [sample, kind] of samples) expect([sample, compare(sample)]).toEqual([sample, kind]);
    });

    test("300 hostile samples", () => {
        const seen: Record<string, number> = {};
        const punctuation = fc.array(fc.constantFrom('"', "'", "\\", " ", "a", ";", "{", "}", "$", "#", "\n", "(", ")"), { minLength: 1, maxLength: 6 }).map((a) => a.join(""));
        fc.assert(
            fc.property(fc.oneof(soup, punctuation, codeUnits, graphemes).filter((s) => !s.includes("\0")), (sample) => {
                const kind = compare(sample);
                seen[kind] = (seen[kind] ?? 0) + 1;
            }),
            { numRuns: 300 },
        );
        // eslint-disable-next-line no-console
        console.log(`tokenizer oracle: ${JSON.stringify(seen)}`);
        expect(seen.token ?? 0).toBeGreaterThan(30);
        expect(seen.syntax ?? 0).toBeGreaterThan(10);
        expect(seen.count ?? 0).toBeGreaterThan(10);
    });
});
