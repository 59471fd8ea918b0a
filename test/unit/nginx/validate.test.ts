import fc from "fast-check";
import { InputError, InputErrors } from "../../../components/util/errors";
import { SITE_DEFAULTS, withDefaults, type NginxConfInput, type SiteSpec, type SiteSpecInput } from "../../../components/nginx/siteSpec";
import {
    canonicalUpstream,
    checkAbsolutePath,
    isSafeLocationPath,
    MAX_ERROR_PAGE_BYTES,
    normalizeFingerprintSha1,
    normalizeListenAddress,
    normalizeSerial,
    normalizeServerName,
    rfc2253EscapeValue,
    validateNginxConfInput,
    validateSiteSpec,
    validateSiteSpecs,
} from "../../../components/nginx/validate";

const INPUT: SiteSpecInput = {
    siteName: "app",
    serverNames: ["app.example.com"],
    verifyDepth: 1,
    paths: { certificate: "/etc/mtls/server.crt", certificateKey: "/etc/mtls/server.key", clientCa: "/etc/mtls/ca.crt", errorPagesDir: "/var/lib/mtls/errors" },
    mode: { kind: "proxy", upstream: "http://127.0.0.1:8080" },
};

const good = (overrides: Partial<SiteSpecInput> = {}): SiteSpec => withDefaults({ ...INPUT, ...overrides });

/** The InputErrors a call throws (none: []). Fails on any other exception. */
function errorsOf(fn: () => void): InputError[] {
    try {
        fn();
        return [];
    } catch (e) {
        if (e instanceof InputErrors) return e.errors;
        if (e instanceof InputError) return [e];
        throw e;
    }
}

/** Asserts exactly one error, for `input`, whose message has a problem and a fix. */
function expectOneError(fn: () => void, input: string, problem?: RegExp): InputError {
    const errors = errorsOf(fn);
    expect(errors.map((e) => e.input)).toEqual([input]);
    expect(errors[0].message).toMatch(new RegExp(`^${input.replace(/[.[\]]/g, "\\$&")}: .+\\. Fix: .+`, "s"));
    if (problem) expect(errors[0].message).toMatch(problem);
    return errors[0];
}

const site = (spec: SiteSpec) => () => validateSiteSpec(spec);

describe("withDefaults", () => {
    test("fills every default and keeps what was given", () => {
        const spec = withDefaults(INPUT);
        expect(spec.listen).toEqual({ address: "0.0.0.0", port: 443, http2: true });
        expect(spec.tlsProtocols).toBe("TLSv1.2+TLSv1.3");
        expect(spec.verifyClient).toBe("on");
        expect(spec.sessionCache).toEqual({ sizeMb: 10, timeoutMinutes: 60 });
        expect(spec.hsts).toEqual({ maxAgeSeconds: 63072000, includeSubDomains: false });
        expect(spec.mode).toEqual({ kind: "proxy", upstream: "http://127.0.0.1:8080", forwardClientCertificate: false, headerPrefix: "X-Client-" });
        expect(spec.locations).toEqual([{ path: "/", requireClientCertificate: true }]);
        expect(withDefaults({ ...INPUT, mode: { kind: "static", root: "/srv/www" } }).mode).toEqual({ kind: "static", root: "/srv/www", index: ["index.html"] });
        expect(withDefaults({ ...INPUT, hsts: false }).hsts).toBe(false);
        expect(withDefaults({ ...INPUT, hsts: { includeSubDomains: true } }).hsts).toEqual({ maxAgeSeconds: 63072000, includeSubDomains: true });
        expect(withDefaults({ ...INPUT, listen: { port: 8443, ipv6Address: "::" } }).listen).toEqual({ address: "0.0.0.0", port: 8443, http2: true, ipv6Address: "::" });
        // Defaults are not shared between specs.
        withDefaults(INPUT).locations!.push({ path: "/x", requireClientCertificate: true });
        expect(SITE_DEFAULTS.locations).toHaveLength(1);
    });

    test("never throws on malformed input; validation reports it", () => {
        const spec = withDefaults({ ...INPUT, listen: "443" as never, mode: "proxy" as never });
        expect(errorsOf(site(spec)).map((e) => e.input)).toEqual(["site.mode.kind"]);
    });

    test("a good spec passes", () => {
        expect(errorsOf(site(good()))).toEqual([]);
    });
});

