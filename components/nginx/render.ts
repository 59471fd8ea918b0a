/**
 * Renders the NGINX config of a mutual-TLS site (an http-context snippet) and a complete nginx.conf
 * for a dedicated, unprivileged nginx instance. Pure: plain values in, text out.
 *
 * Targets nginx 1.22 (Debian bookworm) and later. Every user value is validated first
 * (`validate.ts`); values are then emitted as bare words, except allowlisted DNs/CNs, which are
 * escaped twice (PCRE, then nginx double quotes) by {@link pcreLiteral} and {@link nginxQuote}.
 */
import { errorPageFiles, ERROR_PAGE_FILES } from "./errorPages";
import type { NginxConfInput, SiteSpec } from "./siteSpec";
import {
    canonicalUpstream,
    commonNamePattern,
    ERROR_PAGES_URI,
    normalizeFingerprintSha1,
    normalizeListenAddress,
    normalizeSerial,
    normalizeServerName,
    nginxQuote,
    regexMapKey,
    siteVariableSuffix,
    subjectDnPattern,
    validateNginxConfInput,
    validateSiteSpec,
} from "./validate";

/**
 * TLS 1.2 cipher suites of Mozilla's "intermediate" profile (guidelines 6.0), ECDHE only.
 * The older profile (5.x) also listed DHE-RSA-* suites together with `ssl_dhparam`; nginx has no
 * built-in DH parameters, so without `ssl_dhparam` those suites can never be negotiated. We configure
 * no dhparam, so we do not list them. TLS 1.3 suites are OpenSSL's defaults (all good).
 */
export const MOZILLA_INTERMEDIATE_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** Name suffixes of the identity headers sent upstream in proxy mode, with the nginx variable behind each. */
export const IDENTITY_HEADERS: readonly (readonly [suffix: string, variable: string])[] = [
    ["Verify", "$ssl_client_verify"],
    ["Subject-DN", "$ssl_client_s_dn"],
    ["Issuer-DN", "$ssl_client_i_dn"],
    ["Serial", "$ssl_client_serial"],
    ["Fingerprint", "$ssl_client_fingerprint"],
    ["Not-After", "$ssl_client_v_end"],
    ["Days-Remaining", "$ssl_client_v_remain"],
];

/** Suffix of the header carrying the URL-encoded client certificate (set or cleared, never passed through). */
export const CLIENT_CERT_HEADER_SUFFIX = "Cert";

/** Response header carrying `releaseMarker`. */
export const RELEASE_HEADER = "X-Mtls-Release";

export { commonNamePattern, nginxQuote, pcreLiteral, regexMapKey, subjectDnPattern } from "./validate";

/** The rendered site. */
export interface RenderedSite {
    /** The http-context snippet (to be included inside `http {}`). */
    siteConf: string;
    /** File name in `paths.errorPagesDir` -> HTML. */
    errorPages: Record<string, string>;
}

/** Names derived from the site name (nginx variables without `$`, the session zone). */
export function siteNames(spec: Pick<SiteSpec, "siteName" | "sessionCache">) {
    const v = siteVariableSuffix(spec.siteName);
    return {
        dnVar: `mtls_dn_${v}`,
        serialVar: `mtls_serial_${v}`,
        fingerprintVar: `mtls_fp_${v}`,
        allowedVar: `mtls_ok_${v}`,
        denyPageVar: `mtls_403page_${v}`,
        sessionZone: `mtls_${spec.siteName}${spec.sessionCache.zoneSuffix ? `_${spec.sessionCache.zoneSuffix}` : ""}`,
    };
}

class Out {
    private readonly lines: string[] = [];
    private depth = 0;
    line(text = ""): this {
        this.lines.push(text === "" ? "" : "    ".repeat(this.depth) + text);
        return this;
    }
    open(text: string): this {
        this.line(`${text} {`);
        this.depth++;
        return this;
    }
    close(): this {
        this.depth--;
        return this.line("}");
    }
    toString(): string {
        return this.lines.join("\n") + "\n";
    }
}

