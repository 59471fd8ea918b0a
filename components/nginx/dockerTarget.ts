/**
 * The Docker target: the site's own nginx in a container, on a local or remote Docker host (pure
 * settings, validation and shell text; components/nginx/dockerRuntime.ts creates the resources).
 *
 * How it works:
 * - the image is a pinned `docker.RemoteImage` (an exact version tag or a digest; default
 *   {@link DEFAULT_DOCKER_IMAGE}, which has the CVE-2025-23419 fix); the container runs it read-only,
 *   unprivileged, with `init` (docker-init reaps nginx's processes), a restart policy, a TLS healthcheck
 *   and rotated logs;
 * - releases live in a `docker.Volume` mounted at {@link DEFAULT_CONTAINER_INSTALL_DIR} (the same
 *   release layout as every target, dedicated instance: `nginx -p <installDir> -c <installDir>/current/nginx.conf`);
 * - the container's entry script ({@link renderContainerEntrypoint}) supervises that nginx: it waits
 *   for the first release, (re)starts nginx whenever `current/nginx.conf` exists and nginx is not
 *   running (container restarts, crashes), forwards nginx's error log to `docker logs`, rotates the
 *   logs and stops nginx gracefully on `docker stop`. It takes the install script's lock before
 *   starting nginx, so it never races an install;
 * - every release (first install, rotation, CRL refresh, config change) is applied by the SAME install
 *   script as the host targets, run inside the container with `docker exec -i <container> /bin/sh -c
 *   '<script>'` and the payload on stdin: staged swap, `nginx -t`, graceful reload, live check from
 *   inside the container (openssl, or curl 7.88+ where the image has no openssl) and rollback. None of
 *   that changes the container's inputs, so the container is never replaced by a rotation.
 */
import * as net from "net";
import type * as docker from "@pulumi/docker";
import { InputError, throwIfAny } from "../util/errors";
import { HostTargetSettings, liveCheckNames } from "./hostTarget";
import { dedicatedPaths } from "./release";
import { dockerExecWrap, joinScript, shAssign, shJoin, shQuote } from "./shell";
import { SiteSpec } from "./siteSpec";
import { checkAbsolutePath } from "./validate";

/** nginx 1.28.0 (stable, Debian bookworm based: POSIX sh, coreutils, openssl and curl), fixed for CVE-2025-23419. */
export const DEFAULT_DOCKER_IMAGE = "nginx:1.28.0";

/** Where the volume with the releases is mounted in the container. */
export const DEFAULT_CONTAINER_INSTALL_DIR = "/etc/nginx/mtls";

/** Directories on tmpfs (the root filesystem is read-only): nginx's compiled-in temp and run paths, and /tmp. */
export const CONTAINER_TMPFS: Readonly<Record<string, string>> = {
    "/tmp": "rw,noexec,nosuid,nodev,size=16m",
    "/run": "rw,noexec,nosuid,nodev,size=1m",
    "/var/cache/nginx": "rw,noexec,nosuid,nodev,size=16m",
};

/** Capabilities removed from Docker's default set (nginx needs CHOWN, SETUID/SETGID, KILL, NET_BIND_SERVICE; the scripts need no more). */
export const DROPPED_CAPABILITIES: readonly string[] = ["AUDIT_WRITE", "FSETID", "MKNOD", "NET_RAW", "SETFCAP", "SETPCAP", "SYS_CHROOT"];

/** Logs the entry script rotates (renamed to `.1`, nginx told to reopen them) once they reach this size. */
export const CONTAINER_LOG_ROTATE_KB = 10240;

/** A port of the Docker host published to the site's port in the container. */
export interface DockerPortArgs {
    /**
     * Host address to publish on (IPv4 or IPv6 literal).
     * @default "0.0.0.0" (every IPv4 address of the Docker host)
     */
    hostIp?: string;
    /** Host port. */
    hostPort: number;
    /**
     * Port in the container: the site's listen port (nginx listens on nothing else).
     * @default site.listen.port
     */
    containerPort?: number;
}

/** A Docker network the container joins. */
export interface DockerNetworkArgs {
    /** Network name. */
    name: string;
    /**
     * Create the network (a `docker.Network` child, bridge driver) instead of joining an existing one.
     * @default false
     */
    create?: boolean;
    /**
     * DNS names of the container on this network (other containers reach the site by them).
     * @default none
     */
    aliases?: string[];
}

/** The container's healthcheck: nginx runs and completes a TLS handshake on the site's port. */
export interface DockerHealthcheckArgs {
    /** @default 30 */
    intervalSeconds?: number;
    /** @default 5 */
    timeoutSeconds?: number;
    /** @default 3 */
    retries?: number;
    /** Failures during this time after the start do not count (the first install runs then). @default 60 */
    startPeriodSeconds?: number;
}

