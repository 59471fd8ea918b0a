/**
 * Host targets: the local machine (local.Command) or a host over SSH (remote.Command). Pure settings
 * resolution lives here; the Site component wires it to command resources.
 */
import type * as command from "@pulumi/command";
import type * as pulumi from "@pulumi/pulumi";
import * as net from "net";
import * as path from "path";
import { InputError, throwIfAny } from "../util/errors";
import { InstallScriptInput, NginxControl, UninstallScriptInput } from "./install";
import { dedicatedPaths } from "./release";
import { SiteSpec } from "./siteSpec";
import { canonicalIPv6, checkAbsolutePath, normalizeListenAddress, normalizeServerName } from "./validate";
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

/** An absolute, normalized path for the shell (no control character), as `input` names it. */
function checkShellPath(errors: InputError[], input: string, value: unknown, example: string): void {
    if (typeof value !== "string" || value === "") {
        errors.push(new InputError(input, `${JSON.stringify(value)} is not a path`, `give an absolute path such as ${example}`));
    } else if (!value.startsWith("/")) {
        errors.push(new InputError(input, `${JSON.stringify(value)} is not an absolute path`, `give an absolute path such as ${example}`));
        // eslint-disable-next-line no-control-regex
    } else if (/[\x00-\x1f\x7f]/.test(value)) {
        errors.push(new InputError(input, `${JSON.stringify(value)} contains a control character`, `give an absolute path such as ${example}`));
    } else if (value !== "/" && (value.endsWith("/") || value.split("/").slice(1).some((seg) => seg === "" || seg === "." || seg === ".."))) {
        errors.push(new InputError(input, `${JSON.stringify(value)} is not normalized (., .., // or a trailing /)`, `write it as ${JSON.stringify(path.posix.normalize(value).replace(/(.)\/$/, "$1"))}`));
    }
}

const HOST_NAME_OR_IP = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)$/;

/**
 * Validates what a host target says by itself (no site needed), collecting every problem, each
 * InputError naming the field as the user wrote it (`target.installDir`, `target.nginx.binary`...).
 * It runs before the site is validated, whose paths derive from `installDir`.
 */
export function validateHostTarget(target: HostTarget, input = "target"): InputError[] {
    const errors: InputError[] = [];
    const kind = target?.kind;
    if (kind !== "local" && kind !== "ssh") {
        return [new InputError(`${input}.kind`, `${JSON.stringify(kind)} is not a host target`, `use "local" or "ssh" (or "docker" for a container)`)];
    }
    if (kind === "ssh" && !(target as SshHostTarget).connection) {
        errors.push(new InputError(`${input}.connection`, "no SSH connection given", "pass { host, user, privateKey } (the key as a secret)"));
    }
    if (target.installDir === undefined && kind === "local") {
        errors.push(new InputError(`${input}.installDir`, "no install directory given", "give an absolute directory for the site's files, e.g. /home/me/mtls-nginx/.dev/nginx"));
    } else if (target.installDir !== undefined) {
        // Release paths derive from it and appear in nginx's configuration: the nginx path rules apply.
        if (checkAbsolutePath(target.installDir, `${input}.installDir`, errors, { kind: "directory", noGlob: true }) && target.installDir === "/") {
            errors.push(new InputError(`${input}.installDir`, "is the root directory", "give the site a directory of its own, e.g. /opt/mtls-nginx/<site>"));
        }
    }
    const nginx = target.nginx ?? (kind === "local" ? { kind: "dedicated" as const } : { kind: "system" as const });
    if (nginx.kind !== "dedicated" && nginx.kind !== "system") {
        errors.push(new InputError(`${input}.nginx.kind`, `${JSON.stringify((nginx as { kind: unknown }).kind)} is not an nginx mode`, `use "dedicated" or "system"`));
    } else {
        if (nginx.binary !== undefined) checkShellPath(errors, `${input}.nginx.binary`, nginx.binary, '"/usr/sbin/nginx" (the output of `command -v nginx` on the target)');
        if (nginx.kind === "dedicated") {
            if (nginx.errorLogLevel !== undefined && !ERROR_LOG_LEVELS.includes(nginx.errorLogLevel)) {
                errors.push(new InputError(`${input}.nginx.errorLogLevel`, `${JSON.stringify(nginx.errorLogLevel)} is not an error-log level`, `use one of ${ERROR_LOG_LEVELS.map((l) => JSON.stringify(l)).join(", ")} ("info" with a logrotate rule)`));
            }
        } else {
            validateSystemNginx(nginx, target.installDir, `${input}.nginx`, errors);
        }
    }
    for (const [field, value] of [["sudo", target.sudo], ["sharedListen", target.sharedListen]] as const) {
        if (value !== undefined && typeof value !== "boolean") errors.push(new InputError(`${input}.${field}`, `${JSON.stringify(value)} must be true or false`, `use true or false`));
    }
    if (target.versionPolicy !== undefined && target.versionPolicy !== "refuse" && target.versionPolicy !== "warn") {
        errors.push(new InputError(`${input}.versionPolicy`, `${JSON.stringify(target.versionPolicy)} is not a version policy`, `use "refuse" or "warn"`));
    }
    const live = target.liveCheck;
    if (live?.host !== undefined && (typeof live.host !== "string" || !HOST_NAME_OR_IP.test(live.host))) {
        errors.push(new InputError(`${input}.liveCheck.host`, `${JSON.stringify(live.host)} is not an IP address or host name`, "use the address the site listens on, e.g. 127.0.0.1 or ::1"));
    }
    const t = live?.timeoutSeconds;
    if (t !== undefined && !(Number.isInteger(t) && t >= 1 && t <= 600)) {
        errors.push(new InputError(`${input}.liveCheck.timeoutSeconds`, `${JSON.stringify(t)} is not a whole number of seconds in 1..600`, "use e.g. 10"));
    }
    return errors;
}

