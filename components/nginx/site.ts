import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostFacts } from "../fleet/facts";
import { FleetHost } from "../fleet/fleetHost";
import { gateErrors, probeAllowErrors, resolveGate, ResolvedGate, SiteGateArgs } from "../fleet/gate";
import { fleetListErrors, FleetTargets, HostPlace, samePlaceErrors, SiteFleetHost, withRenamedInputs } from "../fleet/hosts";
import { planRollout, refuseRolloutWithoutFleet, rolloutObject, RolloutPlan, validateBatchSize } from "../fleet/rollout";
import { ServerTlsMaterial } from "../pki/serverCertificate";
import { InputError, InputErrors, throwIfAny } from "../util/errors";
import { DockerRuntime, createDockerRuntime } from "./dockerRuntime";
import { servedReleaseFor, siteAddress, withRestoreCount } from "./drift";
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
    /**
     * Where nginx runs: the local machine, an SSH host, a Docker container (`{ kind: "docker" }`), or a
     * list of SSH/local hosts (a fleet: each `{ name, ...host target }`), rolled out batch by batch.
     */
    target: HostTarget | DockerTarget | FleetTargets<SiteFleetHost>;
    /**
     * How a fleet is rolled out (only with a list of targets): `batchSize` hosts at a time, each batch
     * after the previous one's gate passed.
     * @default { batchSize: 1, gate: false } (NginxSite has no probe certificate of its own; MtlsNginx gates by default)
     */
    rollout?: NginxSiteRolloutArgs;
}

export interface NginxSiteRolloutArgs {
    /**
     * Hosts installed at once; the next batch starts when all of them (and their gates) succeeded.
     * @default 1
     */
    batchSize?: number;
    /**
     * The health check between batches: an HTTPS request from the machine running Pulumi to each host
     * that has just installed (see fleet/gate.ts), or false.
     * @default false
     */
    gate?: SiteGateArgs | false;
}

/**
 * Validates a site and its target before anything is created (also used by MtlsNginx, so its preview
 * fails before the CA is registered). Returns the site spec (with placeholder paths) and the target.
 */
