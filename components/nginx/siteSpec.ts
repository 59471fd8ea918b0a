/**
 * The plain-value description of one mutual-TLS site in front of NGINX: what `renderSite`
 * (components/nginx/render.ts) turns into an http-context config snippet.
 *
 * Pure types and defaults; no Pulumi. Callers (the Site component) build a {@link SiteSpecInput}
 * from their args, call {@link withDefaults}, then `validateSiteSpec` (components/nginx/validate.ts),
 * then `renderSite`.
 */

/** TLS protocol policy. `"TLSv1.2+TLSv1.3"` is Mozilla "intermediate", `"TLSv1.3"` is Mozilla "modern". */
export type TlsProtocols = "TLSv1.2+TLSv1.3" | "TLSv1.3";

/**
 * How NGINX asks for the client certificate.
 * - `"on"`: every request must present a certificate that verifies (else 495/496, answered with our pages).
 * - `"optional"`: the certificate is requested but not required at the TLS layer; every location that
 *   requires one checks `$ssl_client_verify` itself and answers 403.
 *
 * `"optional_no_ca"` is deliberately not offered: it lets unverified certificates through.
 */
export type VerifyClient = "on" | "optional";

/** Absolute paths on the target host that the rendered config refers to. */
export interface SiteFilePaths {
    /** Server certificate chain (PEM: leaf first, then intermediates) -> `ssl_certificate`. */
    certificate: string;
    /** Server private key (PEM) -> `ssl_certificate_key`. */
    certificateKey: string;
    /**
     * CA certificates that verify client certificates AND are advertised to clients in the TLS
     * CertificateRequest (browsers only offer certificates issued by these) -> `ssl_client_certificate`.
     */
    clientCa: string;
    /**
     * Verify-only CA certificates, not advertised (e.g. the root above an advertised intermediate)
     * -> `ssl_trusted_certificate`. @default undefined (not emitted)
     */
    trustedCa?: string;
    /**
     * Certificate revocation lists (PEM) -> `ssl_crl`. NGINX then checks revocation for EVERY CA in the
     * client's chain (OpenSSL `X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL`): with an intermediate,
     * the file must hold a CRL from the root AND one from the intermediate, or every client gets 495.
     * @default undefined (no revocation checking)
     */
    crl?: string;
    /** Directory holding the error pages `renderSite` returns (`495.html`, `496.html`, `403.html`). */
    errorPagesDir: string;
}

/** Where the site listens. */
export interface SiteListen {
    /** IPv4 or IPv6 literal, or `"*"` (all IPv4 addresses). @default "0.0.0.0" */
    address: string;
    /** TCP port, 1..65535. @default 443 */
    port: number;
    /**
     * Offer HTTP/2 (ALPN h2). Rendered as the nginx 1.22 listen parameter (`listen ... ssl http2`);
     * nginx >= 1.25.1 still accepts it but warns that it is deprecated in favour of `http2 on;`.
     * In nginx the flag belongs to the address:port, so every site sharing it gets the same setting.
     * @default true
     */
    http2: boolean;
    /** An additional IPv6 address to listen on (same port), e.g. `"::"`. @default undefined */
    ipv6Address?: string;
}

/** The per-site TLS session cache. */
export interface SessionCacheSpec {
    /** Size of the shared cache zone in megabytes (1 MB holds about 4000 sessions). @default 10 */
    sizeMb: number;
    /**
     * How long a session may be resumed, in minutes. A resumed session is NOT re-verified (expiry, CRL),
     * so this bounds how long a client keeps access after its certificate expires or is revoked without
     * a reload. Mozilla suggests a day for plain TLS; for mTLS we default to an hour.
     * @default 60
     */
    timeoutMinutes: number;
    /**
     * Appended to the zone name (`mtls_<siteName>_<suffix>`), `[a-z0-9]{1,16}`. Callers pass a short hash
     * of the trust material (CA bundle, CRL): nginx keeps a shared zone of the same name across reloads,
     * so a new name is what throws away sessions established under the old trust.
     * @default undefined (zone `mtls_<siteName>`)
     */
    zoneSuffix?: string;
}

/** HTTP Strict Transport Security. */
export interface HstsSpec {
    /** `max-age` in seconds. @default 63072000 (two years, Mozilla guidance) */
    maxAgeSeconds: number;
    /** Add `includeSubDomains`. @default false */
    includeSubDomains: boolean;
}

/** Reverse proxy to an upstream, passing the verified client identity in request headers. */
export interface ProxyMode {
    kind: "proxy";
    /** `http(s)://host[:port][/path]`, no credentials, query or fragment. The host must resolve when nginx starts. */
    upstream: string;
    /**
     * Also send the client certificate itself (`$ssl_client_escaped_cert`, URL-encoded PEM) in
     * `<headerPrefix>Cert`. When false the header is still cleared, so a client cannot forge it.
     * @default false
     */
    forwardClientCertificate: boolean;
    /** Prefix of the identity headers (`<prefix>Verify`, `<prefix>Subject-DN`, ...). @default "X-Client-" */
    headerPrefix: string;
}