/** nginx in a Docker container on a local or remote Docker host. */
export interface DockerTarget {
    kind: "docker";
    /**
     * The nginx image, pinned: an exact version tag (`nginx:1.28.0`, `registry.example.com/nginx:1.28.0-bookworm`),
     * a digest (`nginx@sha256:<64 hex>`) or both (`nginx:1.28.0@sha256:...`). A moving tag (`latest`,
     * `stable`, `1.28`) is refused. A version tag can still be rebuilt by its publisher (new base
     * image): a digest pins the bytes. The image needs a POSIX sh, coreutils (or busybox), nginx, and
     * openssl or curl 7.88+ (the official Debian-based images have all of them).
     * @default "nginx:1.28.0"
     */
    image?: string;
    /**
     * Container name (the `docker exec` target; unique on the Docker host).
     * @default "mtls-nginx-<siteName>"
     */
    containerName?: string;
    /**
     * Name of the `docker.Volume` that holds the releases (certificates, key, config). Removed with the stack.
     * @default "mtls-nginx-<siteName>"
     */
    volumeName?: string;
    /**
     * Where the volume is mounted in the container (the release layout's install directory).
     * @default "/etc/nginx/mtls"
     */
    installDir?: string;
    /**
     * Published ports. `[]` publishes nothing (the site is then reachable only over `network`).
     * @default [{ hostIp: "0.0.0.0", hostPort: site.listen.port, containerPort: site.listen.port }]
     */
    ports?: DockerPortArgs[];
    /**
     * Restart policy.
     * @default "unless-stopped"
     */
    restart?: "no" | "on-failure" | "always" | "unless-stopped";
    /**
     * A network to join (an existing one by name, or one created here with `create: true`).
     * @default none (Docker's default bridge)
     */
    network?: DockerNetworkArgs;
    /**
     * Docker logging driver (nginx's error log is also forwarded to the container's output).
     * @default "json-file"
     */
    logDriver?: string;
    /**
     * Options of the logging driver.
     * @default { "max-size": "10m", "max-file": "3" } for json-file and local, else none
     */
    logOpts?: Record<string, string>;
    /**
     * Run with a read-only root filesystem (releases, logs and pid file are on the volume; /tmp, /run
     * and /var/cache/nginx on tmpfs).
     * @default true
     */
    readOnlyRootFilesystem?: boolean;
    /**
     * Privileged mode is refused: nginx needs none of it.
     * @default false
     */
    privileged?: boolean;
    /**
     * The healthcheck, or `false` for none.
     * @default { intervalSeconds: 30, timeoutSeconds: 5, retries: 3, startPeriodSeconds: 60 }
     */
    healthcheck?: DockerHealthcheckArgs | false;
    /**
     * The Docker host: `unix:///var/run/docker.sock`, `ssh://user@host[:port]` or `tcp://host:port`.
     * A `docker.Provider` child is created for it, and the `docker exec` commands get it as DOCKER_HOST.
     * @default the `docker:host` config, else DOCKER_HOST, else the local socket
     */
    host?: string;
    /**
     * An explicit Docker provider (instead of `host`); the `docker exec` commands use its `host`
     * (DOCKER_HOST) or `context` (DOCKER_CONTEXT).
     * @default the default provider (or the one created for `host`)
     */
    provider?: docker.Provider;
    /**
     * The docker CLI on the machine running `pulumi up` (it runs `docker exec`).
     * @default "docker"
     */
    dockerCli?: string;
    /**
     * Path of nginx in the image.
     * @default "/usr/sbin/nginx"
     */
    nginxBinary?: string;
    /**
     * How long the install waits for the new release to be served (checked from inside the container).
     * @default { timeoutSeconds: 10 }
     */
    liveCheck?: { timeoutSeconds?: number };
    /**
     * The level of nginx's error log in the container. `"info"` says why each client certificate was
     * refused; the entry script rotates the logs at {@link CONTAINER_LOG_ROTATE_KB} KiB, which bounds it.
     * @default "info"
     */
    errorLogLevel?: "error" | "warn" | "notice" | "info";
}

/**
 * Problems of a Docker target's `installDir` (a path in the container, which the release paths in
 * nginx's configuration derive from), naming `<input>.installDir`; checked before the site.
 */
