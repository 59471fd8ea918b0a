/**
 * Host targets: the local machine (local.Command) or a host over SSH (remote.Command). Pure settings
 * resolution lives here; the Site component wires it to command resources.
 */
import type * as command from "@pulumi/command";
import type * as pulumi from "@pulumi/pulumi";
import * as net from "net";
import { InputError, throwIfAny } from "../util/errors";
import { InstallScriptInput, NginxControl, UninstallScriptInput } from "./install";
import { dedicatedPaths } from "./release";
import { SiteSpec } from "./siteSpec";
import { canonicalIPv6, normalizeListenAddress, normalizeServerName } from "./validate";
import { VersionPolicy } from "./version";

/** nginx error-log levels a dedicated instance may log at. */
export type ErrorLogLevel = "error" | "warn" | "notice" | "info";
export const ERROR_LOG_LEVELS: readonly ErrorLogLevel[] = ["error", "warn", "notice", "info"];

/** A private nginx for this site alone, started and reloaded by the install script (no root needed). */
export interface DedicatedNginxArgs {
    kind: "dedicated";
    /**
     * Path of the nginx binary on the target.
     * @default "/usr/sbin/nginx"
     */
    binary?: string;
    /**
     * The level of the instance's error log (`installDir/logs/error.log`). At `"info"` nginx says why it
     * refused each client certificate (revoked, expired CRL, unknown CA), but it also writes ~200 bytes
     * for every refused request, which anyone who reaches the port can send: nothing rotates that file,
     * so use it with a logrotate rule (see the README). At `"notice"` a refused request writes nothing there.
     * @default "notice"
     */
    errorLogLevel?: ErrorLogLevel;
}

/** The host's own nginx: the site is linked into its include directory and nginx is reloaded. */
export interface SystemNginxArgs {
    kind: "system";
    /**
     * Path of the nginx binary on the target.
     * @default "/usr/sbin/nginx"
     */
    binary?: string;
    /**
     * The symlink the main nginx.conf includes (inside `http {}`).
     * @default "/etc/nginx/conf.d/mtls-<siteName>.conf"
     */
    includeLink?: string;
    /**
     * How to reload: `nginx -s reload`, `systemctl reload <unit>`, or your own command.
     * @default "systemctl"
     */
    reload?: "signal" | "systemctl" | { command: string };
    /**
     * The systemd unit for `reload: "systemctl"`.
     * @default "nginx"
     */
    systemdUnit?: string;
    /**
     * nginx's error log, whose tail is printed when a reload fails.
     * @default "/var/log/nginx/error.log"
     */
    errorLog?: string;
    /**
     * Extra arguments for every call of the nginx binary (`nginx -t`, `nginx -s reload`), for an nginx whose
     * main config is not the compiled-in one, e.g. `["-c", "/usr/local/nginx/conf/nginx.conf"]`.
     * @default []
     */
    args?: string[];
}

interface HostTargetCommon {
    /**
     * Absolute directory on the target for releases (`releases/<id>/`) and the `current` link.
     * @default local: required; ssh: "/etc/nginx/mtls/<siteName>"
     */
    installDir?: string;
    /**
     * Which nginx serves the site.
     * @default local: { kind: "dedicated" }; ssh: { kind: "system" }
     */
    nginx?: DedicatedNginxArgs | SystemNginxArgs;
    /**
     * Run the install script through `sudo -n` (for a system nginx owned by root).
     * @default false
     */
    sudo?: boolean;
    /**
     * What to do with an nginx build lacking the CVE-2025-23419 fix when the site shares its
     * address:port with other server blocks: refuse to install, or warn.
     * @default "refuse"
     */
    versionPolicy?: VersionPolicy;
    /**
     * Whether other server blocks share the site's address:port (decides whether CVE-2025-23419 matters).
     * @default false for a dedicated instance, true for a system nginx
     */
    sharedListen?: boolean;
    /**
     * Where the install script connects to confirm the new certificate is served.
     * @default the listen address when it is specific, else 127.0.0.1; 10 s
     */
    liveCheck?: { host?: string; timeoutSeconds?: number };
}

/** The machine running `pulumi up`. */
export interface LocalHostTarget extends HostTargetCommon {
    kind: "local";
}

/** A host reached over SSH. */
export interface SshHostTarget extends HostTargetCommon {
    kind: "ssh";
    /** SSH connection (host, user, privateKey as a secret...). */
    connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
}

export type HostTarget = LocalHostTarget | SshHostTarget;

export interface HostTargetSettings {
    kind: "local" | "ssh";
    installDir: string;
    dedicated: boolean;
    /** The dedicated instance's error-log level (undefined for a system nginx). */
    errorLogLevel?: ErrorLogLevel;
    script: Omit<InstallScriptInput, "releaseId" | "expectedContentHash">;
}