describe("validateSiteSpec", () => {
    test("collects every problem with its own input path", () => {
        const errors = errorsOf(() =>
            validateSiteSpec(good({ siteName: "App", serverNames: ["ok.example.com", "bad name"], verifyDepth: 0, mode: { kind: "proxy", upstream: "ftp://x" } }), "sites[2]"),
        );
        expect(errors.map((e) => e.input)).toEqual(["sites[2].siteName", "sites[2].serverNames[1]", "sites[2].verifyDepth", "sites[2].mode.upstream"]);
        for (const e of errors) expect(e.message).toMatch(/\. Fix: /);
    });

    test("siteName", () => {
        for (const ok of ["a", "app", "team-portal-2", "0", "a".repeat(32)]) expect(errorsOf(site(good({ siteName: ok })))).toEqual([]);
        for (const bad of ["", "App", "-app", "app-", "my_app", "a".repeat(33), "app.one", "ap p", "äpp"]) {
            expectOneError(site(good({ siteName: bad })), "site.siteName", /not a site name/);
        }
    });

    describe("serverNames", () => {
        test.each(["app.example.com", "localhost", "*.example.com", "EXAMPLE.com", "10.0.0.5", "::1", "[2001:db8::1]", "a-b.c-d.example", "1.example", "x".repeat(63) + ".com"])("accepts %s", (name) => {
            expect(errorsOf(site(good({ serverNames: [name] })))).toEqual([]);
        });
        test.each([
            "",
            "app.example.com; return 200",
            "app example.com",
            "-app.example.com",
            "app-.example.com",
            "app..example.com",
            ".example.com",
            "example.com.",
            "*.",
            "*example.com",
            "a.*.example.com",
            "~^regex$",
            "_",
            "app_1.example.com",
            "bücher.example",
            "x".repeat(64) + ".com",
            "app.example.com\n",
            "$host",
        ])("rejects %j", (name) => {
            expectOneError(site(good({ serverNames: ["ok.example.com", name] })), "site.serverNames[1]", /host name/);
        });
        test("rejects an empty list and duplicates (case-insensitive)", () => {
            expectOneError(site(good({ serverNames: [] })), "site.serverNames", /empty/);
            expectOneError(site(good({ serverNames: ["a.example.com", "A.example.com"] })), "site.serverNames[1]", /repeats serverNames\[0\]/);
        });
        test("normalizes for nginx: lowercase, IPv6 bracketed and canonical", () => {
            expect(normalizeServerName("App.Example.COM")).toBe("app.example.com");
            expect(normalizeServerName("2001:DB8:0:0::1")).toBe("[2001:db8::1]");
            expect(normalizeServerName("*.Example.com")).toBe("*.example.com");
        });
    });

    describe("listen", () => {
        test.each(["0.0.0.0", "*", "127.0.0.1", "::", "::1", "[::1]", "2001:db8::10"])("accepts address %s", (address) => {
            expect(errorsOf(site(good({ listen: { address } })))).toEqual([]);
        });
        test.each(["localhost", "example.com", "127.1", "1.2.3.04", "::ffff:10.0.0.1", "::ffff:a00:1", "fe80::1%eth0", "fe80::1", "febf::1", "224.0.0.1", "255.255.255.255", "ff02::1", "0.0.0.0:443", "127.0.0.1; return 200", ""])(
            "rejects address %j",
            (address) => {
                expectOneError(site(good({ listen: { address } })), "site.listen.address", /listen on/);
            },
        );
        test("ipv6Address must be IPv6, and not the same as address", () => {
            expect(errorsOf(site(good({ listen: { ipv6Address: "::" } })))).toEqual([]);
            expect(errorsOf(site(good({ listen: { address: "::", ipv6Address: "::1" } })))).toEqual([]);
            expectOneError(site(good({ listen: { address: "[::1]", ipv6Address: "0:0::1" } })), "site.listen.ipv6Address", /same address as listen\.address/);
            expectOneError(site(good({ listen: { ipv6Address: "0.0.0.0" } })), "site.listen.ipv6Address", /IPv6/);
            expectOneError(site(good({ listen: { ipv6Address: "*" } })), "site.listen.ipv6Address");
        });
        test("ports 1..65535, integer", () => {
            for (const port of [1, 443, 65535]) expect(errorsOf(site(good({ listen: { port } })))).toEqual([]);
            for (const port of [0, 65536, 443.5, -1, NaN, "443" as never]) expectOneError(site(good({ listen: { port } })), "site.listen.port", /TCP port/);
        });
        test("http2 boolean", () => {
            expectOneError(site(good({ listen: { http2: "yes" as never } })), "site.listen.http2", /boolean/);
        });
        test("normalizes addresses for listen", () => {
            expect(normalizeListenAddress("2001:DB8::0:1", false)).toBe("[2001:db8::1]");
            expect(normalizeListenAddress("*", true)).toBe("*");
            expect(normalizeListenAddress("*", false)).toBeUndefined();
        });
    });

    test("tlsProtocols, verifyClient, verifyDepth", () => {
        expect(errorsOf(site(good({ tlsProtocols: "TLSv1.3", verifyClient: "optional", verifyDepth: 10 })))).toEqual([]);
        expectOneError(site(good({ tlsProtocols: "TLSv1.2" as never })), "site.tlsProtocols");
        expectOneError(site(good({ verifyClient: "optional_no_ca" as never })), "site.verifyClient", /optional_no_ca.*admits certificates that failed verification/s);
        expectOneError(site(good({ verifyClient: "off" as never })), "site.verifyClient");
        for (const depth of [0, 11, 1.5]) expectOneError(site(good({ verifyDepth: depth })), "site.verifyDepth", /verification depth/);
    });

    describe("paths", () => {
        const withPath = (key: string, value: unknown) => good({ paths: { ...INPUT.paths, [key]: value } as SiteSpec["paths"] });
        test.each(["certificate", "certificateKey", "clientCa", "trustedCa", "crl", "errorPagesDir"])("%s: accepts safe absolute paths", (key) => {
            for (const ok of ["/etc/mtls/x.pem", "/srv/ü/a-b_c.d@e+f=g,h:i%j~k", "/a"]) expect(errorsOf(site(withPath(key, ok)))).toEqual([]);
        });
        test.each(["certificate", "certificateKey", "clientCa", "trustedCa", "crl", "errorPagesDir"])("%s: rejects unsafe values", (key) => {
            const cases: [unknown, RegExp][] = [
                ["etc/mtls/x.pem", /not an absolute path/],
                ["", /not a path/],
                [42, /not a path/],
                ["/etc/mtls/x y.pem", /U\+0020/],
                ["/etc/mtls/x.pem;", /";"/],
                ['/etc/"x"', /'"'|"\\""/],
                ["/etc/x'", /"'"/],
                ["/etc/{x}", /"\{"/],
                ["/etc/x}", /"\}"/],
                ["/etc/$host", /"\$"/],
                ["/etc/#x", /"#"/],
                ["/etc/a\\b", /"\\\\"/],
                ["/etc/a\nssl_verify_client off", /U\+000A/],
                ["/etc/a\rb", /U\+000D/],
                ["/etc/a\u0000b", /U\+0000/],
                ["/etc/a\u00a0b", /U\+00A0/],
                ["/etc/a\u200bb", /U\+200B/],
                ["/etc/a\ud800b", /U\+D800/],
                ["/etc/../x.pem", /not normalized.*"\/x\.pem"/s],
                ["/etc//x.pem", /not normalized/],
                ["/etc/./x.pem", /not normalized/],
                ["/etc/mtls/", /not normalized.*"\/etc\/mtls"/s],
                ["/" + "a".repeat(256), /too long/],
            ];
            for (const [value, problem] of cases) expectOneError(site(withPath(key, value)), `site.paths.${key}`, problem);
        });
        test('errorPagesDir may not be "/"', () => {
            expectOneError(site(withPath("errorPagesDir", "/")), "site.paths.errorPagesDir", /filesystem root/);
        });
        test("checkAbsolutePath refuses glob characters where asked (nginx include would glob)", () => {
            const errors: InputError[] = [];
            expect(checkAbsolutePath("/etc/sites/*.conf", "x", errors, { kind: "file", noGlob: true })).toBe(false);
            expect(errors[0].message).toMatch(/glob/);
            expect(checkAbsolutePath("/etc/sites/*.conf", "x", [], { kind: "file" })).toBe(true);
        });
    });

    test("sessionCache", () => {
        expect(errorsOf(site(good({ sessionCache: { sizeMb: 1, timeoutMinutes: 1440, zoneSuffix: "0123456789abcdef" } })))).toEqual([]);
        expectOneError(site(good({ sessionCache: { sizeMb: 0 } })), "site.sessionCache.sizeMb");
        expectOneError(site(good({ sessionCache: { timeoutMinutes: 1441 } })), "site.sessionCache.timeoutMinutes");
        for (const suffix of ["", "ABC", "a_b", "a-b", "x".repeat(17), "ab;cd"]) expectOneError(site(good({ sessionCache: { zoneSuffix: suffix } })), "site.sessionCache.zoneSuffix", /zone suffix/);
    });

    test("hsts", () => {
        expect(errorsOf(site(good({ hsts: { maxAgeSeconds: 0, includeSubDomains: true } })))).toEqual([]);
        expectOneError(site(good({ hsts: { maxAgeSeconds: -1 } })), "site.hsts.maxAgeSeconds");
        expectOneError(site(good({ hsts: { includeSubDomains: "yes" as never } })), "site.hsts.includeSubDomains");
        expectOneError(site({ ...good(), hsts: true as never }), "site.hsts");
    });

    describe("proxy mode", () => {
        const upstream = (u: unknown) => good({ mode: { kind: "proxy", upstream: u as string } });
        test.each([
            ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
            ["https://backend.internal/app/", "https://backend.internal/app/"],
            ["http://LOCALHOST:80", "http://localhost"],
            ["http://[::1]:8080/x", "http://[::1]:8080/x"],
            ["https://bücher.example/ä", "https://xn--bcher-kva.example/%C3%A4"],
            ["http://h/a%20b", "http://h/a%20b"],
        ])("accepts %s (nginx gets %s)", (input, canonical) => {
            expect(errorsOf(site(upstream(input)))).toEqual([]);
            expect(canonicalUpstream(input)).toEqual({ url: canonical });
        });
        test.each([
            ["ftp://host/", /scheme/],
            ["127.0.0.1:8080", /scheme|not a URL/],
            ["http://user:pw@host/", /credentials/],
            ["http://host/?a=b", /query/],
            ["http://host/#frag", /"#"/],
            ["http://host/a b", /U\+0020/],
            ["http://host/;return 200", /";"/],
            ["http://host/$uri", /"\$"/],
            ["http://host/{x}", /"\{"/],
            ['http://host/"', /'"'|"\\""/],
            ["http://host\\evil/", /"\\\\"/],
            ["http://host/\n", /U\+000A/],
            ["http://host:0/", /port 0/],
            ["http://host./", /ends with a dot/],
            ["http://", /not a URL/],
            ["http://host/a|b", /"\|"/],
            ["http://host/" + "é".repeat(1000), /percent-encoded.*4000/],
        ])("rejects %j", (input, problem) => {
            expectOneError(site(upstream(input)), "site.mode.upstream", problem);
        });
        test("headerPrefix and forwardClientCertificate", () => {
            for (const ok of ["X-Client-", "X-Mtls-", "Ssl", "a", "X".repeat(32)]) expect(errorsOf(site(good({ mode: { kind: "proxy", upstream: "http://h", headerPrefix: ok } })))).toEqual([]);
            for (const bad of ["", "-X", "X_Client_", "X Client", "X:Client", "X-Client-;", "X$", "1X", "X".repeat(33), "Ünicode"]) {
                expectOneError(site(good({ mode: { kind: "proxy", upstream: "http://h", headerPrefix: bad } })), "site.mode.headerPrefix", /header-name prefix/);
            }
            expectOneError(site(good({ mode: { kind: "proxy", upstream: "http://h", forwardClientCertificate: 1 as never } })), "site.mode.forwardClientCertificate");
        });
    });

    test("static mode", () => {
        expect(errorsOf(site(good({ mode: { kind: "static", root: "/srv/www", index: ["index.html", "default.htm"] } })))).toEqual([]);
        expectOneError(site(good({ mode: { kind: "static", root: "/" } })), "site.mode.root", /filesystem root/);
        expectOneError(site(good({ mode: { kind: "static", root: "srv/www" } })), "site.mode.root");
        expectOneError(site(good({ mode: { kind: "static", root: "/srv/www", index: [] } })), "site.mode.index", /empty/);
        for (const bad of ["", ".htaccess", "..", "a/b", "/index.html", "index.html;", "$uri", "a b", "índex.html"]) {
            expectOneError(site(good({ mode: { kind: "static", root: "/srv/www", index: ["index.html", bad] } })), "site.mode.index[1]", /plain file name/);
        }
        expectOneError(site({ ...good(), mode: { kind: "redirect" } as never }), "site.mode.kind");
    });

    describe("locations", () => {
        const loc = (path: string, requireClientCertificate = true) => ({ path, requireClientCertificate });
        test("accepts prefix paths", () => {
            expect(errorsOf(site(good({ locations: [loc("/"), loc("/api/"), loc("/a.b/c~d@e:f+g,h=i!j-k_l")] })))).toEqual([]);
        });
        test.each(["", "api", "/a b", "/a;", "/a{", "/$uri", "/a#b", "/a%20b", "//a", "/a//b", "/a/../b", "/./a", "/a\nb", "= /a", "~ /a", "/ä"])("rejects %j", (path) => {
            expectOneError(site(good({ locations: [loc("/"), loc(path)] })), "site.locations[1].path", /location path/);
        });
        test("rejects the reserved error-page prefix, duplicates and an empty list", () => {
            expectOneError(site(good({ locations: [loc("/.mtls-errors/x")] })), "site.locations[0].path", /reserved/);
            expectOneError(site(good({ locations: [loc("/a"), loc("/a")] })), "site.locations[1].path", /repeats locations\[0\]/);
            expectOneError(site(good({ locations: [] })), "site.locations", /empty/);
        });
        test("a location without certificate needs verifyClient optional", () => {
            expectOneError(site(good({ locations: [loc("/"), loc("/health", false)] })), "site.locations[1].requireClientCertificate", /optional/);
            expect(errorsOf(site(good({ verifyClient: "optional", locations: [loc("/"), loc("/health", false)] })))).toEqual([]);
        });
    });

    describe("allow", () => {
        const allow = (a: SiteSpec["allow"]) => good({ allow: a });
        test("accepts each kind", () => {
            expect(
                errorsOf(
                    site(
                        allow({
                            subjectDns: ["CN=alice,O=Example", 'CN=Bob\\, Jr.,O=Ex\\"ample', "CN=Jos\\C3\\A9", "CN=a+UID=b", "2.5.4.3=x"],
                            commonNames: ["alice", 'weird,+"\\<>;#= chars', "José", " lead"],
                            serials: ["0FAB12", "0f:ab:13", "0x1234", "00", "7fffffffffffffffffffffffffffffffffffffff"],
                            fingerprintsSha1: ["90b87bda7a5b313ba34bc0f27eb2aebe0c0d6834", "91:B8:7B:DA:7A:5B:31:3B:A3:4B:C0:F2:7E:B2:AE:BE:0C:0D:68:34"],
                        }),
                    ),
                ),
            ).toEqual([]);
        });
        test.each([
            ["CN = alice, O = Example", /RFC 2253/],
            ["CN=alice, O=Example", /RFC 2253/],
            ["CN=José", /non-ASCII/],
            ["CN=a\nb", /U\+000A/],
            ["alice", /RFC 2253/],
            ["CN=a,b", /RFC 2253/],
            ["", /not a distinguished name/],
        ])("rejects DN %j", (dn, problem) => {
            expectOneError(site(allow({ subjectDns: [dn] })), "site.allow.subjectDns[0]", problem);
        });
        test("rejects CNs with control or format characters, empty or too long", () => {
            for (const cn of ["", "a\u0000", "a\nb", "a\u200bb", "x".repeat(257), "a\ud800"]) expectOneError(site(allow({ commonNames: ["ok", cn] })), "site.allow.commonNames[1]");
        });
        test("rejects malformed serials and fingerprints", () => {
            for (const s of ["", "-01", "0xg1", "0f:ab:1", "0f::ab", "12 34", "8".repeat(41), "0x"]) expectOneError(site(allow({ serials: [s] })), "site.allow.serials[0]", /serial/);
            for (const f of ["", "90b87bda", "g0b87bda7a5b313ba34bc0f27eb2aebe0c0d6834", "90:b8", "90b87bda7a5b313ba34bc0f27eb2aebe0c0d683400"]) {
                expectOneError(site(allow({ fingerprintsSha1: [f] })), "site.allow.fingerprintsSha1[0]", /SHA-1/);
            }
        });
        test("rejects duplicates after normalization (nginx would refuse conflicting map keys)", () => {
            expectOneError(site(allow({ serials: ["0FAB12", "0f:ab:12"] })), "site.allow.serials[1]", /repeats/);
            expectOneError(site(allow({ fingerprintsSha1: ["90b87bda7a5b313ba34bc0f27eb2aebe0c0d6834", "90:B8:7B:DA:7A:5B:31:3B:A3:4B:C0:F2:7E:B2:AE:BE:0C:0D:68:34"] })), "site.allow.fingerprintsSha1[1]");
            expectOneError(site(allow({ commonNames: ["a", "a"] })), "site.allow.commonNames[1]");
        });
        test("an allowlist without entries is refused rather than admitting nobody (or everybody)", () => {
            expectOneError(site(allow({})), "site.allow", /no entries/);
            expectOneError(site(allow({ commonNames: [], serials: [] })), "site.allow", /no entries/);
            expectOneError(site(allow({ commonNames: "alice" as never })), "site.allow.commonNames", /not a list/);
        });
    });

    test("errorPages: strings up to the cap, known codes only", () => {
        expect(errorsOf(site(good({ errorPages: { 403: "<p>no</p>", 495: "x".repeat(MAX_ERROR_PAGE_BYTES) } })))).toEqual([]);
        expectOneError(site(good({ errorPages: { 496: "é".repeat(MAX_ERROR_PAGE_BYTES / 2 + 1) } })), "site.errorPages.496", /bytes/);
        expectOneError(site(good({ errorPages: { 404: "x" } as never })), "site.errorPages.404", /no error page/);
        expectOneError(site(good({ errorPages: { 403: 42 as never } })), "site.errorPages.403", /HTML text/);
    });

    test("releaseMarker", () => {
        for (const ok of ["3b5d5c3712955042212316173ccf37be", "sha256:abc+/=", "v1.2-rc_3"]) expect(errorsOf(site(good({ releaseMarker: ok })))).toEqual([]);
        for (const bad of ["", 'a"b', "a b", "a;b", "$x", "x".repeat(129), "a\nb"]) expectOneError(site(good({ releaseMarker: bad })), "site.releaseMarker", /release marker/);
    });

    test("a non-object spec is one error", () => {
        expectOneError(() => validateSiteSpec(null as never), "site");
    });
});

describe("isSafeLocationPath", () => {
    // The former rule: nested quantifiers, exponential on a path ending in a refused character.
    const FORMER = /^\/(?:[A-Za-z0-9._~@:+,=!-]+\/?)*$/;
    const formerRule = (value: string) => value.length <= 1024 && FORMER.test(value) && !value.split("/").some((s) => s === "." || s === "..");

    test("accepts exactly what the former rule accepted (short paths, where the former rule is fast)", () => {
        const piece = fc.constantFrom("/", "a", "Z", "0", ".", "..", "-", "~", "@", ":", "+", ",", "=", "!", "?", "#", " ", "%", "//", "é", "\\", "*");
        const path = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(""));
        fc.assert(fc.property(path, (p) => isSafeLocationPath(p) === formerRule(p)), { numRuns: 5000 });
        fc.assert(fc.property(path, (p) => isSafeLocationPath("/" + p) === formerRule("/" + p)), { numRuns: 5000 });
    });

    test("answers at once on the inputs that took the former rule seconds to minutes", () => {
        const start = process.hrtime.bigint();
        expect(isSafeLocationPath("/api/v1/quarterly-reports/export?")).toBe(false);
        expect(isSafeLocationPath("/reports/" + "x".repeat(26) + "?")).toBe(false);
        expect(isSafeLocationPath("/reports/" + "x".repeat(1000))).toBe(true);
        expect(Number(process.hrtime.bigint() - start) / 1e6).toBeLessThan(50);
    });
});

describe("normalizers (the formats nginx prints; see render.live.test.ts for nginx itself)", () => {
    test("serial -> $ssl_client_serial: whole bytes of uppercase hex, no leading zero bytes", () => {
        expect(normalizeSerial("0fab12")).toBe("0FAB12");
        expect(normalizeSerial("fab12")).toBe("0FAB12");
        expect(normalizeSerial("00:0f:ab:12")).toBe("0FAB12");
        expect(normalizeSerial("0x00FF")).toBe("FF");
        expect(normalizeSerial("80ff01")).toBe("80FF01");
        expect(normalizeSerial("1")).toBe("01");
        expect(normalizeSerial("0")).toBe("00");
        expect(normalizeSerial("-1")).toBeUndefined();
    });
    test("fingerprint -> $ssl_client_fingerprint: 40 lowercase hex digits", () => {
        expect(normalizeFingerprintSha1("90:B8:7B:DA:7A:5B:31:3B:A3:4B:C0:F2:7E:B2:AE:BE:0C:0D:68:34")).toBe("90b87bda7a5b313ba34bc0f27eb2aebe0c0d6834");
        expect(normalizeFingerprintSha1("90B8:7B:DA:7A:5B:31:3B:A3:4B:C0:F2:7E:B2:AE:BE:0C:0D:68:34")).toBeUndefined();
    });
    test("RFC 2253 escaping as OpenSSL prints $ssl_client_s_dn", () => {
        expect(rfc2253EscapeValue('#lead,b+c"d\\e<f>g;h=i é ')).toBe('\\#lead\\,b\\+c\\"d\\\\e\\<f\\>g\\;h=i \\C3\\A9\\ ');
        expect(rfc2253EscapeValue(" a b ")).toBe("\\ a b\\ ");
        expect(rfc2253EscapeValue("a#b")).toBe("a#b");
        expect(rfc2253EscapeValue("😀")).toBe("\\F0\\9F\\98\\80");
    });
});

describe("validateSiteSpecs (sites served by one nginx)", () => {
    test("accepts distinct sites", () => {
        expect(errorsOf(() => validateSiteSpecs([good(), good({ siteName: "b", serverNames: ["b.example.com"] })]))).toEqual([]);
    });
    test("reports per-site problems under sites[i]", () => {
        expectOneError(() => validateSiteSpecs([good(), good({ siteName: "B" })]), "sites[1].siteName");
    });
    test("rejects repeated site names, repeated server names on one address:port, and disagreeing http2", () => {
        expectOneError(() => validateSiteSpecs([good(), good({ serverNames: ["b.example.com"] })]), "sites[1].siteName", /also the name of sites\[0\]/);
        expectOneError(() => validateSiteSpecs([good(), good({ siteName: "b", serverNames: ["APP.example.com"] })]), "sites[1].serverNames[0]", /also a server name of sites\[0\]/);
        expect(errorsOf(() => validateSiteSpecs([good(), good({ siteName: "b", listen: { port: 8443 } })]))).toEqual([]);
        expectOneError(() => validateSiteSpecs([good(), good({ siteName: "b", serverNames: ["b.example.com"], listen: { http2: false } })]), "sites[1].listen.http2", /whole address:port/);
        expectOneError(() => validateSiteSpecs([good(), good({ siteName: "b", serverNames: ["b.example.com"], listen: { address: "*", http2: false } })]), "sites[1].listen.http2", /0\.0\.0\.0:443/);
    });
});

describe("validateNginxConfInput", () => {
    const conf: NginxConfInput = { prefix: "/var/lib/mtls", pidFile: "/var/lib/mtls/nginx.pid", errorLog: "/var/lib/mtls/error.log", siteIncludes: ["/var/lib/mtls/sites/app.conf"], tempDir: "/var/lib/mtls/tmp" };
    const check = (c: Partial<NginxConfInput>) => () => validateNginxConfInput({ ...conf, ...c });
    test("accepts a good input", () => {
        expect(errorsOf(check({ accessLog: false, workerProcesses: 4, errorLogLevel: "info" }))).toEqual([]);
        expect(errorsOf(check({ accessLog: "/var/log/mtls/access.log", workerProcesses: "auto", siteIncludes: [] }))).toEqual([]);
    });
    test("each field", () => {
        expectOneError(check({ prefix: "relative" }), "nginx.prefix");
        expectOneError(check({ prefix: "/" }), "nginx.prefix", /filesystem root/);
        expectOneError(check({ pidFile: "/run/x y.pid" }), "nginx.pidFile");
        expectOneError(check({ errorLog: "/var/log/e;rror.log" }), "nginx.errorLog");
        expectOneError(check({ errorLogLevel: "verbose" as never }), "nginx.errorLogLevel");
        expectOneError(check({ accessLog: "off" }), "nginx.accessLog");
        expectOneError(check({ workerProcesses: 0 }), "nginx.workerProcesses");
        expectOneError(check({ tempDir: "/tmp/{x}" }), "nginx.tempDir");
        expectOneError(check({ siteIncludes: ["/etc/sites/*.conf"] }), "nginx.siteIncludes[0]", /glob/);
        expectOneError(check({ siteIncludes: ["/a.conf", "/a.conf"] }), "nginx.siteIncludes[1]", /repeats/);
        expectOneError(check({ siteIncludes: "/a.conf" as never }), "nginx.siteIncludes", /not a list/);
    });
});