export function dockerInstallDirErrors(target: Pick<DockerTarget, "installDir">, input = "target"): InputError[] {
    const errors: InputError[] = [];
    const installDir = target?.installDir ?? DEFAULT_CONTAINER_INSTALL_DIR;
    if (!checkAbsolutePath(installDir, `${input}.installDir`, errors, { kind: "directory", noGlob: true })) return errors;
    if (installDir === "/" || FORBIDDEN_INSTALL_DIRS.includes(installDir)) {
        errors.push(new InputError(`${input}.installDir`, `${installDir} is a system directory of the image (the volume would hide it)`, `use a directory of its own, e.g. "${DEFAULT_CONTAINER_INSTALL_DIR}"`));
    } else if (TMPFS_DIRS.includes(installDir)) {
        errors.push(new InputError(`${input}.installDir`, `${installDir} is a tmpfs mount point of the container (the volume cannot be mounted there too)`, `use a directory of its own, e.g. "${DEFAULT_CONTAINER_INSTALL_DIR}"`));
    }
    return errors;
}

/** A parsed image reference. */
export interface ImageReference {
    /** Repository, with the registry when one is named (`nginx`, `registry.example.com:5000/team/nginx`). */
    repository: string;
    tag?: string;
    /** `sha256:<64 hex>`. */
    digest?: string;
}

export interface ResolvedDockerPort {
    hostIp: string;
    hostPort: number;
    containerPort: number;
}

/** Resolved Docker target (defaults applied, everything validated). */
export interface DockerTargetSettings {
    kind: "docker";
    /** The install directory in the container. */
    installDir: string;
    /** Always a dedicated instance (the container's own nginx). */
    dedicated: true;
    /** Its error-log level. */
    errorLogLevel: "error" | "warn" | "notice" | "info";
    /** The install/uninstall script inputs (run inside the container). */
    script: HostTargetSettings["script"];
    siteName: string;
    /** The site's listen port (= every published container port). */
    listenPort: number;
    image: string;
    imageReference: ImageReference;
    containerName: string;
    volumeName: string;
    ports: ResolvedDockerPort[];
    restart: "no" | "on-failure" | "always" | "unless-stopped";
    network?: { name: string; create: boolean; aliases: string[] };
    logDriver: string;
    logOpts: Record<string, string>;
    readOnlyRootFilesystem: boolean;
    healthcheck?: Required<DockerHealthcheckArgs>;
    /** The Docker host string (from `host`, or from the `docker:host` config). */
    host?: string;
    dockerCli: string;
    nginxBinary: string;
    /** The port clients use (the first published host port, else the listen port). */
    publicPort: number;
}

// ---------------------------------------------------------------------------------------------
// Image references
// ---------------------------------------------------------------------------------------------

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9A-Fa-f:]+\\])(?::[0-9]{1,5})?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
/** An exact version tag: `1.28.0`, `1.28.0-bookworm`, `v2.3.1-alpine`... (a moving tag such as `1.28` is not one). */
const PINNED_TAG_RE = /^v?\d+\.\d+\.\d+(?:[-.+_][A-Za-z0-9_.-]+)?$/;

