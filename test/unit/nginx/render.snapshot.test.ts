/**
 * Snapshots of the rendered config for the main site shapes, and proof that each shape is a config
 * real nginx accepts: the same spec, with its paths pointed at real certificates, keys, CA bundles
 * and CRLs in a test directory and its port moved to a free high port, passes `nginx -t` (which
 * loads every certificate, key and CRL and binds the listen sockets), and has the same directive
 * outline as the snapshot.
 */
import { renderNginxConf, renderSite } from "../../../components/nginx/render";
import { withDefaults, type SiteSpec, type SiteSpecInput } from "../../../components/nginx/siteSpec";
import { DEFAULT_ERROR_PAGES } from "../../../components/nginx/errorPages";
import { hasNginx, makeTestDir } from "../../support/nginx";
import { findDirectives, nginxTestSites, outline, parseNginxConf, writeTestPki, type TestPki } from "../../support/nginxConf";
import { freePort } from "../../support/ports";

const ETC = "/etc/mtls-nginx/app";

function base(overrides: Partial<SiteSpecInput> & Pick<SiteSpecInput, "mode">): SiteSpec {
    return withDefaults({
        siteName: "app",
        serverNames: ["app.example.com"],
        verifyDepth: 1,
        paths: {
            certificate: `${ETC}/server.crt`,
            certificateKey: `${ETC}/server.key`,
            clientCa: `${ETC}/client-ca.crt`,
            errorPagesDir: "/var/lib/mtls-nginx/app/errors",
        },
        ...overrides,
    });
}

/** The main shapes, as a user would configure them (production paths). */
const SHAPES: Record<string, SiteSpec> = {
    // The seed article's site: static files, client certificates required, TLS 1.2 + 1.3.
    "static site (seed article)": base({
        siteName: "sagar",
        serverNames: ["app.sagarpanda.com"],
        verifyDepth: 2,
        listen: { http2: false },
        hsts: false,
        mode: { kind: "static", root: "/var/www/html/sagar", index: ["index.html"] },
    }),
    "reverse proxy with identity headers": base({
        mode: { kind: "proxy", upstream: "http://127.0.0.1:8080", forwardClientCertificate: true },
        sessionCache: { zoneSuffix: "3f9a1c2e" },
        releaseMarker: "sha256-4b1f0c9e",
    }),
    "optional verification with allowlists": base({
        siteName: "portal-eu",
        serverNames: ["portal.example.com", "portal.example.org"],
        verifyClient: "optional",
        mode: { kind: "proxy", upstream: "https://backend.internal:8443/portal/", headerPrefix: "X-Mtls-" },
        locations: [
            { path: "/", requireClientCertificate: true },
            { path: "/health", requireClientCertificate: false },
            { path: "/public/", requireClientCertificate: false },
        ],
        allow: {
            subjectDns: ["CN=alice,OU=Ops,O=Example Corp", 'CN=Bob \\, Jr.,O=Ex\\"ample'],
            commonNames: ["build-agent-7", "José"],
            serials: ["0f:ab:12", "0x1234"],
            fingerprintsSha1: ["90:B8:7B:DA:7A:5B:31:3B:A3:4B:C0:F2:7E:B2:AE:BE:0C:0D:68:34"],
        },
    }),
    "TLS 1.3 only, HTTP/2, HSTS with subdomains": base({
        serverNames: ["*.internal.example.com", "internal.example.com"],
        tlsProtocols: "TLSv1.3",
        listen: { address: "*", port: 443, http2: true, ipv6Address: "::" },
        hsts: { maxAgeSeconds: 31536000, includeSubDomains: true },
        mode: { kind: "static", root: "/srv/internal", index: ["index.html", "index.htm"] },
    }),
    "intermediate CA with trusted root and CRL": base({
        verifyDepth: 2,
        paths: {
            certificate: `${ETC}/server-chain.crt`,
            certificateKey: `${ETC}/server.key`,
            clientCa: `${ETC}/intermediate-ca.crt`,
            trustedCa: `${ETC}/root-ca.crt`,
            crl: `${ETC}/ca.crl.pem`,
            errorPagesDir: "/var/lib/mtls-nginx/app/errors",
        },
        sessionCache: { sizeMb: 20, timeoutMinutes: 30, zoneSuffix: "c0ffee01" },
        mode: { kind: "proxy", upstream: "http://localhost:3000" },
        releaseMarker: "3b5d5c3712955042212316173ccf37be",
    }),
};