/** Serve static files. */
export interface StaticMode {
    kind: "static";
    /** Document root (absolute path on the target). */
    root: string;
    /** Index file names, tried in order. @default ["index.html"] */
    index: string[];
}

export type SiteMode = ProxyMode | StaticMode;

/** A URL prefix (an nginx prefix `location`) and whether it needs a verified client certificate. */
export interface SiteLocation {
    /** Starts with "/", e.g. "/", "/api/". */
    path: string;
    /** Only `false` with `verifyClient: "optional"` (with "on" every request needs a certificate anyway). */
    requireClientCertificate: boolean;
}

/**
 * Authorization beyond "signed by our CA": a verified client is admitted when ANY entry of ANY list
 * matches, otherwise it gets 403. Omit the whole object to admit every verified client.
 */
export interface SiteAllowList {
    /**
     * Full subject DNs, exactly as nginx reports `$ssl_client_s_dn`: RFC 2253, most specific RDN first,
     * no spaces after commas, non-ASCII as `\XX` UTF-8 escapes — what
     * `openssl x509 -noout -subject -nameopt RFC2253` prints after `subject=`. Matched case-sensitively.
     */
    subjectDns?: string[];
    /**
     * Common names as issued (unescaped, e.g. `Bob, Jr.`). Matched case-sensitively against the first
     * CN of `$ssl_client_s_dn` (the most specific one).
     */
    commonNames?: string[];
    /**
     * Certificate serial numbers in hex, any of `0FAB12`, `0fab12`, `0f:ab:12`, `0x0fab12`; normalized to
     * nginx's `$ssl_client_serial` form (uppercase, whole bytes, no leading 00 bytes: `0FAB12`).
     */
    serials?: string[];
    /** SHA-1 certificate fingerprints (40 hex digits, colons allowed); normalized to `$ssl_client_fingerprint` form (lowercase, no colons). */
    fingerprintsSha1?: string[];
}

/** User-supplied HTML for the error pages (stored as files in `paths.errorPagesDir`, never in the config). */
export interface SiteErrorPages {
    /** Certificate not accepted (expired, revoked, other CA). @default a built-in page */
    495?: string;
    /** No certificate sent. @default a built-in page */
    496?: string;
    /** Certificate valid but not allowed here. @default a built-in page */
    403?: string;
}

/** A fully specified site (defaults applied). */
export interface SiteSpec {
    /** `[a-z0-9-]`, at most 32 characters, unique per nginx; used in map variable and shared-zone names. */
    siteName: string;
    listen: SiteListen;
    /** RFC 1123 host names, leading wildcards (`*.example.com`), `localhost`, or IP literals. */
    serverNames: string[];
    tlsProtocols: TlsProtocols;
    verifyClient: VerifyClient;
    /** `ssl_verify_depth`, 1..10: 1 = client leaf signed by a trusted root; 2 = with one intermediate. */
    verifyDepth: number;
    /** Absolute paths on the target. */
    paths: SiteFilePaths;
    sessionCache: SessionCacheSpec;
    /** `false` to send no Strict-Transport-Security header. */
    hsts: false | HstsSpec;
    mode: SiteMode;
    /** @default [{ path: "/", requireClientCertificate: true }] */
    locations?: SiteLocation[];
    /** @default undefined (every verified client is admitted) */
    allow?: SiteAllowList;
    /** @default the built-in pages of errorPages.ts */
    errorPages?: SiteErrorPages;
    /**
     * A content hash, `[A-Za-z0-9._:+/=-]{1,128}`, sent as `X-Mtls-Release: <marker>` on every response
     * (errors included), so an installer can confirm the running config is the new one.
     * @default undefined (no header)
     */
    releaseMarker?: string;
}

/** What callers provide: a {@link SiteSpec} where fields with a default may be left out. */
export interface SiteSpecInput {
    siteName: string;
    /** @default { address: "0.0.0.0", port: 443, http2: true } */
    listen?: Partial<SiteListen>;
    serverNames: string[];
    /** @default "TLSv1.2+TLSv1.3" */
    tlsProtocols?: TlsProtocols;
    /** @default "on" */
    verifyClient?: VerifyClient;
    verifyDepth: number;
    paths: SiteFilePaths;
    /** @default { sizeMb: 10, timeoutMinutes: 60 } */
    sessionCache?: Partial<SessionCacheSpec>;
    /** @default { maxAgeSeconds: 63072000, includeSubDomains: false } */
    hsts?: false | Partial<HstsSpec>;
    mode:
        | (Omit<ProxyMode, "forwardClientCertificate" | "headerPrefix"> & Partial<Pick<ProxyMode, "forwardClientCertificate" | "headerPrefix">>)
        | (Omit<StaticMode, "index"> & Partial<Pick<StaticMode, "index">>);
    /** @default [{ path: "/", requireClientCertificate: true }] */
    locations?: SiteLocation[];
    allow?: SiteAllowList;
    errorPages?: SiteErrorPages;
    releaseMarker?: string;
}

