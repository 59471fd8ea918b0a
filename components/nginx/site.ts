import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ServerTlsMaterial } from "../pki/serverCertificate";
import { InputError, InputErrors, throwIfAny } from "../util/errors";
import { DockerRuntime, createDockerRuntime } from "./dockerRuntime";
import { ServedRelease } from "./drift";
import { DockerTarget, DockerTargetSettings, dockerInstallCommand, dockerInstallDirErrors, dockerUninstallCommand, resolveDockerTarget } from "./dockerTarget";
import { HostTarget, HostTargetSettings, resolveHostTarget, uninstallInput, validateHostTarget } from "./hostTarget";
import { InstallScriptInput, renderInstallScript, renderUninstallScript, validateInstallScriptInput } from "./install";
import { buildSiteRelease, ReleaseLayout, SiteDefinition, SiteRelease, validateSiteDefinition } from "./release";
import { shWrap } from "./shell";
import { SiteSpec } from "./siteSpec";
import { normalizeServerName } from "./validate";

export interface NginxSiteArgs {
    /** The site: server names, listen address, mode (proxy or static), allowlists, error pages... (see SiteSpecInput). */
    site: SiteDefinition;
    /** The server certificate and key (issued by ServerCertificate, or brought with providedServerCertificate). */
    server: ServerTlsMaterial;
    /** CA certificates advertised to clients and trusted for verification (`ssl_client_certificate`). */
    clientCaPem: pulumi.Input<string>;
    /**
     * CA certificates trusted but not advertised (`ssl_trusted_certificate`).
     * @default none
     */
    trustedCaPem?: pulumi.Input<string>;
    /**
     * CRLs for every CA in the client chain (`ssl_crl`); nginx re-reads them on reload, which every
     * change triggers.
     * @default none (no revocation checking)
     */
    crlPem?: pulumi.Input<string>;
    /** Where nginx runs: the local machine, an SSH host, or a Docker container (`{ kind: "docker" }`). */
    target: HostTarget | DockerTarget;
}

/**
 * Validates a site and its target before anything is created (also used by MtlsNginx, so its preview
 * fails before the CA is registered). Returns the site spec (with placeholder paths) and the target.
 */
export function resolveNginxSiteArgs(args: Pick<NginxSiteArgs, "site" | "target">, has: { trustedCa: boolean; crl: boolean }): { spec: SiteSpec; target: HostTargetSettings | DockerTargetSettings } {
    if (!args || !args.site || !args.target) {
        throw new InputError("site", "site and target are required", "pass { site, server, clientCaPem, target }");
    }
    // The target first, in the user's words: the site's paths derive from its installDir.
    throwIfAny(args.target.kind === "docker" ? dockerInstallDirErrors(args.target, "target") : validateHostTarget(args.target, "target"));
    const spec = validateSiteDefinition(args.site, { installDir: args.target.installDir ?? "/placeholder", dedicated: false }, has, "site");
    const target =
        args.target.kind === "docker"
            ? resolveDockerTarget(args.target, spec, "target", new pulumi.Config("docker").get("host"))
            : resolveHostTarget(args.target, spec, "target");
    validateSiteDefinition(args.site, { installDir: target.installDir, dedicated: target.dedicated }, has, "site");
    validateScriptInputAsTarget({ ...target.script, releaseId: "0000000000000000" });
    return { spec, target };
}

/** Script-input fields and the target argument each comes from (for a problem the target checks did not catch). */
const SCRIPT_INPUT_NAMES: Array<[RegExp, string]> = [
    [/^installDir$|^control\.(prefix|confFile|pidFile)$/, "target.installDir"],
    [/^control\.nginxBinary$/, "target.nginx.binary"],
    [/^control\.includeLink$/, "target.nginx.includeLink"],
    [/^control\.errorLog$/, "target.nginx.errorLog"],
    [/^control\.reload$/, "target.nginx.reload"],
    [/^control\.systemdUnit$/, "target.nginx.systemdUnit"],
    [/^control\.nginxArgs(\[\d+\])$/, "target.nginx.args$1"],
    [/^(sudo|versionPolicy|sharedListen)$/, "target.$1"],
    [/^liveCheck\.(host|timeoutSeconds)$/, "target.liveCheck.$1"],
    [/^liveCheck\.(serverName|hostHeader)$/, "site.serverNames"],
    [/^site$/, "site.siteName"],
];