/** Renders a validated site. Throws the validation errors otherwise. */
export function renderSite(spec: SiteSpec): RenderedSite {
    validateSiteSpec(spec);
    const names = siteNames(spec);
    const optional = spec.verifyClient === "optional";
    const locations = spec.locations ?? [{ path: "/", requireClientCertificate: true }];
    const allow = spec.allow;
    const dnPatterns = [...(allow?.subjectDns ?? []).map(subjectDnPattern), ...(allow?.commonNames ?? []).map(commonNamePattern)];
    const serials = (allow?.serials ?? []).map((s) => normalizeSerial(s)!);
    const fingerprints = (allow?.fingerprintsSha1 ?? []).map((f) => normalizeFingerprintSha1(f)!);
    const hasAllowList = dnPatterns.length + serials.length + fingerprints.length > 0;

    const o = new Out();
    o.line(`# mTLS site "${spec.siteName}", rendered by pulumi-mtls-nginx (changes here are overwritten).`);
    o.line("# An http-context snippet: include it inside http { }. Needs nginx >= 1.22.");

    if (hasAllowList) {
        o.line();
        o.line("# Allowlist: a verified client is admitted when ANY entry matches, else 403.");
        o.line("# DN and CN entries are case-sensitive regexes over $ssl_client_s_dn (RFC 2253, as nginx prints it)");
        o.line("# built from escaped literals: plain map keys would match case-insensitively.");
        const parts: string[] = [];
        if (dnPatterns.length > 0) {
            o.open(`map $ssl_client_s_dn $${names.dnVar}`);
            o.line("default 0;");
            for (const pattern of dnPatterns) o.line(`${regexMapKey(pattern)} 1;`);
            o.close();
            parts.push(`$${names.dnVar}`);
        }
        if (serials.length > 0) {
            o.open(`map $ssl_client_serial $${names.serialVar}`);
            o.line("default 0;");
            for (const serial of serials) o.line(`${serial} 1;`);
            o.close();
            parts.push(`$${names.serialVar}`);
        }
        if (fingerprints.length > 0) {
            o.open(`map $ssl_client_fingerprint $${names.fingerprintVar}`);
            o.line("default 0;");
            for (const fp of fingerprints) o.line(`${fp} 1;`);
            o.close();
            parts.push(`$${names.fingerprintVar}`);
        }
        o.line("# Fails closed: only a 1 from some list admits.");
        o.open(`map "${parts.join("")}" $${names.allowedVar}`);
        o.line("default 0;");
        o.line(`"~1" 1;`);
        o.close();
    }
    if (optional) {
        o.line();
        o.line("# With ssl_verify_client optional, a protected location answers a request without a verified");
        o.line("# certificate with 403; show it the \"no certificate\" page rather than \"not allowed\".");
        o.open(`map $ssl_client_verify $${names.denyPageVar}`);
        o.line(`default ${ERROR_PAGE_FILES[496]};`);
        o.line(`SUCCESS ${ERROR_PAGE_FILES[403]};`);
        o.close();
    }

    o.line();
    o.open("server");
    const listenParams = `ssl${spec.listen.http2 ? " http2" : ""}`;
    if (spec.listen.http2) {
        o.line("# http2 as a listen parameter: nginx 1.22 has no http2 directive (1.25.1 adds `http2 on;` and");
        o.line("# deprecates this form with a warning). It applies to every server on this address:port.");
    }
    o.line(`listen ${normalizeListenAddress(spec.listen.address, true)}:${spec.listen.port} ${listenParams};`);
    if (spec.listen.ipv6Address !== undefined) {
        o.line(`listen ${normalizeListenAddress(spec.listen.ipv6Address, false)}:${spec.listen.port} ${listenParams};`);
    }
    o.line(`server_name ${spec.serverNames.map((n) => normalizeServerName(n)!).join(" ")};`);

    o.line();
    o.line(`ssl_certificate ${spec.paths.certificate};`);
    o.line(`ssl_certificate_key ${spec.paths.certificateKey};`);
    o.line(`ssl_protocols ${spec.tlsProtocols === "TLSv1.3" ? "TLSv1.3" : "TLSv1.2 TLSv1.3"};`);
    if (spec.tlsProtocols !== "TLSv1.3") {
        o.line("# Mozilla intermediate, ECDHE only: nginx has no built-in DH parameters, so DHE suites would");
        o.line("# need ssl_dhparam to ever be negotiated; we configure none and list none.");
        o.line(`ssl_ciphers ${MOZILLA_INTERMEDIATE_CIPHERS};`);
    }
    o.line("ssl_prefer_server_ciphers off;");
    o.line("# A cache of this site's own: a resumed session skips certificate verification, so the zone name");
    o.line("# carries a hash of the trust material (CA, CRL) and a change starts an empty cache.");
    o.line(`ssl_session_cache shared:${names.sessionZone}:${spec.sessionCache.sizeMb}m;`);
    o.line(`ssl_session_timeout ${spec.sessionCache.timeoutMinutes}m;`);
    o.line("# Mozilla guidance: nginx never rotates ticket keys it generated itself.");
    o.line("ssl_session_tickets off;");

    o.line();
    o.line(`ssl_client_certificate ${spec.paths.clientCa};`);
    if (spec.paths.trustedCa !== undefined) o.line(`ssl_trusted_certificate ${spec.paths.trustedCa};`);
    o.line(`ssl_verify_client ${spec.verifyClient};`);
    o.line(`ssl_verify_depth ${spec.verifyDepth};`);
    if (spec.paths.crl !== undefined) {
        o.line("# nginx checks revocation for every CA in the chain: the file needs a CRL from each of them.");
        o.line(`ssl_crl ${spec.paths.crl};`);
    }

    if (spec.hsts !== false || spec.releaseMarker !== undefined) {
        o.line();
        o.line("# Response headers live here only: a location with an add_header of its own would drop them.");
    }
    if (spec.hsts !== false) {
        o.line(`add_header Strict-Transport-Security "max-age=${spec.hsts.maxAgeSeconds}${spec.hsts.includeSubDomains ? "; includeSubDomains" : ""}" always;`);
    }
    if (spec.releaseMarker !== undefined) o.line(`add_header ${RELEASE_HEADER} ${nginxQuote(spec.releaseMarker)} always;`);

    o.line();
    o.line("# 495: certificate not accepted, 496: no certificate (nginx sends both as 400), 403: not allowed.");
    o.line(`error_page 495 ${ERROR_PAGES_URI}${ERROR_PAGE_FILES[495]};`);
    o.line(`error_page 496 ${ERROR_PAGES_URI}${ERROR_PAGE_FILES[496]};`);
    o.line(`error_page 403 ${ERROR_PAGES_URI}${optional ? `$${names.denyPageVar}` : ERROR_PAGE_FILES[403]};`);
    o.open(`location ^~ ${ERROR_PAGES_URI}`);
    o.line("internal;");
    o.line("default_type text/html;");
    o.line(`alias ${spec.paths.errorPagesDir}/;`);
    o.close();

    if (spec.mode.kind === "proxy") {
        const prefix = spec.mode.headerPrefix;
        o.line();
        o.line("# proxy_set_header replaces an incoming header of the same name (any case): every identity");
        o.line("# header is set by nginx (an empty value sends nothing) or cleared, never passed through.");
        o.line("# Kept at server level; a location with its own proxy_set_header would drop these.");
        o.line("proxy_set_header Host $host;");
        o.line("# nginx terminates TLS, so it is the first hop: the client's own X-Forwarded-For is not trusted.");
        o.line("proxy_set_header X-Forwarded-For $remote_addr;");
        o.line("proxy_set_header X-Forwarded-Proto $scheme;");
        for (const [suffix, variable] of IDENTITY_HEADERS) o.line(`proxy_set_header ${prefix}${suffix} ${variable};`);
        o.line(`proxy_set_header ${prefix}${CLIENT_CERT_HEADER_SUFFIX} ${spec.mode.forwardClientCertificate ? "$ssl_client_escaped_cert" : '""'};`);
        o.line("proxy_ssl_server_name on;");
        o.line(`proxy_hide_header ${RELEASE_HEADER};`);
        if (spec.hsts !== false) o.line("proxy_hide_header Strict-Transport-Security;");
    } else {
        o.line();
        o.line(`root ${spec.mode.root};`);
        o.line(`index ${spec.mode.index.join(" ")};`);
    }

    const upstream = spec.mode.kind === "proxy" ? (canonicalUpstream(spec.mode.upstream) as { url: string }).url : undefined;
    const needsCatchAll = !locations.some((l) => l.path === "/");
    let explainedIf = false;
    for (const loc of locations) {
        o.line();
        o.open(`location ${loc.path}`);
        if (loc.requireClientCertificate && (optional || hasAllowList) && !explainedIf) {
            o.line("# `if` with only `return` inside is safe (the documented exception to \"if is evil\").");
            explainedIf = true;
        }
        if (loc.requireClientCertificate && optional) o.line("if ($ssl_client_verify != SUCCESS) { return 403; }");
        if (loc.requireClientCertificate && hasAllowList) o.line(`if ($${names.allowedVar} != 1) { return 403; }`);
        if (upstream !== undefined) o.line(`proxy_pass ${upstream};`);
        else o.line("# files from the root above");
        o.close();
    }
    if (needsCatchAll) {
        o.line();
        o.line("# Nothing outside the configured locations is served.");
        o.open("location /");
        o.line("return 404;");
        o.close();
    }
    o.close();
    return { siteConf: o.toString(), errorPages: errorPageFiles(spec.errorPages) };
}

