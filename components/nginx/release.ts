/**
 * One release of a site: every file nginx needs (config, certificates, key, CA bundle, CRL, error
 * pages) laid out under `installDir/releases/<releaseId>/`, with the payload the install script reads
 * on stdin. Pure, and shared by every target (host, SSH, container): one renderer, one layout.
 */
import { createHash } from "crypto";
import { canonicalJson, contentHash, encodePayload, InstallFile, releaseId as computeReleaseId } from "./install";
import { renderNginxConf, renderSite } from "./render";
import { SiteFilePaths, SiteSpec, SiteSpecInput, withDefaults } from "./siteSpec";
import { validateNginxConfInput, validateSiteSpec } from "./validate";

/** File names inside a release directory. */
export const RELEASE_FILES = {
    certificate: "server.crt",
    certificateKey: "server.key",
    clientCa: "client-ca.pem",
    trustedCa: "trusted-ca.pem",
    crl: "crl.pem",
    errorPagesDir: "errors",
    siteConf: "site.conf",
    nginxConf: "nginx.conf",
    /** Document root of a static site declared without one (holds {@link DEFAULT_INDEX_HTML}). */
    wwwDir: "www",
} as const;

/** The page a static site without its own root serves to admitted clients. */
export const DEFAULT_INDEX_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mTLS: you are in</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto;">
<h1>You are in.</h1>
<p>Your client certificate was verified by nginx (mutual TLS, set up by pulumi-mtls-nginx).</p>
</body></html>
`;

/** The site as the user describes it: everything but the paths, which the layout decides. */
export type SiteDefinition = Omit<SiteSpecInput, "paths" | "releaseMarker" | "sessionCache" | "mode"> & {
    sessionCache?: { sizeMb?: number; timeoutMinutes?: number };
    /** Proxy to an upstream, or serve static files (from `root`, or a built-in page when it is omitted). */
    mode: Exclude<SiteSpecInput["mode"], { kind: "static" }> | { kind: "static"; root?: string; index?: string[] };
};

/** Certificate material of a release (PEM strings; the key is secret). */
export interface SiteMaterial {
    /** Leaf followed by intermediates. */
    serverFullChainPem: string;
    serverKeyPem: string;
    /** CAs advertised to clients and trusted (ssl_client_certificate). */
    clientCaPem: string;
    /** Verify-only CAs (ssl_trusted_certificate). */
    trustedCaPem?: string;
    /** CRLs for every CA in the chain (ssl_crl). */
    crlPem?: string;
}

export interface ReleaseLayout {
    /** Absolute directory on the target holding `releases/` and `current`. */
    installDir: string;
    /** Also render a complete nginx.conf for a dedicated instance with its prefix at installDir. */
    dedicated: boolean;
    /**
     * The dedicated nginx.conf's error-log level. `"info"` tells why each client certificate was refused
     * but writes for every refused request (bound it with rotation); `"notice"` writes nothing for those.
     * @default "notice"
     */
    errorLogLevel?: "error" | "warn" | "notice" | "info";
}

/** Paths of a dedicated instance, all under its install directory. */
export function dedicatedPaths(installDir: string) {
    return {
        prefix: installDir,
        confFile: `${installDir}/current/${RELEASE_FILES.nginxConf}`,
        pidFile: `${installDir}/run/nginx.pid`,
        errorLog: `${installDir}/logs/error.log`,
        accessLog: `${installDir}/logs/access.log`,
        // nginx creates only the last component of a temp path; run/ exists (it holds the pid file).
        tempDir: `${installDir}/run`,
    };
}

export function releaseDir(installDir: string, id: string): string {
    return `${installDir}/releases/${id}`;
}

export function sitePaths(dir: string, has: { trustedCa: boolean; crl: boolean }): SiteFilePaths {
    return {
        certificate: `${dir}/${RELEASE_FILES.certificate}`,
        certificateKey: `${dir}/${RELEASE_FILES.certificateKey}`,
        clientCa: `${dir}/${RELEASE_FILES.clientCa}`,
        ...(has.trustedCa ? { trustedCa: `${dir}/${RELEASE_FILES.trustedCa}` } : {}),
        ...(has.crl ? { crl: `${dir}/${RELEASE_FILES.crl}` } : {}),
        errorPagesDir: `${dir}/${RELEASE_FILES.errorPagesDir}`,
    };
}

/** Short hash of the trust material: a new session-cache zone whenever trust or revocation changes. */
export function trustZoneSuffix(material: Pick<SiteMaterial, "clientCaPem" | "trustedCaPem" | "crlPem">): string {
    return createHash("sha256")
        .update(`${material.clientCaPem}\0${material.trustedCaPem ?? ""}\0${material.crlPem ?? ""}`)
        .digest("hex")
        .slice(0, 8);
}

function usesBuiltInPage(def: SiteDefinition): boolean {
    return def.mode?.kind === "static" && def.mode.root === undefined;
}

function specFor(def: SiteDefinition, dir: string, has: { trustedCa: boolean; crl: boolean }, zoneSuffix: string, marker: string): SiteSpec {
    const mode = (usesBuiltInPage(def) ? { ...def.mode, root: `${dir}/${RELEASE_FILES.wwwDir}` } : def.mode) as SiteSpecInput["mode"];
    return withDefaults({ ...def, mode, sessionCache: { ...def.sessionCache, zoneSuffix }, paths: sitePaths(dir, has), releaseMarker: marker });
}

/**
 * Validates a site definition against a layout before any material exists (at construction, so a
 * bad input fails `pulumi preview`). Uses placeholder ids; throws InputError(s) naming `input`.
 */
export function validateSiteDefinition(def: SiteDefinition, layout: ReleaseLayout, has: { trustedCa: boolean; crl: boolean }, input = "site"): SiteSpec {
    const dir = releaseDir(layout.installDir, "0000000000000000");
    const spec = specFor(def, dir, has, "00000000", "0000000000000000");
    validateSiteSpec(spec, input);
    if (layout.dedicated) {
        const d = dedicatedPaths(layout.installDir);
        validateNginxConfInput({ ...d, siteIncludes: [`${dir}/${RELEASE_FILES.siteConf}`] }, `${input}.installDir`);
    }
    return spec;
}

export interface SiteRelease {
    releaseId: string;
    /** Hash of every file: the install command's trigger. */
    contentHash: string;
    files: InstallFile[];
    /** The script's stdin (holds the key: secret). */
    payload: string;
    spec: SiteSpec;
    siteConf: string;
    nginxConf?: string;
}

/** Builds a release: ids, rendered config, files and payload. */
export function buildSiteRelease(def: SiteDefinition, material: SiteMaterial, layout: ReleaseLayout): SiteRelease {
    const has = { trustedCa: !!material.trustedCaPem?.trim(), crl: !!material.crlPem?.trim() };
    const zoneSuffix = trustZoneSuffix(material);
    const materialFiles: InstallFile[] = [
        { path: RELEASE_FILES.certificate, content: material.serverFullChainPem, mode: 0o644 },
        { path: RELEASE_FILES.certificateKey, content: material.serverKeyPem, mode: 0o600 },
        { path: RELEASE_FILES.clientCa, content: material.clientCaPem, mode: 0o644 },
        ...(has.trustedCa ? [{ path: RELEASE_FILES.trustedCa, content: material.trustedCaPem!, mode: 0o644 as const }] : []),
        ...(has.crl ? [{ path: RELEASE_FILES.crl, content: material.crlPem!, mode: 0o644 as const }] : []),
        ...(usesBuiltInPage(def) ? [{ path: `${RELEASE_FILES.wwwDir}/index.html`, content: DEFAULT_INDEX_HTML, mode: 0o644 as const }] : []),
    ];
    // The id covers the material and every render input; the config that names the id is rendered after.
    const renderInputs = canonicalJson({ def, layout, has, zoneSuffix });
    const id = computeReleaseId(materialFiles, renderInputs);
    const dir = releaseDir(layout.installDir, id);
    const spec = specFor(def, dir, has, zoneSuffix, id);
    const rendered = renderSite(spec);
    const files: InstallFile[] = [
        ...materialFiles,
        { path: RELEASE_FILES.siteConf, content: rendered.siteConf, mode: 0o644 },
        ...Object.entries(rendered.errorPages).map(([name, html]) => ({ path: `${RELEASE_FILES.errorPagesDir}/${name}`, content: html, mode: 0o644 as const })),
    ];
    let nginxConf: string | undefined;
    if (layout.dedicated) {
        // notice by default: at info nginx logs why it refused a client certificate (revoked, expired CRL,
        // unknown CA), but also ~200 bytes for every refused request, which anyone can send; opt-in where
        // the log is rotated (the Docker target's entry script rotates it).
        nginxConf = renderNginxConf({ ...dedicatedPaths(layout.installDir), siteIncludes: [`${dir}/${RELEASE_FILES.siteConf}`], errorLogLevel: layout.errorLogLevel ?? "notice" });
        files.push({ path: RELEASE_FILES.nginxConf, content: nginxConf, mode: 0o644 });
    }
    return { releaseId: id, contentHash: contentHash(files), files, payload: encodePayload(files), spec, siteConf: rendered.siteConf, nginxConf };
}