const NGINX_CONF_INPUT = {
    prefix: "/var/lib/mtls-nginx",
    pidFile: "/var/lib/mtls-nginx/run/nginx.pid",
    errorLog: "/var/lib/mtls-nginx/logs/error.log",
    workerProcesses: 2,
    siteIncludes: ["/var/lib/mtls-nginx/sites/app.conf", "/var/lib/mtls-nginx/sites/portal-eu.conf"],
    tempDir: "/var/lib/mtls-nginx/tmp",
};

describe("renderSite snapshots", () => {
    for (const [name, spec] of Object.entries(SHAPES)) {
        test(name, () => {
            expect(renderSite(spec).siteConf).toMatchSnapshot();
        });
    }

    test("renderNginxConf", () => {
        expect(renderNginxConf(NGINX_CONF_INPUT)).toMatchSnapshot();
        expect(renderNginxConf({ ...NGINX_CONF_INPUT, accessLog: false, workerProcesses: "auto", errorLogLevel: "info" })).toMatch(/^\s*access_log off;$/m);
    });

    test("error pages: defaults unless given, one file per status", () => {
        const rendered = renderSite(SHAPES["static site (seed article)"]);
        expect(rendered.errorPages).toEqual({ "495.html": DEFAULT_ERROR_PAGES[495], "496.html": DEFAULT_ERROR_PAGES[496], "403.html": DEFAULT_ERROR_PAGES[403] });
        const custom = renderSite({ ...SHAPES["static site (seed article)"], errorPages: { 403: "<p>ask Ops</p>" } });
        expect(custom.errorPages["403.html"]).toBe("<p>ask Ops</p>");
        expect(custom.errorPages["495.html"]).toBe(DEFAULT_ERROR_PAGES[495]);
        // Self-contained: no scripts, no external resources.
        for (const html of Object.values(DEFAULT_ERROR_PAGES)) {
            expect(html).not.toMatch(/<script|https?:\/\/|src=|<link/i);
            expect(html).toMatch(/^<!DOCTYPE html>/);
        }
        expect(DEFAULT_ERROR_PAGES[495]).toMatch(/expired/);
        expect(DEFAULT_ERROR_PAGES[495]).toMatch(/clock|date and time/);
        expect(DEFAULT_ERROR_PAGES[496]).toMatch(/\.p12/);
    });
});

describe("structure of the rendered site", () => {
    const parsed = (spec: SiteSpec) => parseNginxConf(renderSite(spec).siteConf);

    test("add_header only at server level, so no location drops the HSTS and release headers", () => {
        for (const spec of Object.values(SHAPES)) {
            for (const { context } of findDirectives(parsed(spec), "add_header")) expect(context).toEqual(["server"]);
            for (const { context } of findDirectives(parsed(spec), "proxy_set_header")) expect(context).toEqual(["server"]);
        }
    });

    test("with verifyClient optional every protected location checks $ssl_client_verify first, public ones do not", () => {
        const spec = SHAPES["optional verification with allowlists"];
        const locations = findDirectives(parsed(spec), "location").filter(({ node }) => node.args[0] !== "^~");
        const byPath = Object.fromEntries(locations.map(({ node }) => [node.args[0], node.block!]));
        expect(Object.keys(byPath)).toEqual(["/", "/health", "/public/"]);
        const ifs = (block: typeof byPath[string]) => block.filter((n) => n.name === "if").map((n) => [n.args.join(" "), n.block!.map((d) => `${d.name} ${d.args.join(" ")}`)]);
        expect(ifs(byPath["/"])).toEqual([
            ["($ssl_client_verify != SUCCESS)", ["return 403"]],
            ["($mtls_ok_portal_eu != 1)", ["return 403"]],
        ]);
        expect(ifs(byPath["/health"])).toEqual([]);
        expect(ifs(byPath["/public/"])).toEqual([]);
    });

    test("every identity header is either set from a variable or cleared", () => {
        const proxy = SHAPES["reverse proxy with identity headers"];
        const headers = (spec: SiteSpec) => Object.fromEntries(findDirectives(parsed(spec), "proxy_set_header").map(({ node }) => [node.args[0], node.args[1]]));
        expect(headers(proxy)).toMatchObject({
            "X-Client-Verify": "$ssl_client_verify",
            "X-Client-Subject-DN": "$ssl_client_s_dn",
            "X-Client-Issuer-DN": "$ssl_client_i_dn",
            "X-Client-Serial": "$ssl_client_serial",
            "X-Client-Fingerprint": "$ssl_client_fingerprint",
            "X-Client-Not-After": "$ssl_client_v_end",
            "X-Client-Days-Remaining": "$ssl_client_v_remain",
            "X-Client-Cert": "$ssl_client_escaped_cert",
        });
        const withoutCert = headers(withDefaults({ ...proxy, mode: { kind: "proxy", upstream: "http://127.0.0.1:8080" } }));
        expect(withoutCert["X-Client-Cert"]).toBe("");
        expect(headers(SHAPES["optional verification with allowlists"])["X-Mtls-Cert"]).toBe("");
    });

    test("a catch-all location answers 404 when the user configured no /", () => {
        const spec = withDefaults({ ...SHAPES["reverse proxy with identity headers"], locations: [{ path: "/api/", requireClientCertificate: true }] });
        const locations = findDirectives(parsed(spec), "location").map(({ node }) => [node.args.join(" "), node.block!.map((d) => d.name)]);
        expect(locations).toEqual([
            ["^~ /.mtls-errors/", ["internal", "default_type", "alias"]],
            ["/api/", ["proxy_pass"]],
            ["/", ["return"]],
        ]);
    });

    test("renderSite refuses an invalid spec (it validates before rendering)", () => {
        expect(() => renderSite({ ...SHAPES["static site (seed article)"], serverNames: ["a.example.com; return 200"] })).toThrow(/site\.serverNames\[0\]/);
    });
});