/** validateInstallScriptInput, its errors renamed to the arguments the user wrote. */
function validateScriptInputAsTarget(input: InstallScriptInput): void {
    try {
        validateInstallScriptInput(input);
    } catch (e) {
        const errors = e instanceof InputErrors ? e.errors : e instanceof InputError ? [e] : undefined;
        if (!errors) throw e;
        throwIfAny(
            errors.map((err) => {
                const rule = SCRIPT_INPUT_NAMES.find(([re]) => re.test(err.input));
                if (!rule) return err;
                const rest = err.message.slice(err.input.length + 2);
                const at = rest.lastIndexOf(". Fix: ");
                return new InputError(err.input.replace(rule[0], rule[1]), rest.slice(0, at), rest.slice(at + ". Fix: ".length));
            }),
        );
    }
}

/** The site's https URL for a server name (a wildcard's first label dropped, IPv6 in brackets) and port. */
export function siteUrl(serverName: string, port: number): string {
    const host = (normalizeServerName(serverName) ?? serverName).replace(/^\*\./, "");
    return `https://${host}${port === 443 ? "" : `:${port}`}/`;
}

/** The release layout of a resolved target: where releases go, a dedicated nginx.conf or not, its log level. */
export function releaseLayoutOf(target: HostTargetSettings | DockerTargetSettings): ReleaseLayout {
    return { installDir: target.installDir, dedicated: target.dedicated, ...(target.errorLogLevel !== undefined ? { errorLogLevel: target.errorLogLevel } : {}) };
}

/**
 * An nginx mTLS site on a host. Renders the config and files (one release per content hash), then a
 * command resource installs them: staged and swapped atomically, `nginx -t`, graceful reload,
 * confirmation that the new certificate is served, and rollback on any failure. Key material travels
 * on the command's stdin (secret), never in the command string, and is never logged.
 */
export class NginxSite extends pulumi.ComponentResource {
    /** The id of the release the site serves (a content hash). */
    readonly releaseId: pulumi.Output<string>;
    /** The rendered site config (no key material). */
    readonly siteConf: pulumi.Output<string>;
    /** The https URL of the site. */
    readonly url: string;
    /** Resolved target settings. */
    readonly target: HostTargetSettings | DockerTargetSettings;
    /** The command that installs and reloads. */
    readonly installer: command.local.Command | command.remote.Command;
    /** The image, volume, container... of a Docker target (undefined for host targets). */
    readonly docker?: DockerRuntime;