export function resolveNginxSiteArgs(args: { site: SiteDefinition; target: HostTarget | DockerTarget }, has: { trustedCa: boolean; crl: boolean }): { spec: SiteSpec; target: HostTargetSettings | DockerTargetSettings } {
    if (!args || !args.site || !args.target) {
        throw new InputError("site", "site and target are required", "pass { site, server, clientCaPem, target }");
    }
    if (Array.isArray(args.target)) {
        throw new InputError("target", "is a list of hosts", "resolve a fleet with resolveFleetSiteArgs (NginxSite and MtlsNginx do)");
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

/** One host of a fleet, validated and resolved against the site. */
export interface ResolvedFleetHost {
    key: string;
    index: number;
    /** The entry as given. */
    entry: SiteFleetHost;
    /** The host target alone (without name, serverNames, server). */
    target: HostTarget;
    /** The site as this host serves it (its own serverNames, when it has them). */
    site: SiteDefinition;
    spec: SiteSpec;
    settings: HostTargetSettings;
}

export interface ResolvedFleet {
    hosts: ResolvedFleetHost[];
    plan: RolloutPlan;
    gate?: ResolvedGate;
}

/**
 * Validates a fleet before anything is created: the list (names, duplicates), every host as a single
 * target would be (errors name `target[i]...`, and `target[i].serverNames` for a host's own names), two
 * hosts installing into the same place, the rollout and its gate (which `site.allow` must admit).
 */
export function resolveFleetSiteArgs(
    args: { site: SiteDefinition; target: readonly SiteFleetHost[]; rollout?: NginxSiteRolloutArgs },
    has: { trustedCa: boolean; crl: boolean },
): ResolvedFleet {
    if (!args || !args.site) throw new InputError("site", "site and target are required", "pass { site, server, clientCaPem, target }");
    throwIfAny(fleetListErrors(args.target, "target"));
    const rollout: NginxSiteRolloutArgs = rolloutObject(args.rollout);
    const unknown = Object.keys(rollout).filter((k) => k !== "batchSize" && k !== "gate");
    throwIfAny(unknown.map((k) => new InputError(`rollout.${k}`, "unknown key", "use batchSize or gate")));
    const batchSize = validateBatchSize(rollout.batchSize, "rollout.batchSize");
    throwIfAny([...gateErrors(rollout.gate, "rollout.gate"), ...probeAllowErrors(args.site.allow, rollout.gate, "rollout.gate.probe")]);

    const hosts = args.target.map((entry, index): ResolvedFleetHost => {
        const { name: key, serverNames, server: _server, ...target } = entry;
        const site = serverNames !== undefined ? { ...args.site, serverNames } : args.site;
        const at = `target[${index}]`;
        const { spec, target: settings } = withRenamedInputs(
            () => resolveNginxSiteArgs({ site, target: target as HostTarget }, has),
            (input) => input.replace(/^target(?=$|\.|\[)/, at).replace(/^site\.serverNames(?=$|\.|\[)/, serverNames !== undefined ? `${at}.serverNames` : "site.serverNames"),
        );
        return { key, index, entry, target: target as HostTarget, site, spec, settings: settings as HostTargetSettings };
    });
    const places: HostPlace[] = hosts.map((h) => {
        const connection = h.target.kind === "ssh" ? (h.target.connection as { host?: unknown; port?: unknown } | undefined) : undefined;
        const plainHost = typeof connection?.host === "string" ? connection.host : undefined;
        const port = connection?.port === undefined ? 22 : typeof connection.port === "number" ? connection.port : undefined;
        return { kind: h.settings.kind, address: plainHost !== undefined && port !== undefined ? `${plainHost}:${port}` : undefined, installDir: h.settings.installDir };
    });
    throwIfAny(samePlaceErrors(places, "target"));
    const gate = rollout.gate;
    if (gate && gate.probe === undefined && gate.url === undefined && (args.site.verifyClient ?? "on") === "on") {
        throw new InputError(
            "rollout.gate.probe",
            "no probe certificate, and the site requires a client certificate (verifyClient: \"on\"): every host would refuse the gate's request",
            "pass probe: { certPem, keyPem, commonName } (a client certificate of a CA the site trusts), or gate on your own url",
        );
    }
    return { hosts, plan: planRollout(hosts.map((h) => h.key), batchSize), gate: resolveGate(rollout.gate) };
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

/** The release (files, config, payload) of `site` with this server certificate and layout, once the PEMs are known. */
function siteRelease(args: NginxSiteArgs, site: SiteDefinition, server: ServerTlsMaterial, layout: ReleaseLayout): pulumi.Output<SiteRelease> {
    return pulumi
        .all([server.fullChainPem, server.keyPem, args.clientCaPem, args.trustedCaPem, args.crlPem])
        .apply(([serverFullChainPem, serverKeyPem, clientCaPem, trustedCaPem, crlPem]) =>
            buildSiteRelease(site, { serverFullChainPem, serverKeyPem, clientCaPem, trustedCaPem, crlPem }, layout),
        );
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
    /** A fleet's hosts by name (undefined for a single target). */
    readonly hosts?: Record<string, FleetHost>;
    /** A fleet's batches and dependencies (undefined for a single target). */
    readonly rolloutPlan?: RolloutPlan;
    /** A fleet's per-host facts by name: release, fingerprint, nginx version, install time, gate (undefined for a single target). */
    readonly hostFacts?: pulumi.Output<Record<string, HostFacts>>;

    constructor(name: string, args: NginxSiteArgs, opts?: pulumi.ComponentResourceOptions) {
        const has = { trustedCa: args?.trustedCaPem !== undefined, crl: args?.crlPem !== undefined };
        if (args && !Array.isArray(args.target)) refuseRolloutWithoutFleet(args.rollout);
        const fleet = args && Array.isArray(args.target) ? resolveFleetSiteArgs({ site: args.site, target: args.target, rollout: args.rollout }, has) : undefined;
        const { spec: placeholderSpec, target } = fleet ? { spec: fleet.hosts[0].spec, target: fleet.hosts[0].settings } : resolveNginxSiteArgs(args as { site: SiteDefinition; target: HostTarget | DockerTarget }, has);
        super("mtls-nginx:nginx:Site", name, {}, opts);
        this.target = target;
        if (fleet) {
            const built = this.rollOut(name, args, fleet);
            this.hosts = built.hosts;
            this.rolloutPlan = fleet.plan;
            this.hostFacts = built.facts;
            const first = built.hosts[fleet.hosts[0].key];
            this.releaseId = first.releaseId;
            this.siteConf = built.siteConf;
            // The command the rollout ends with (depend on the site component to wait for every host).
            this.installer = built.hosts[fleet.plan.order[fleet.plan.order.length - 1]].install;
            const names = args.site.serverNames?.length ? args.site.serverNames : placeholderSpec.serverNames;
            this.url = siteUrl(names[0] ?? "localhost", placeholderSpec.listen.port);
            this.registerOutputs({ releaseId: this.releaseId, siteConf: this.siteConf, url: this.url, hosts: this.hostFacts });
            return;
        }

        const release = siteRelease(args, args.site, args.server, releaseLayoutOf(target));
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
        const served =
            target.kind === "docker" ? undefined : servedReleaseFor(name, siteAddress(args.target as HostTarget, target), target, this.releaseId, { parent: this });
        const withRestores = (script: pulumi.Input<string>): pulumi.Input<string> => (served ? pulumi.all([served.restores, script]).apply(([n, s]) => withRestoreCount(s, n)) : script);
        const common = {
            create: withRestores(installScript),
            update: withRestores(installScript),
            delete: uninstallScript,
            stdin: payload,
            triggers: [contentHash],
            logging: "none" as const,
            addPreviousOutputInEnv: false,
        };
        const single = args.target as HostTarget | DockerTarget;
        if (single.kind === "ssh") {
            this.installer = new command.remote.Command(
                `${name}-install`,
                {
                    ...common,
                    // The login shell of the SSH user may not be POSIX: run the script under /bin/sh.
                    create: pulumi.output(withRestores(installScript)).apply((s) => shWrap(s)),
                    update: pulumi.output(withRestores(installScript)).apply((s) => shWrap(s)),
                    delete: uninstallScript.apply((s) => shWrap(s)),
                    connection: single.connection,
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

    /**
     * A fleet: one release per distinct (server certificate, server names, layout), built once; one
     * FleetHost per host, created in rollout order, each install depending on the previous batch.
     */
    private rollOut(name: string, args: NginxSiteArgs, fleet: ResolvedFleet) {
        const releases = new Map<string, pulumi.Output<SiteRelease>>();
        const releaseFor = (h: ResolvedFleetHost): pulumi.Output<SiteRelease> => {
            const server = h.entry.server ?? args.server;
            const cacheKey = JSON.stringify([h.entry.server ? h.key : "", h.site.serverNames ?? null, releaseLayoutOf(h.settings)]);
            let release = releases.get(cacheKey);
            if (!release) {
                release = siteRelease(args, h.site, server, releaseLayoutOf(h.settings));
                releases.set(cacheKey, release);
            }
            return release;
        };
        const byKey = new Map(fleet.hosts.map((h) => [h.key, h]));
        const gate = fleet.gate;
        const probe = args.rollout?.gate ? args.rollout.gate.probe : undefined;
        const hosts: Record<string, FleetHost> = {};
        for (const key of fleet.plan.order) {
            const h = byKey.get(key)!;
            hosts[key] = new FleetHost(
                `${name}-host-${key}`,
                {
                    key,
                    target: h.target,
                    settings: h.settings,
                    release: releaseFor(h),
                    gate: gate ? { settings: gate, probe: probe ? { certPem: probe.certPem, keyPem: probe.keyPem } : undefined } : undefined,
                    after: fleet.plan.after[key].map((k) => hosts[k].done),
                },
                { parent: this },
            );
        }
        const first = fleet.hosts[0];
        const siteConf = pulumi.unsecret(releaseFor(first).apply((r) => r.siteConf));
        // In the list's order (the user's), not the rollout's.
        const facts = pulumi.all(Object.fromEntries(fleet.hosts.map((h) => [h.key, hosts[h.key].facts]))) as pulumi.Output<Record<string, HostFacts>>;
        return { hosts: Object.fromEntries(fleet.hosts.map((h) => [h.key, hosts[h.key]])), facts, siteConf };
    }

}