(hasNginx() ? describe : describe.skip)("every snapshot shape passes real nginx -t", () => {
    let pki: TestPki;
    let dir: string;

    beforeAll(async () => {
        dir = makeTestDir("render-snapshot");
        pki = await writeTestPki(`${dir}/pki`);
    });

    /** The same spec with real files and a free port (nginx -t binds the listen sockets). */
    function onDisk(spec: SiteSpec, port: number): SiteSpec {
        const f = pki.files;
        const realFor: Record<string, string> = {
            [`${ETC}/server.crt`]: f.serverCert,
            [`${ETC}/server-chain.crt`]: f.serverCert,
            [`${ETC}/server.key`]: f.serverKey,
            [`${ETC}/client-ca.crt`]: f.rootCa,
            [`${ETC}/intermediate-ca.crt`]: f.intermediateCa,
            [`${ETC}/root-ca.crt`]: f.rootCa,
            [`${ETC}/ca.crl.pem`]: f.crl,
        };
        const paths = Object.fromEntries(Object.entries(spec.paths).map(([k, v]) => [k, k === "errorPagesDir" ? `${dir}/errors` : realFor[v as string] ?? v])) as unknown as SiteSpec["paths"];
        for (const [k, v] of Object.entries(paths)) if (k !== "errorPagesDir") expect(v.startsWith(dir)).toBe(true);
        const mode = spec.mode.kind === "proxy" && spec.mode.upstream.includes("backend.internal") ? { ...spec.mode, upstream: "https://localhost:8443/portal/" } : spec.mode;
        return { ...spec, paths, mode, listen: { ...spec.listen, port } };
    }

    for (const name of Object.keys(SHAPES)) {
        test(name, async () => {
            const spec = SHAPES[name];
            const real = onDisk(spec, await freePort());
            const result = nginxTestSites(`${dir}/${name.replace(/[^a-z0-9]+/gi, "-")}`, [renderSite(real).siteConf]);
            expect(result.output).toMatch(/test is successful/);
            expect(result.ok).toBe(true);
            // Same directives in the same places as the snapshot: only paths and the port differ.
            expect(outline(parseNginxConf(renderSite(real).siteConf))).toEqual(outline(parseNginxConf(renderSite(spec).siteConf)));
        });
    }

    test("all shapes together in one nginx (distinct zones and variables per site)", async () => {
        const port = await freePort();
        const confs = Object.values(SHAPES).map((spec, i) => renderSite({ ...onDisk(spec, port), siteName: `${spec.siteName}-${i}`, serverNames: [`site${i}.example.com`], listen: { ...spec.listen, address: "127.0.0.1", ipv6Address: undefined, port, http2: true } }).siteConf);
        const result = nginxTestSites(`${dir}/together`, confs);
        expect(result.output).toMatch(/test is successful/);
        expect(result.output).not.toMatch(/\[warn\]/);
    });

    test("renderNginxConf output itself passes nginx -t", () => {
        const result = nginxTestSites(`${dir}/bare`, []);
        expect(result.output).toMatch(/test is successful/);
    });
});