/** Parses a Docker image reference (distribution/reference grammar); returns a problem text when it is not one. */
export function parseImageReference(ref: unknown): ImageReference | string {
    if (typeof ref !== "string" || ref === "") return "is empty";
    if (/\s/.test(ref)) return `${JSON.stringify(ref)} contains whitespace`;
    let rest = ref;
    let digest: string | undefined;
    const at = rest.indexOf("@");
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
        if (!DIGEST_RE.test(digest)) return `${JSON.stringify(ref)} has the digest ${JSON.stringify(digest)}, which is not sha256:<64 lowercase hex digits>`;
    }
    let tag: string | undefined;
    const colon = rest.lastIndexOf(":");
    if (colon > rest.lastIndexOf("/")) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
        if (!TAG_RE.test(tag)) return `${JSON.stringify(ref)} has the tag ${JSON.stringify(tag)}, which is not a Docker tag`;
    }
    if (rest === "" || rest.length > 255) return `${JSON.stringify(ref)} has no repository name (or one longer than 255 characters)`;
    const parts = rest.split("/");
    const first = parts[0];
    const hasDomain = parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost" || /[A-Z]/.test(first));
    if (hasDomain && !DOMAIN_RE.test(first)) return `${JSON.stringify(ref)} has the registry ${JSON.stringify(first)}, which is not a host[:port]`;
    const path = hasDomain ? parts.slice(1) : parts;
    const bad = path.find((p) => !PATH_COMPONENT_RE.test(p));
    if (bad !== undefined) return `${JSON.stringify(ref)} has the path component ${JSON.stringify(bad)} (lowercase letters, digits and single separators . _ __ - only)`;
    return { repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Why a parsed reference is not pinned (undefined when it is). */
export function imagePinProblem(ref: ImageReference, text: string): string | undefined {
    if (ref.digest) return undefined;
    if (ref.tag === undefined) return `${JSON.stringify(text)} names no tag or digest, so Docker would pull "latest", which moves`;
    if (!PINNED_TAG_RE.test(ref.tag)) return `${JSON.stringify(text)} uses the tag ${JSON.stringify(ref.tag)}, which moves (not an exact version)`;
    return undefined;
}

// ---------------------------------------------------------------------------------------------
// Docker hosts
// ---------------------------------------------------------------------------------------------

/** Problems with a Docker host string (DOCKER_HOST syntax), or undefined. */
export function dockerHostProblem(host: unknown): { problem: string; fix: string } | undefined {
    const fix = "use unix:///var/run/docker.sock, ssh://<user>@<host>[:port] or tcp://<host>:<port>";
    if (typeof host !== "string" || host.trim() === "") return { problem: "is empty", fix };
    // eslint-disable-next-line no-control-regex
    if (/[\s\x00-\x1f\x7f]/.test(host)) return { problem: `${JSON.stringify(host)} contains whitespace or a control character`, fix };
    const scheme = /^([a-z]+):\/\//.exec(host)?.[1];
    switch (scheme) {
        case "unix":
            return /^unix:\/\/\/[^\s]+$/.test(host) ? undefined : { problem: `${JSON.stringify(host)} names no absolute socket path`, fix: "use unix:///var/run/docker.sock (three slashes)" };
        case "npipe":
            return undefined;
        case "tcp":
            return /^tcp:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):[0-9]{1,5}\/?$/.test(host) ? undefined : { problem: `${JSON.stringify(host)} is not tcp://<host>:<port>`, fix: "use e.g. tcp://docker.example.com:2376" };
        case "ssh": {
            const m = /^ssh:\/\/(?:([^@/:]+)@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::([0-9]{1,5}))?\/?$/.exec(host);
            if (!m) return { problem: `${JSON.stringify(host)} is not ssh://<user>@<host>[:port]`, fix: "use e.g. ssh://deploy@docker.example.com" };
            if (!m[1]) {
                return {
                    problem: `${JSON.stringify(host)} names no user (the docker CLI would log in as whoever runs pulumi, which differs between laptops and CI)`,
                    fix: `write ssh://<user>@${m[2]}${m[3] ? `:${m[3]}` : ""} with a user that may use the Docker socket there`,
                };
            }
            return undefined;
        }
        default:
            return { problem: `${JSON.stringify(host)} has no supported scheme`, fix };
    }
}

// ---------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------

const DOCKER_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const RESTART_POLICIES = ["no", "on-failure", "always", "unless-stopped"] as const;
/** The install directory may not be one of these: system directories the volume would hide. */
const FORBIDDEN_INSTALL_DIRS = ["/", "/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys", "/usr", "/var"];
/** ... nor a tmpfs mount point (two mounts on one path); a directory under one is fine (the volume is mounted over it). */
const TMPFS_DIRS = [...Object.keys(CONTAINER_TMPFS), "/var/run"];

function isWildcard(ip: string): boolean {
    return ip === "0.0.0.0" || ip === "::";
}

function checkWholeNumber(errors: InputError[], input: string, v: unknown, min: number, max: number, example: string): void {
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) {
        errors.push(new InputError(input, `${JSON.stringify(v)} is not a whole number in ${min}..${max}`, `use e.g. ${example}`));
    }
}

/**
 * Resolves a Docker target against the site, applying defaults; InputErrors name `input` (and
 * `site.listen...` for a listen address the container cannot publish).
 * @param configHost the `docker:host` stack config, when set (validated as `docker:host`).
 */