/** The defaults {@link withDefaults} applies. */
export const SITE_DEFAULTS = {
    listen: { address: "0.0.0.0", port: 443, http2: true },
    tlsProtocols: "TLSv1.2+TLSv1.3" as TlsProtocols,
    verifyClient: "on" as VerifyClient,
    sessionCache: { sizeMb: 10, timeoutMinutes: 60 },
    hsts: { maxAgeSeconds: 63072000, includeSubDomains: false },
    headerPrefix: "X-Client-",
    forwardClientCertificate: false,
    index: ["index.html"],
    locations: [{ path: "/", requireClientCertificate: true }] as SiteLocation[],
} as const;

function isObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Applies {@link SITE_DEFAULTS} with `??`. Tolerates malformed input (it never throws): whatever is
 * wrong is left in place for `validateSiteSpec` to report with its input path.
 */
export function withDefaults(input: SiteSpecInput): SiteSpec {
    const listen = isObject(input.listen) ? input.listen : {};
    const sessionCache = isObject(input.sessionCache) ? input.sessionCache : {};
    const hsts: false | HstsSpec =
        input.hsts === false
            ? false
            : {
                  maxAgeSeconds: (isObject(input.hsts) ? input.hsts.maxAgeSeconds : undefined) ?? SITE_DEFAULTS.hsts.maxAgeSeconds,
                  includeSubDomains: (isObject(input.hsts) ? input.hsts.includeSubDomains : undefined) ?? SITE_DEFAULTS.hsts.includeSubDomains,
              };
    let mode: SiteMode;
    const m = input.mode as unknown;
    if (isObject(m) && m.kind === "static") {
        mode = { kind: "static", root: m.root as string, index: (m.index as string[] | undefined) ?? [...SITE_DEFAULTS.index] };
    } else if (isObject(m) && m.kind === "proxy") {
        mode = {
            kind: "proxy",
            upstream: m.upstream as string,
            forwardClientCertificate: (m.forwardClientCertificate as boolean | undefined) ?? SITE_DEFAULTS.forwardClientCertificate,
            headerPrefix: (m.headerPrefix as string | undefined) ?? SITE_DEFAULTS.headerPrefix,
        };
    } else {
        mode = m as SiteMode;
    }
    const spec: SiteSpec = {
        siteName: input.siteName,
        listen: {
            address: listen.address ?? SITE_DEFAULTS.listen.address,
            port: listen.port ?? SITE_DEFAULTS.listen.port,
            http2: listen.http2 ?? SITE_DEFAULTS.listen.http2,
            ...(listen.ipv6Address !== undefined ? { ipv6Address: listen.ipv6Address } : {}),
        },
        serverNames: input.serverNames,
        tlsProtocols: input.tlsProtocols ?? SITE_DEFAULTS.tlsProtocols,
        verifyClient: input.verifyClient ?? SITE_DEFAULTS.verifyClient,
        verifyDepth: input.verifyDepth,
        paths: input.paths,
        sessionCache: {
            sizeMb: sessionCache.sizeMb ?? SITE_DEFAULTS.sessionCache.sizeMb,
            timeoutMinutes: sessionCache.timeoutMinutes ?? SITE_DEFAULTS.sessionCache.timeoutMinutes,
            ...(sessionCache.zoneSuffix !== undefined ? { zoneSuffix: sessionCache.zoneSuffix } : {}),
        },
        hsts,
        mode,
        locations: input.locations ?? SITE_DEFAULTS.locations.map((l) => ({ ...l })),
    };
    if (input.allow !== undefined) spec.allow = input.allow;
    if (input.errorPages !== undefined) spec.errorPages = input.errorPages;
    if (input.releaseMarker !== undefined) spec.releaseMarker = input.releaseMarker;
    return spec;
}

/** Input of `renderNginxConf`: a complete nginx.conf for a dedicated, unprivileged instance. */
export interface NginxConfInput {
    /** The instance prefix (`nginx -p <prefix>`), absolute. */
    prefix: string;
    /** Absolute path of the pid file. */
    pidFile: string;
    /** Absolute path of the error log (its directory must exist: nginx opens it even for `nginx -t`). */
    errorLog: string;
    /** `"error"`..`"info"`: `info` also logs why a client certificate was rejected. @default "warn" */
    errorLogLevel?: "debug" | "info" | "notice" | "warn" | "error" | "crit";
    /** Absolute path of the access log (directory must exist), or `false` for none. @default `<prefix>/logs/access.log` */
    accessLog?: string | false;
    /** @default "auto" */
    workerProcesses?: number | "auto";
    /** Absolute paths of the site snippets to include inside `http {}` (no glob characters). */
    siteIncludes: string[];
    /**
     * Directory for client-body/proxy/fastcgi/uwsgi/scgi temp files (nginx's compiled-in default is
     * /var/lib/nginx, root-only). It must exist; nginx creates the five subdirectories itself, even on
     * `nginx -t` (which fails with "mkdir() ... failed" when tempDir is missing).
     */
    tempDir: string;
}