    constructor(name: string, args: NginxSiteArgs, opts?: pulumi.ComponentResourceOptions) {
        const { spec: placeholderSpec, target } = resolveNginxSiteArgs(args, { trustedCa: args?.trustedCaPem !== undefined, crl: args?.crlPem !== undefined });
        super("mtls-nginx:nginx:Site", name, {}, opts);
        this.target = target;

        const layout = releaseLayoutOf(target);
        const release: pulumi.Output<SiteRelease> = pulumi
            .all([args.server.fullChainPem, args.server.keyPem, args.clientCaPem, args.trustedCaPem, args.crlPem])
            .apply(([serverFullChainPem, serverKeyPem, clientCaPem, trustedCaPem, crlPem]) =>
                buildSiteRelease(args.site, { serverFullChainPem, serverKeyPem, clientCaPem, trustedCaPem, crlPem }, layout),
            );
        // Hashes of the content (key included) and the config (paths only) carry no secret.
        this.releaseId = pulumi.unsecret(release.apply((r) => r.releaseId));
        const contentHash = pulumi.unsecret(release.apply((r) => r.contentHash));
        this.siteConf = pulumi.unsecret(release.apply((r) => r.siteConf));
        const payload = pulumi.secret(release.apply((r) => r.payload));

        const scriptInput = pulumi.all([this.releaseId, contentHash]).apply(
            ([releaseId, expectedContentHash]): InstallScriptInput => ({ ...target.script, releaseId, expectedContentHash }),
        );
        const installScript = scriptInput.apply(renderInstallScript);
        const uninstallScript = scriptInput.apply((s) => renderUninstallScript(uninstallInput(s)));
        // Host targets: a refresh that finds the site gone counts a restore, which changes the install
        // command's text (a comment), so the next up installs the release again (see drift.ts).
        const served = target.kind === "docker" ? undefined : this.servedRelease(name, args.target as HostTarget, target as HostTargetSettings);
        const withRestores = (script: pulumi.Input<string>): pulumi.Input<string> =>
            served ? pulumi.all([served.restores, script]).apply(([n, s]) => `${s.replace(/\n*$/, "\n")}# mtls-nginx: restores after drift: ${n ?? 0}\n`) : script;
        const common = {
            create: withRestores(installScript),
            update: withRestores(installScript),
            delete: uninstallScript,
            stdin: payload,
            triggers: [contentHash],
            logging: "none" as const,
            addPreviousOutputInEnv: false,
        };
        if (args.target.kind === "ssh") {
            this.installer = new command.remote.Command(
                `${name}-install`,
                {
                    ...common,
                    // The login shell of the SSH user may not be POSIX: run the script under /bin/sh.
                    create: pulumi.output(withRestores(installScript)).apply((s) => shWrap(s)),
                    update: pulumi.output(withRestores(installScript)).apply((s) => shWrap(s)),
                    delete: uninstallScript.apply((s) => shWrap(s)),
                    connection: args.target.connection,
                },
                { parent: this },
            );
        } else if (target.kind === "docker") {
            // The same scripts, run inside the container by `docker exec -i` (payload on stdin) against
            // the Docker host of the resources; the container itself never changes with the release.
            const runtime = createDockerRuntime(name, target, args.target as DockerTarget, this);
            this.docker = runtime;
            const containerName = runtime.container.name;
            const install = pulumi.all([containerName, installScript]).apply(([c, s]) => dockerInstallCommand(target, c, s));
            this.installer = new command.local.Command(
                `${name}-install`,
                {
                    ...common,
                    create: install,
                    update: install,
                    delete: pulumi.all([containerName, uninstallScript]).apply(([c, s]) => dockerUninstallCommand(target, c, s)),
                    // A replaced container (new image...) gets the release checked again (an update: same release).
                    environment: pulumi.all([runtime.environment, runtime.container.id]).apply(([env, id]) => ({ ...env, MTLS_NGINX_CONTAINER_ID: id })),
                },
                { parent: this },
            );
        } else {
            this.installer = new command.local.Command(`${name}-install`, common, { parent: this });
        }

        const port = target.kind === "docker" ? target.publicPort : placeholderSpec.listen.port;
        this.url = siteUrl(placeholderSpec.serverNames[0] ?? "localhost", port);
        this.registerOutputs({ releaseId: this.releaseId, siteConf: this.siteConf, url: this.url });
    }

    /** The drift check of a host target: where the machine running Pulumi reaches the site. */
    private servedRelease(name: string, args: HostTarget, target: HostTargetSettings): ServedRelease {
        const check = target.script.liveCheck;
        const host = args.kind === "ssh" ? pulumi.output(args.connection).apply((c) => c.host) : (check.host ?? "127.0.0.1");
        const serverName = check.serverName ?? (typeof host === "string" ? host : "localhost");
        return new ServedRelease(`${name}-served`, { host, port: check.port, serverName, releaseId: this.releaseId }, { parent: this });
    }
}