export function resolveDockerTarget(target: DockerTarget, spec: SiteSpec, input = "target", configHost?: string, siteInput = "site"): DockerTargetSettings {
    const errors: InputError[] = [];
    if (!target || target.kind !== "docker") {
        throw new InputError(`${input}.kind`, `${JSON.stringify((target as { kind?: unknown })?.kind)} is not the docker target`, `use "docker"`);
    }
    const listenPort = spec.listen.port;

    // Settings of the host targets mean nothing here (e.g. from a stack config written for ssh).
    const hostOnly: Record<string, string> = {
        connection: "the Docker host is target.host (ssh://user@host) or target.provider",
        user: "write the user into target.host: ssh://<user>@<host>",
        port: "write the port into target.host: ssh://<user>@<host>:<port>",
        nginx: "the container runs its own dedicated nginx (target.nginxBinary names it in the image)",
        sudo: "docker exec runs as the image's user (root in the official image)",
        versionPolicy: "the container's nginx serves this site alone (no shared listen address)",
        sharedListen: "the container's nginx serves this site alone",
    };
    for (const [key, why] of Object.entries(hostOnly)) {
        if ((target as unknown as Record<string, unknown>)[key] !== undefined) errors.push(new InputError(`${input}.${key}`, "is a setting of the host targets, not of a docker target", `remove it (${why})`));
    }
    if ((target.liveCheck as { host?: unknown } | undefined)?.host !== undefined) {
        errors.push(new InputError(`${input}.liveCheck.host`, "is not used by a docker target: the check runs inside the container, on 127.0.0.1", "remove it (liveCheck.timeoutSeconds is honoured)"));
    }

    // The site inside the container.
    if (spec.listen.address !== "0.0.0.0" && spec.listen.address !== "*") {
        errors.push(
            new InputError(
                `${siteInput}.listen.address`,
                `${JSON.stringify(spec.listen.address)} is an address inside the container, where published ports cannot reach it (Docker forwards them to the container's own interface)`,
                `listen on "0.0.0.0" in the container and choose the Docker host's address with ${input}.ports[].hostIp (e.g. "127.0.0.1")`,
            ),
        );
    }
    if (spec.listen.ipv6Address !== undefined) {
        errors.push(
            new InputError(
                `${siteInput}.listen.ipv6Address`,
                "is not supported in a container (Docker networks have no IPv6 unless configured for it, and nginx then fails to bind)",
                `leave it out and publish on the host's IPv6 address with ${input}.ports: [{ hostIp: "::", hostPort: ${listenPort} }]`,
            ),
        );
    }

    // Image.
    const image = target.image ?? DEFAULT_DOCKER_IMAGE;
    let imageReference: ImageReference = { repository: "" };
    const parsed = parseImageReference(image);
    if (typeof parsed === "string") {
        errors.push(new InputError(`${input}.image`, parsed === "is empty" ? "is empty" : `${parsed}: not an image reference`, `use e.g. "${DEFAULT_DOCKER_IMAGE}", "nginx@sha256:<64 hex>" or "registry.example.com/nginx:1.28.0"`));
    } else {
        imageReference = parsed;
        const pin = imagePinProblem(parsed, image);
        if (pin) errors.push(new InputError(`${input}.image`, pin, `pin an exact version tag ("${DEFAULT_DOCKER_IMAGE}", fixed for CVE-2025-23419) or a digest ("nginx@sha256:<64 hex>", or "${DEFAULT_DOCKER_IMAGE}@sha256:<64 hex>")`));
    }

    // Names.
    const containerName = target.containerName ?? `mtls-nginx-${spec.siteName}`;
    if (typeof containerName !== "string" || !DOCKER_NAME_RE.test(containerName)) {
        errors.push(new InputError(`${input}.containerName`, `${JSON.stringify(containerName)} is not a container name`, "use letters, digits, '_', '.' and '-', starting with a letter or digit (at most 128)"));
    }
    const volumeName = target.volumeName ?? `mtls-nginx-${spec.siteName}`;
    if (typeof volumeName !== "string" || !DOCKER_NAME_RE.test(volumeName)) {
        errors.push(new InputError(`${input}.volumeName`, `${JSON.stringify(volumeName)} is not a volume name`, "use letters, digits, '_', '.' and '-', starting with a letter or digit (at most 128)"));
    }

    // Install directory in the container.
    const installDir = target.installDir ?? DEFAULT_CONTAINER_INSTALL_DIR;
    errors.push(...dockerInstallDirErrors(target, input));

    // Ports.
    let ports: ResolvedDockerPort[] = [];
    if (target.ports !== undefined && !Array.isArray(target.ports)) {
        errors.push(new InputError(`${input}.ports`, "is not a list", `pass e.g. [{ hostIp: "127.0.0.1", hostPort: ${listenPort} }]`));
    } else {
        const given = target.ports ?? [{ hostPort: listenPort }];
        ports = given.map((p, i) => {
            const at = `${input}.ports[${i}]`;
            const hostIp = p?.hostIp ?? "0.0.0.0";
            const containerPort = p?.containerPort ?? listenPort;
            if (typeof hostIp !== "string" || net.isIP(hostIp) === 0) {
                errors.push(new InputError(`${at}.hostIp`, `${JSON.stringify(hostIp)} is not an IP address`, 'use an IPv4 or IPv6 literal of the Docker host, e.g. "127.0.0.1" or "0.0.0.0" (every address)'));
            }
            checkWholeNumber(errors, `${at}.hostPort`, p?.hostPort, 1, 65535, String(listenPort));
            if (p?.hostPort === undefined) errors.push(new InputError(`${at}.hostPort`, "is missing", `give the host port, e.g. ${listenPort}`));
            if (!(Number.isInteger(containerPort) && containerPort >= 1 && containerPort <= 65535)) {
                errors.push(new InputError(`${at}.containerPort`, `${JSON.stringify(containerPort)} is not a TCP port`, `leave it out (it defaults to site.listen.port, ${listenPort})`));
            } else if (containerPort !== listenPort) {
                errors.push(
                    new InputError(
                        `${at}.containerPort`,
                        `${containerPort} is not the port the site listens on in the container (${siteInput}.listen.port is ${listenPort}), so nothing would answer there`,
                        `publish containerPort ${listenPort} (the default), or set ${siteInput}.listen.port to ${containerPort}`,
                    ),
                );
            }
            return { hostIp: typeof hostIp === "string" ? hostIp : "", hostPort: p?.hostPort, containerPort };
        });
        // Two published ports on the same host address:port (a wildcard overlaps every address of its family).
        ports.forEach((p, j) => {
            for (let i = 0; i < j; i++) {
                const q = ports[i];
                if (q.hostPort !== p.hostPort || net.isIP(q.hostIp) === 0 || net.isIP(p.hostIp) === 0 || net.isIP(q.hostIp) !== net.isIP(p.hostIp)) continue;
                if (q.hostIp === p.hostIp || isWildcard(q.hostIp) || isWildcard(p.hostIp)) {
                    const show = (x: ResolvedDockerPort) => (x.hostIp.includes(":") ? `[${x.hostIp}]:${x.hostPort}` : `${x.hostIp}:${x.hostPort}`);
                    errors.push(new InputError(`${input}.ports[${j}].hostPort`, `${show(p)} conflicts with ${input}.ports[${i}] (${show(q)}): Docker cannot publish both`, "give each published port its own host address:port"));
                    break;
                }
            }
        });
    }

    // Network.
    let network: DockerTargetSettings["network"];
    if (target.network !== undefined) {
        const n = target.network;
        if (!n || typeof n !== "object" || typeof n.name !== "string" || !DOCKER_NAME_RE.test(n.name)) {
            errors.push(new InputError(`${input}.network.name`, `${JSON.stringify((n as { name?: unknown })?.name)} is not a network name`, 'use e.g. { name: "backend" } (letters, digits, _ . -)'));
        } else {
            (n.aliases ?? []).forEach((a, i) => {
                if (typeof a !== "string" || !/^[a-zA-Z0-9](?:[a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$/.test(a)) {
                    errors.push(new InputError(`${input}.network.aliases[${i}]`, `${JSON.stringify(a)} is not a DNS name`, 'use e.g. "mtls"'));
                }
            });
            if (n.create !== undefined && typeof n.create !== "boolean") errors.push(new InputError(`${input}.network.create`, "must be a boolean", "use true to create it, false to join an existing one"));
            network = { name: n.name, create: n.create === true, aliases: [...(n.aliases ?? [])] };
        }
    }
    if (Array.isArray(target.ports) && target.ports.length === 0 && network === undefined && !errors.some((e) => e.input.startsWith(`${input}.network`))) {
        errors.push(new InputError(`${input}.ports`, "is empty and no network is given, so nothing could reach the site", `publish a port (e.g. [{ hostIp: "127.0.0.1", hostPort: ${listenPort} }]) or join a network with ${input}.network`));
    }

    // Runtime settings.
    const restart = target.restart ?? "unless-stopped";
    if (!RESTART_POLICIES.includes(restart)) {
        errors.push(new InputError(`${input}.restart`, `${JSON.stringify(restart)} is not a restart policy`, `use one of ${RESTART_POLICIES.map((r) => `"${r}"`).join(", ")}`));
    }
    if (target.privileged !== undefined && target.privileged !== false) {
        errors.push(
            new InputError(
                `${input}.privileged`,
                `${JSON.stringify(target.privileged)} is refused: privileged mode hands the container every device and capability of the Docker host, and nginx needs none of it`,
                "remove privileged (ports below 1024 work without it: NET_BIND_SERVICE is kept)",
            ),
        );
    }
    if (target.readOnlyRootFilesystem !== undefined && typeof target.readOnlyRootFilesystem !== "boolean") {
        errors.push(new InputError(`${input}.readOnlyRootFilesystem`, "must be a boolean", "use true (default) or false"));
    }
    const logDriver = target.logDriver ?? "json-file";
    if (typeof logDriver !== "string" || !/^[a-z0-9][a-z0-9_.-]*$/.test(logDriver)) {
        errors.push(new InputError(`${input}.logDriver`, `${JSON.stringify(logDriver)} is not a logging driver name`, 'use e.g. "json-file", "local" or "journald"'));
    }
    const logOpts = target.logOpts ?? (logDriver === "json-file" || logDriver === "local" ? { "max-size": "10m", "max-file": "3" } : {});
    if (!logOpts || typeof logOpts !== "object" || Array.isArray(logOpts) || Object.values(logOpts).some((v) => typeof v !== "string")) {
        errors.push(new InputError(`${input}.logOpts`, "is not a map of strings", 'use e.g. { "max-size": "10m", "max-file": "3" }'));
    }
    let healthcheck: DockerTargetSettings["healthcheck"];
    if (target.healthcheck !== false) {
        const h = target.healthcheck ?? {};
        if (typeof h !== "object" || h === null) {
            errors.push(new InputError(`${input}.healthcheck`, "is not an object", "use { intervalSeconds, timeoutSeconds, retries, startPeriodSeconds } or false"));
        } else {
            checkWholeNumber(errors, `${input}.healthcheck.intervalSeconds`, h.intervalSeconds, 1, 3600, "30");
            checkWholeNumber(errors, `${input}.healthcheck.timeoutSeconds`, h.timeoutSeconds, 1, 600, "5");
            checkWholeNumber(errors, `${input}.healthcheck.retries`, h.retries, 1, 100, "3");
            checkWholeNumber(errors, `${input}.healthcheck.startPeriodSeconds`, h.startPeriodSeconds, 0, 3600, "60");
            healthcheck = { intervalSeconds: h.intervalSeconds ?? 30, timeoutSeconds: h.timeoutSeconds ?? 5, retries: h.retries ?? 3, startPeriodSeconds: h.startPeriodSeconds ?? 60 };
        }
    }

    // The Docker host.
    if (target.host !== undefined && target.provider !== undefined) {
        errors.push(new InputError(`${input}.host`, "is given together with target.provider", "give one of them: the provider's host (or context) is also used for the docker exec commands"));
    }
    let host: string | undefined;
    if (target.host !== undefined) {
        const problem = dockerHostProblem(target.host);
        if (problem) errors.push(new InputError(`${input}.host`, problem.problem, problem.fix));
        host = target.host;
    } else if (target.provider === undefined && configHost !== undefined && configHost !== "") {
        const problem = dockerHostProblem(configHost);
        if (problem) errors.push(new InputError("docker:host", problem.problem, problem.fix));
        host = configHost;
    }
    const dockerCli = target.dockerCli ?? "docker";
    if (typeof dockerCli !== "string" || dockerCli === "" || /[\x00-\x1f\x7f]/.test(dockerCli)) {
        errors.push(new InputError(`${input}.dockerCli`, `${JSON.stringify(dockerCli)} is not a command`, 'use "docker" or an absolute path such as "/usr/bin/docker"'));
    }
    const nginxBinary = target.nginxBinary ?? "/usr/sbin/nginx";
    if (typeof nginxBinary !== "string" || !/^\/[A-Za-z0-9._/-]+$/.test(nginxBinary)) {
        errors.push(new InputError(`${input}.nginxBinary`, `${JSON.stringify(nginxBinary)} is not an absolute path`, 'use e.g. "/usr/sbin/nginx"'));
    }
    checkWholeNumber(errors, `${input}.liveCheck.timeoutSeconds`, target.liveCheck?.timeoutSeconds, 1, 600, "10");
    const errorLogLevel = target.errorLogLevel ?? "info";
    if (!["error", "warn", "notice", "info"].includes(errorLogLevel)) {
        errors.push(new InputError(`${input}.errorLogLevel`, `${JSON.stringify(errorLogLevel)} is not an error-log level`, 'use "error", "warn", "notice" or "info"'));
    }
    throwIfAny(errors);

    const d = dedicatedPaths(installDir);
    const script: HostTargetSettings["script"] = {
        installDir,
        site: spec.siteName,
        control: { kind: "dedicated", nginxBinary, prefix: d.prefix, confFile: d.confFile, pidFile: d.pidFile, errorLog: d.errorLog },
        sudo: false,
        versionPolicy: "refuse",
        // The container's nginx serves this site alone.
        sharedListen: false,
        liveCheck: { host: "127.0.0.1", port: listenPort, ...liveCheckNames(spec.serverNames), timeoutSeconds: target.liveCheck?.timeoutSeconds },
    };
    return {
        kind: "docker",
        installDir,
        dedicated: true,
        errorLogLevel,
        script,
        siteName: spec.siteName,
        listenPort,
        image,
        imageReference,
        containerName,
        volumeName,
        ports,
        restart,
        network,
        logDriver,
        logOpts: { ...logOpts },
        readOnlyRootFilesystem: target.readOnlyRootFilesystem ?? true,
        healthcheck,
        host,
        dockerCli,
        nginxBinary,
        publicPort: ports[0]?.hostPort ?? listenPort,
    };
}

// ---------------------------------------------------------------------------------------------
// Shell text: the container's entry script (scripts/container-entrypoint.sh), its healthcheck, the
// docker exec commands
// ---------------------------------------------------------------------------------------------


/**
 * The container's entry script (run as `/bin/sh -c <script> mtls-nginx`, under docker-init): supervises
 * the dedicated nginx of the release layout in `installDir`. Before the first release it waits;
 * whenever `current/nginx.conf` exists and no nginx runs (first boot after an install, container
 * restart, crash), it starts nginx under the install script's lock; TERM/INT/QUIT stop nginx
 * gracefully (QUIT, then TERM after 10 s), HUP reloads it; nginx's error log is copied to stdout;
 * access and error logs are rotated at {@link CONTAINER_LOG_ROTATE_KB} KiB. It holds no secret and
 * depends only on the install directory and nginx's path, never on certificate content.
 */
export function renderContainerEntrypoint(s: Pick<DockerTargetSettings, "installDir" | "nginxBinary">, opts: { pollSeconds?: number; forwardErrorLog?: boolean } = {}): string {
    const d = dedicatedPaths(s.installDir);
    return joinScript(
        [
            "# mtls-nginx container entry script (generated by pulumi-mtls-nginx; POSIX sh): supervises nginx",
            shAssign("MTLS_DIR", s.installDir),
            shAssign("MTLS_NGINX", s.nginxBinary),
            shAssign("MTLS_CONF", d.confFile),
            shAssign("MTLS_PID_FILE", d.pidFile),
            shAssign("MTLS_ERROR_LOG", d.errorLog),
            shAssign("MTLS_ACCESS_LOG", d.accessLog),
            shAssign("MTLS_LOCK", `${s.installDir}/.lock`),
            shAssign("MTLS_LOG_ROTATE_KB", String(CONTAINER_LOG_ROTATE_KB)),
            shAssign("MTLS_POLL_SECONDS", String(opts.pollSeconds ?? 2)),
            shAssign("MTLS_FORWARD_ERROR_LOG", opts.forwardErrorLog === false ? "0" : "1"),
        ],
        ["common.sh", "lock.sh", "container-entrypoint.sh"],
    );
}

/**
 * The healthcheck (`CMD-SHELL`): healthy when the pid file names a running nginx and a TLS handshake
 * on 127.0.0.1:<listen port> completes (curl -k, no client certificate: nginx answers 400, which is
 * fine; openssl s_client when the image has no curl). Before the first release it reports unhealthy
 * (the start period covers the first install).
 */
export function renderHealthcheck(s: Pick<DockerTargetSettings, "installDir" | "listenPort">): string {
    const d = dedicatedPaths(s.installDir);
    const port = String(s.listenPort);
    return [
        shAssign("P", d.pidFile),
        `p=$(cat "$P" 2>/dev/null) && kill -0 "$p" 2>/dev/null || { echo "nginx is not running (no release installed yet, or it failed: see docker logs)"; exit 1; }`,
        "if command -v curl >/dev/null 2>&1; then",
        `    curl -sk --max-time 4 -o /dev/null ${shQuote(`https://127.0.0.1:${port}/`)} || { echo "no TLS answer on 127.0.0.1:${port}"; exit 1; }`,
        "elif command -v openssl >/dev/null 2>&1; then",
        `    openssl s_client -connect ${shQuote(`127.0.0.1:${port}`)} </dev/null >/dev/null 2>&1 || { echo "no TLS answer on 127.0.0.1:${port}"; exit 1; }`,
        "fi",
        `echo "nginx serves TLS on 127.0.0.1:${port}"`,
    ].join("\n");
}

/** The install (create/update) command: the install script inside the container, payload on stdin. */
export function dockerInstallCommand(s: Pick<DockerTargetSettings, "dockerCli">, containerName: string, script: string): string {
    return dockerExecWrap(containerName, script, { docker: s.dockerCli });
}

/**
 * The uninstall (delete) command: the uninstall script inside the container when it still exists;
 * a container that is already gone leaves nothing to remove (its volume goes with the stack), but
 * any other docker error (daemon unreachable...) fails the delete.
 */
export function dockerUninstallCommand(s: Pick<DockerTargetSettings, "dockerCli">, containerName: string, script: string): string {
    const inspect = shJoin([s.dockerCli, "container", "inspect", "--format", "{{.Id}}", containerName]);
    return [
        `if _e=$(${inspect} 2>&1 >/dev/null); then`,
        `    ${dockerExecWrap(containerName, script, { docker: s.dockerCli })}`,
        "else",
        '    case $_e in',
        `        *"No such"*) printf '%s\\n' ${shQuote(`mtls-nginx: container ${containerName} is gone; nothing to uninstall`)} ;;`,
        `        *) printf '%s\\n' "$_e" >&2; exit 1 ;;`,
        "    esac",
        "fi",
    ].join("\n");
}