/** Resolves a host target against the site, applying defaults; InputErrors name `input`. */
export function resolveHostTarget(target: HostTarget, spec: SiteSpec, input = "target"): HostTargetSettings {
    const errors: InputError[] = [];
    const kind = target?.kind;
    if (kind !== "local" && kind !== "ssh") {
        throw new InputError(`${input}.kind`, `${JSON.stringify(kind)} is not a host target`, `use "local" or "ssh" (or "docker" for a container)`);
    }
    if (kind === "ssh" && !(target as SshHostTarget).connection) {
        errors.push(new InputError(`${input}.connection`, "no SSH connection given", "pass { host, user, privateKey } (the key as a secret)"));
    }
    const nginx = target.nginx ?? (kind === "local" ? { kind: "dedicated" as const } : { kind: "system" as const });
    if (nginx.kind !== "dedicated" && nginx.kind !== "system") {
        errors.push(new InputError(`${input}.nginx.kind`, `${JSON.stringify((nginx as { kind: unknown }).kind)} is not an nginx mode`, `use "dedicated" or "system"`));
    }
    if (nginx.kind === "dedicated" && nginx.errorLogLevel !== undefined && !ERROR_LOG_LEVELS.includes(nginx.errorLogLevel)) {
        errors.push(new InputError(`${input}.nginx.errorLogLevel`, `${JSON.stringify(nginx.errorLogLevel)} is not an error-log level`, `use one of ${ERROR_LOG_LEVELS.map((l) => JSON.stringify(l)).join(", ")} ("info" with a logrotate rule)`));
    }
    const installDir = target.installDir ?? (kind === "ssh" ? `/etc/nginx/mtls/${spec.siteName}` : undefined);
    if (installDir === undefined) {
        errors.push(new InputError(`${input}.installDir`, "no install directory given", "give an absolute directory for the site's files, e.g. /home/me/mtls-nginx/.dev/nginx"));
    } else if (typeof installDir !== "string" || !installDir.startsWith("/")) {
        errors.push(new InputError(`${input}.installDir`, `${JSON.stringify(installDir)} is not an absolute path`, "use an absolute directory such as /opt/mtls-nginx/site"));
    }
    throwIfAny(errors);

    const dedicated = nginx.kind === "dedicated";
    const dir = installDir as string;
    let control: NginxControl;
    if (nginx.kind === "dedicated") {
        const d = dedicatedPaths(dir);
        control = { kind: "dedicated", nginxBinary: nginx.binary, prefix: d.prefix, confFile: d.confFile, pidFile: d.pidFile, errorLog: d.errorLog };
    } else {
        control = {
            kind: "system",
            nginxBinary: nginx.binary,
            includeLink: nginx.includeLink ?? `/etc/nginx/conf.d/mtls-${spec.siteName}.conf`,
            reload: nginx.reload ?? "systemctl",
            systemdUnit: nginx.systemdUnit,
            errorLog: nginx.errorLog,
            nginxArgs: nginx.args,
        };
    }
    const names = liveCheckNames(spec.serverNames);
    const sharedListen = target.sharedListen ?? !dedicated;
    if (sharedListen === true && names.serverName === undefined) {
        throw new InputError(
            "site.serverNames",
            `${JSON.stringify(spec.serverNames)} are IP literals only, and the site shares its listen address ${normalizeListenAddress(spec.listen.address, true) ?? spec.listen.address}:${spec.listen.port} with other server blocks: without a DNS name for SNI, the install's live check (and any client) gets that address's default server, which may be another site`,
            `add a DNS name of the server certificate to site.serverNames, or give the site an address:port of its own and set ${input}.sharedListen: false`,
        );
    }
    const script: HostTargetSettings["script"] = {
        installDir: dir,
        site: spec.siteName,
        control,
        sudo: target.sudo ?? false,
        versionPolicy: target.versionPolicy ?? "refuse",
        sharedListen,
        liveCheck: {
            host: target.liveCheck?.host ?? liveCheckHost(spec.listen.address),
            port: spec.listen.port,
            ...names,
            timeoutSeconds: target.liveCheck?.timeoutSeconds,
        },
    };
    return { kind, installDir: dir, dedicated, ...(nginx.kind === "dedicated" ? { errorLogLevel: nginx.errorLogLevel ?? "notice" } : {}), script };
}

/**
 * Where the live check connects for a listen address: itself when it is specific (IPv6 without
 * brackets), the loopback of its family for a wildcard ("0.0.0.0" and "*": 127.0.0.1; "::": ::1,
 * since nginx's [::] socket is IPv6-only).
 */
export function liveCheckHost(address: string): string {
    if (address === "0.0.0.0" || address === "*") return "127.0.0.1";
    const v6 = canonicalIPv6(address);
    if (v6 !== undefined) return v6 === "::" ? "::1" : v6;
    return address;
}

/**
 * The live check's SNI and Host header for a site's names: the first DNS name (SNI and Host; a
 * wildcard `*.example.com` becomes `check.example.com`). SNI cannot carry an IP literal (RFC 6066):
 * with IP literals only there is none, and the Host header is the first literal (IPv6 in brackets).
 */
export function liveCheckNames(serverNames: readonly string[]): { serverName?: string; hostHeader?: string } {
    const names = serverNames.map((n) => normalizeServerName(n) ?? n);
    const isIp = (n: string) => net.isIP(n.replace(/^\[(.*)\]$/, "$1")) !== 0;
    const dns = names.find((n) => !n.startsWith("*") && !isIp(n)) ?? names.find((n) => n.startsWith("*."))?.replace(/^\*/, "check");
    if (dns !== undefined) return { serverName: dns };
    return names[0] !== undefined ? { hostHeader: names[0] } : {};
}

/** The uninstall part of a script input. */
export function uninstallInput(s: InstallScriptInput): UninstallScriptInput {
    return { installDir: s.installDir, releaseId: s.releaseId, site: s.site, control: s.control, sudo: s.sudo, lockTimeoutSeconds: s.lockTimeoutSeconds };
}
