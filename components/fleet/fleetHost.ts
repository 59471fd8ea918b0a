/**
 * One host of a fleet (`mtls-nginx:fleet:Host`, named `<site>-host-<name>`): the release's install
 * command on that host, its drift check, and the gate that has to pass before the next batch starts.
 * NginxSite creates one per host, in rollout order, and hands each the resources its install waits for.
 */
import * as crypto from "crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ServedRelease, servedReleaseFor, siteAddress, withRestoreCount } from "../nginx/drift";
import { HostTarget, HostTargetSettings, uninstallInput } from "../nginx/hostTarget";
import { InstallScriptInput, renderInstallScript, renderUninstallScript } from "../nginx/install";
import { RELEASE_FILES, SiteRelease } from "../nginx/release";
import { shWrap } from "../nginx/shell";
import { fleetInstallCommand, HostFacts, parseGateOutput, parseInstallSummary } from "./facts";
import { GATE_COMMAND, gateRequest, PROBE_SCRIPT, ResolvedGate } from "./gate";

export interface FleetHostArgs {
    /** The host's key (its `name`). */
    key: string;
    /** The host target as the user gave it (its connection). */
    target: HostTarget;
    /** The same, resolved against the site. */
    settings: HostTargetSettings;
    /** The release this host installs (its payload is secret). */
    release: pulumi.Output<SiteRelease>;
    /** The gate after the install, and the client certificate it presents (undefined: no gate). */
    gate?: { settings: ResolvedGate; probe?: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> } };
    /** What the install waits for: the gates (or installs) of the previous batch. */
    after: pulumi.Resource[];
}

/** The last line of a command's output (the fleet stamp: `... installed at <ms>`). */
function lastLine(out: string): string {
    return (out ?? "").trimEnd().split("\n").pop() ?? "";
}

/** SHA-256 (lower-case hex) of the first certificate of a PEM text. */
function certificateSha256(pem: string): string | undefined {
    const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem)?.[0];
    if (!block) return undefined;
    const der = Buffer.from(block.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");
    return crypto.createHash("sha256").update(der).digest("hex");
}

export class FleetHost extends pulumi.ComponentResource {
    readonly key: string;
    /** The release id this host installs. */
    readonly releaseId: pulumi.Output<string>;
    /** The command that installs and reloads on this host. */
    readonly install: command.local.Command | command.remote.Command;
    /** The drift check (see nginx/drift.ts). */
    readonly served: ServedRelease;
    /** The gate's command (undefined without a gate). */
    readonly gate?: command.local.Command;
    /** What the next batch waits for: the gate, or the install without one. */
    readonly done: pulumi.CustomResource;
    /** Release, fingerprint, nginx version, install time and timings, and the gate's result. */
    readonly facts: pulumi.Output<HostFacts>;

    constructor(name: string, args: FleetHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mtls-nginx:fleet:Host", name, {}, opts);
        const { key, settings, release } = args;
        this.key = key;
        const remote = args.target.kind === "ssh";

        // Hashes of the content (key included) and the certificate carry no secret.
        this.releaseId = pulumi.unsecret(release.apply((r) => r.releaseId));
        const contentHash = pulumi.unsecret(release.apply((r) => r.contentHash));
        const fingerprint = pulumi.unsecret(release.apply((r) => certificateSha256(r.files.find((f) => f.path === RELEASE_FILES.certificate)?.content ?? "") ?? ""));
        const payload = pulumi.secret(release.apply((r) => r.payload));

        const scriptInput = pulumi.all([this.releaseId, contentHash]).apply(([releaseId, expectedContentHash]): InstallScriptInput => ({ ...settings.script, releaseId, expectedContentHash }));
        const uninstallScript = scriptInput.apply((s) => renderUninstallScript(uninstallInput(s)));

        // Where the machine running Pulumi reaches the site: the drift check and the gate.
        const check = settings.script.liveCheck;
        const address = siteAddress(args.target, settings);
        this.served = servedReleaseFor(name, address, settings, this.releaseId, { parent: this });

        // A refresh that finds the site gone counts a restore, which changes the command's text (see drift.ts).
        const installCommand = pulumi.all([this.served.restores, scriptInput]).apply(([restores, s]) => {
            return fleetInstallCommand(withRestoreCount(renderInstallScript(s), restores), { host: key, sudo: s.sudo === true, remote });
        });
        // No `triggers`: a new release changes the command's text (release id, content hash), which is an
        // in-place update running the install again. A trigger would make it a replacement, whose old
        // command the engine deletes after the whole rollout, one host after another (an SSH session each).
        const common = {
            create: installCommand,
            update: installCommand,
            delete: remote ? uninstallScript.apply((s) => shWrap(s)) : uninstallScript,
            stdin: payload,
            logging: "none" as const,
            addPreviousOutputInEnv: false,
        };
        const installOpts = { parent: this, dependsOn: args.after };
        this.install =
            args.target.kind === "ssh"
                ? new command.remote.Command(`${name}-install`, { ...common, connection: args.target.connection }, installOpts)
                : new command.local.Command(`${name}-install`, common, installOpts);

        const installFacts = this.install.stdout.apply((out) => parseInstallSummary(out, key));
        if (args.gate) {
            const gate = args.gate;
            const request = pulumi
                .all([address, this.releaseId, fingerprint, gate.probe?.certPem, gate.probe?.keyPem])
                .apply(([host, releaseId, fp, certPem, keyPem]) =>
                    JSON.stringify(
                        gateRequest(
                            gate.settings,
                            { name: key, address: host, port: check.port, serverName: check.serverName, hostHeader: check.hostHeader },
                            { releaseId, fingerprintSha256: fp },
                            certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined,
                        ),
                    ),
                );
            this.gate = new command.local.Command(
                `${name}-gate`,
                {
                    create: GATE_COMMAND,
                    // Every run of the install (a new release, a restore) changes the install's last line (its
                    // time), so the gate runs again (an update; its output holds no secret).
                    environment: { MTLS_NGINX_PROBE: PROBE_SCRIPT, MTLS_NGINX_INSTALLED: pulumi.unsecret(this.install.stdout).apply(lastLine) },
                    // The probe key travels here only.
                    stdin: pulumi.secret(request),
                    logging: "none",
                    addPreviousOutputInEnv: false,
                },
                { parent: this, dependsOn: [this.install] },
            );
            this.facts = pulumi.unsecret(pulumi.all([installFacts, this.gate.stdout]).apply(([facts, out]) => ({ ...facts, gate: parseGateOutput(out) })));
        } else {
            this.facts = pulumi.unsecret(installFacts.apply((facts): HostFacts => facts));
        }
        this.done = this.gate ?? this.install;
        this.registerOutputs({ releaseId: this.releaseId, facts: this.facts });
    }
}