function validateSystemNginx(nginx: SystemNginxArgs, installDir: string | undefined, input: string, errors: InputError[]): void {
    if (nginx.includeLink !== undefined) {
        checkShellPath(errors, `${input}.includeLink`, nginx.includeLink, "/etc/nginx/conf.d/mtls-<site>.conf (a file your nginx.conf includes)");
        if (typeof nginx.includeLink === "string" && typeof installDir === "string" && (nginx.includeLink + "/").startsWith(installDir + "/")) {
            errors.push(new InputError(`${input}.includeLink`, `${JSON.stringify(nginx.includeLink)} lies inside target.installDir (${installDir})`, "put the link in nginx's include directory, e.g. /etc/nginx/conf.d/mtls-<site>.conf"));
        }
    }
    if (nginx.errorLog !== undefined) checkShellPath(errors, `${input}.errorLog`, nginx.errorLog, "/var/log/nginx/error.log (the error_log of your nginx.conf)");
    const r = nginx.reload;
    if (r !== undefined && r !== "signal" && r !== "systemctl" && !(r && typeof r === "object" && typeof r.command === "string" && r.command.trim() !== "" && !r.command.includes("\0"))) {
        errors.push(new InputError(`${input}.reload`, `${JSON.stringify(r)} is not a reload method`, `use "signal", "systemctl" or { command: "<shell command that reloads nginx>" }`));
    }
    if (nginx.systemdUnit !== undefined && (typeof nginx.systemdUnit !== "string" || !/^[A-Za-z0-9@._:-]+$/.test(nginx.systemdUnit))) {
        errors.push(new InputError(`${input}.systemdUnit`, `${JSON.stringify(nginx.systemdUnit)} is not a unit name`, 'use e.g. "nginx" or "nginx.service"'));
    }
    if (nginx.args !== undefined && !Array.isArray(nginx.args)) {
        errors.push(new InputError(`${input}.args`, `${JSON.stringify(nginx.args)} is not a list`, 'give a list of arguments, e.g. ["-c", "/etc/nginx/nginx.conf"]'));
    } else {
        (nginx.args ?? []).forEach((a, i) => {
            if (typeof a !== "string" || a.includes("\0")) errors.push(new InputError(`${input}.args[${i}]`, `${JSON.stringify(a)} must be a string without NUL`, 'pass plain arguments, e.g. ["-c", "/etc/nginx/nginx.conf"]'));
        });
    }
}

/** Resolves a host target against the site, applying defaults; InputErrors name `input`. */
export function resolveHostTarget(target: HostTarget, spec: SiteSpec, input = "target"): HostTargetSettings {
    throwIfAny(validateHostTarget(target, input));
    const kind = target.kind;
    const nginx = target.nginx ?? (kind === "local" ? { kind: "dedicated" as const } : { kind: "system" as const });
    const installDir = target.installDir ?? `/etc/nginx/mtls/${spec.siteName}`;

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