/** A short embedded types map: a dedicated instance must not depend on /etc/nginx/mime.types. */
export const MIME_TYPES: readonly (readonly [type: string, extensions: string])[] = [
    ["text/html", "html htm"],
    ["text/css", "css"],
    ["text/plain", "txt"],
    ["text/xml", "xml"],
    ["application/javascript", "js mjs"],
    ["application/json", "json map"],
    ["application/wasm", "wasm"],
    ["application/pdf", "pdf"],
    ["application/zip", "zip"],
    ["application/manifest+json", "webmanifest"],
    ["image/png", "png"],
    ["image/jpeg", "jpg jpeg"],
    ["image/gif", "gif"],
    ["image/svg+xml", "svg svgz"],
    ["image/webp", "webp"],
    ["image/x-icon", "ico"],
    ["font/woff", "woff"],
    ["font/woff2", "woff2"],
];

/**
 * A complete nginx.conf for a dedicated instance started as `nginx -p <prefix> -c <file>` by an
 * unprivileged user: no `user` directive, every writable path (pid, logs, temp files) under the
 * caller's control, nothing read from /etc/nginx.
 */
export function renderNginxConf(input: NginxConfInput): string {
    validateNginxConfInput(input);
    const accessLog = input.accessLog === undefined ? `${input.prefix}/logs/access.log` : input.accessLog;
    const o = new Out();
    o.line("# nginx.conf of a dedicated mTLS instance, rendered by pulumi-mtls-nginx (changes here are overwritten).");
    o.line(`# Run as: nginx -p ${input.prefix} -c <this file>   (no root needed: every path below is the instance's own)`);
    o.line(`worker_processes ${input.workerProcesses ?? "auto"};`);
    o.line(`pid ${input.pidFile};`);
    o.line(`error_log ${input.errorLog} ${input.errorLogLevel ?? "warn"};`);
    o.line("# After a reload, old workers finish their connections for at most this long: a client that keeps a");
    o.line("# connection open cannot keep using a revoked certificate (or the old CRL) indefinitely.");
    o.line("worker_shutdown_timeout 60s;");
    o.line();
    o.open("events");
    o.line("worker_connections 1024;");
    o.close();
    o.line();
    o.open("http");
    o.open("types");
    for (const [type, extensions] of MIME_TYPES) o.line(`${type} ${extensions};`);
    o.close();
    o.line("default_type application/octet-stream;");
    o.line();
    o.line("# Temp files under the instance (the compiled-in defaults are in /var/lib/nginx, root-only).");
    o.line(`client_body_temp_path ${input.tempDir}/client_body;`);
    o.line(`proxy_temp_path ${input.tempDir}/proxy;`);
    o.line(`fastcgi_temp_path ${input.tempDir}/fastcgi;`);
    o.line(`uwsgi_temp_path ${input.tempDir}/uwsgi;`);
    o.line(`scgi_temp_path ${input.tempDir}/scgi;`);
    o.line();
    o.line(accessLog === false ? "access_log off;" : `access_log ${accessLog};`);
    o.line("sendfile on;");
    o.line("server_tokens off;");
    o.line("# nginx's defaults, stated: a client header with an underscore (X_Client_Verify) is dropped rather");
    o.line("# than passed upstream, where some frameworks would read it as X-Client-Verify.");
    o.line("ignore_invalid_headers on;");
    o.line("underscores_in_headers off;");
    if (input.siteIncludes.length > 0) o.line();
    for (const file of input.siteIncludes) o.line(`include ${file};`);
    o.close();
    return o.toString();
}
