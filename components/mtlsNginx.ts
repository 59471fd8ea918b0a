import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { HostFacts } from "./fleet/facts";
import { gateErrors, RolloutGateArgs } from "./fleet/gate";
import { FleetHostTarget, FleetTargets, withRenamedInputs } from "./fleet/hosts";
import { refuseRolloutWithoutFleet, rolloutObject } from "./fleet/rollout";
import { DockerTarget } from "./nginx/dockerTarget";
import { HostTarget } from "./nginx/hostTarget";
import { SiteDefinition } from "./nginx/release";
import { NginxSite, NginxSiteRolloutArgs, resolveFleetSiteArgs, resolveNginxSiteArgs } from "./nginx/site";
import { CertificateAuthority, CertificateAuthorityArgs, resolveCertificateAuthorityArgs } from "./pki/certificateAuthority";
import { ClientCertificate, ClientCertificateArgs, resolveClientCertificateArgs } from "./pki/clientCertificate";
import { IssuerLimits } from "./pki/leafSettings";
import { CertificateFacts, joinPem } from "./pki/certInfo";
import {
    providedServerCertificate,
    ProvidedServerCertificateArgs,
    resolveServerCertificateArgs,
    ServerCertificate,
    ServerCertificateArgs,
    ServerTlsMaterial,
} from "./pki/serverCertificate";
import { CLIENT_NAME, validateResourceName, validateUniqueNames } from "./pki/validation";
import { cadenceFindings, CadenceSubject } from "./renewal/cadence";
import { renewalWindowMs } from "./renewal/policy";
import { CertificateRevocation, CertificateRevocationArgs, resolveCrlValidityMs } from "./revocation/certificateRevocation";
import { IssuedCertificateArgs, validateRevocationListArgs } from "./revocation/revocationList";
import { now as clockNow } from "./util/clock";
import { Duration, parseDuration } from "./util/duration";
import { InputError, showValue, throwIfAny } from "./util/errors";
import { CADENCE } from "./util/limits";

/** A client as declared in MtlsNginxArgs: a ClientCertificate without its issuer, with a name. */
export interface ClientSpec extends Omit<ClientCertificateArgs, "issuer" | "commonName"> {
    /** Unique name: resource names (`<component>-client-<name>`), bundle file names, the revocation ledger. */
    name: string;
    /**
     * Subject common name.
     * @default the name
     */
    commonName?: string;
}

/** The server certificate: issued by our CA for the given names, or brought by the user. */
export type ServerSpec = Omit<ServerCertificateArgs, "issuer"> | { provided: ProvidedServerCertificateArgs };

export interface MtlsNginxRevocationArgs extends Omit<CertificateRevocationArgs, "ca" | "issued"> {
    /**
     * Turn revocation (CRLs in nginx) on or off.
     * @default true
     */
    enabled?: boolean;
}

export interface MtlsNginxArgs {
    /** The CA: arguments for a new CertificateAuthority, or an existing one (shared by several sites). */
    ca: CertificateAuthorityArgs | CertificateAuthority;
    /** The server certificate: `{ dnsNames, ipAddresses }` to issue one from the CA, or `{ provided: { certificatePem, privateKeyPem } }`. */
    server: ServerSpec;
    /** The clients allowed in; removing one revokes its certificates. */
    clients: ClientSpec[];
    /**
     * Revocation settings (CRLs per CA, explicit revocations, superseded certificates).
     * @default { enabled: true, crlValidity: "7d", revokeSuperseded: false }
     */
    revocation?: MtlsNginxRevocationArgs;
    /**
     * How often `pulumi up` runs (a nightly CI job by default), at most "366d"; previews warn when one
     * missed run could let a certificate or CRL lapse.
     * @default "24h"
     */
    cadence?: Duration;
    /**
     * The nginx site. `siteName` defaults to the component name, `serverNames` to the server certificate's names.
     */
    site: Omit<SiteDefinition, "siteName" | "serverNames" | "verifyDepth"> & { siteName?: string; serverNames?: string[] };
    /**
     * Where nginx runs: the local machine, an SSH host, a Docker container (`{ kind: "docker", ... }`), or a
     * list of SSH/local hosts (a fleet), each `{ name, ...host target }`, all serving the same site from the
     * same CA, CRLs and clients, rolled out batch by batch (see `rollout`).
     */
    target: HostTarget | DockerTarget | FleetTargets;
    /**
     * How a fleet is rolled out (only with a list of targets): `batchSize` hosts at a time; after each
     * host's install, the gate (an mTLS request with a probe certificate this component issues) must pass
     * before the next batch starts. A failure stops the rollout there; the next `pulumi up` goes on from it.
     * @default { batchSize: 1, gate: { path: "/" } }
     */
    rollout?: MtlsNginxRolloutArgs;
}

export interface MtlsNginxRolloutArgs {
    /**
     * Hosts installed at once.
     * @default 1
     */
    batchSize?: number;
    /**
     * The health check between batches (path, or your own url; expected status; timeout), or false for none.
     * The probe certificate (`<name>-probe`, CN `mtls-nginx-gate-probe.<siteName>`, short-lived, key only on
     * the gate command's stdin) is issued by the CA and added to `site.allow.commonNames` when there is an allow list.
     * @default { path: "/", timeoutSeconds: 10 } (any 2xx or 3xx passes)
     */
    gate?: RolloutGateArgs | false;
}

/** The common name of a site's gate probe certificate (reserved: no client may use it). */
export function probeCommonName(siteName: string): string {
    return `mtls-nginx-gate-probe.${siteName}`;
}

/** What the leaf validators need to know of the issuer, before the CA exists. */
function issuerLimits(ca: CertificateAuthorityArgs | CertificateAuthority): IssuerLimits {
    if (ca instanceof CertificateAuthority) return ca;
    const settings = resolveCertificateAuthorityArgs(ca, "ca");
    const issuing = settings.intermediate ?? settings.root;
    return { displayName: issuing.commonName, validityMs: issuing.validityMs, renewalWindowMs: renewalWindowMs(issuing.validityMs, issuing.policy) };
}

/** A fleet host's own server certificate: its names, split into DNS names and IP addresses. */
interface HostServer {
    key: string;
    dnsNames: string[];
    ipAddresses: string[];
}

/** Settings validated at construction. */
interface Resolved {
    cadenceMs: number;
    siteName: string;
    serverNames: string[];
    /** With a list of targets. */
    fleet?: { hostServers: HostServer[]; probe?: { commonName: string; validity: Duration }; allow?: SiteDefinition["allow"] };
}

const DAY_MS = 24 * 3600 * 1000;

/** A host's server names as certificate SANs (IP literals without brackets). */
function hostServer(key: string, names: string[]): HostServer {
    const bare = names.map((n) => n.replace(/^\[(.*)\]$/, "$1"));
    return { key, dnsNames: bare.filter((n) => net.isIP(n) === 0), ipAddresses: bare.filter((n) => net.isIP(n) !== 0) };
}

function resolve(name: string, args: MtlsNginxArgs): Resolved {
    if (!args || typeof args !== "object") {
        throw new InputError(name, "no arguments", "pass { ca, server, clients, site, target }");
    }
    for (const key of ["ca", "server", "clients", "site", "target"] as const) {
        if (args[key] === undefined || args[key] === null) {
            throw new InputError(key, "is required", key === "clients" ? "pass a list of clients (may be empty)" : `give the ${key} settings`);
        }
    }
    if (!Array.isArray(args.clients)) {
        throw new InputError("clients", "is not a list", 'pass a list such as [{ name: "alice" }]');
    }
    args.clients.forEach((c, i) => validateResourceName(c?.name, `clients[${i}].name`));
    validateUniqueNames(
        args.clients.map((c) => c.name),
        (i) => `clients[${i}].name`,
    );
    (args.revocation?.revocations ?? []).forEach((r, i) => {
        if (typeof r?.client === "string" && !CLIENT_NAME.test(r.client)) {
            throw new InputError(`revocation.revocations[${i}].client`, `${showValue(r.client)} can never be a client name, so it would revoke nothing`, "give the name as it was in clients (1-63 lower-case letters, digits, '-', '_' or '.')");
        }
    });
    const revoked = (args.revocation?.revocations ?? []).map((r) => r.client).filter((c): c is string => typeof c === "string");
    args.clients.forEach((c, i) => {
        if (revoked.includes(c.name)) {
            throw new InputError(
                `clients[${i}].name`,
                `client ${JSON.stringify(c.name)} is both declared and revoked by name in revocation.revocations`,
                "remove the client from clients to revoke it (its certificates stay on the CRL until they expire), or revoke one certificate by serial and bump the client's generation to re-issue",
            );
        }
    });
    // Validate every child's arguments now, with the input paths of this component's args, so one
    // preview reports e.g. `clients[2].commonName` before anything is registered.
    if (!(args.ca instanceof CertificateAuthority)) {
        resolveCertificateAuthorityArgs(args.ca, "ca");
    }
    const limits = issuerLimits(args.ca);
    args.clients.forEach((c, i) => {
        const { name: clientName, commonName, ...rest } = c;
        resolveClientCertificateArgs({ ...rest, commonName: commonName ?? clientName }, limits, `clients[${i}]`);
    });
    if (!("provided" in args.server)) {
        resolveServerCertificateArgs(args.server, limits, "server");
    }
    const cadenceMs = parseDuration(args.cadence ?? "24h", "cadence", CADENCE);
    const siteName = args.site.siteName ?? name;
    const server = args.server as { dnsNames?: string[]; ipAddresses?: string[] };
    const serverNames = args.site.serverNames ?? [...(server.dnsNames ?? []), ...(server.ipAddresses ?? [])];
    if (serverNames.length === 0) {
        throw new InputError("site.serverNames", "no server names", "give site.serverNames (a brought certificate has no names we can read at preview time)");
    }
    const revocationOn = args.revocation?.enabled ?? true;
    if (revocationOn) {
        const { enabled: _enabled, crlValidity, ...revocation } = args.revocation ?? {};
        resolveCrlValidityMs(crlValidity);
        validateRevocationListArgs({ issuerCertPem: "-", issuerKeyPem: "-", issued: [], ...revocation }, "revocation");
    }
    const verifyDepth = args.ca instanceof CertificateAuthority ? args.ca.verifyDepth : args.ca.intermediate ? 2 : 1;
    const { siteName: _s, serverNames: _n, ...site } = args.site;
    if (!Array.isArray(args.target)) {
        refuseRolloutWithoutFleet(args.rollout);
        resolveNginxSiteArgs({ site: { ...site, siteName, serverNames, verifyDepth }, target: args.target }, { trustedCa: false, crl: revocationOn });
        return { cadenceMs, siteName, serverNames };
    }
    return { cadenceMs, siteName, serverNames, fleet: resolveFleet(args, { ...site, siteName, serverNames, verifyDepth }, limits, cadenceMs, revocationOn) };
}

/**
 * A fleet: the hosts (NginxSite's checks), their own certificates' names, the probe certificate's
 * common name (reserved: no client may carry it) and validity, and the allow list with the probe in it.
 */
function resolveFleet(args: MtlsNginxArgs, site: SiteDefinition, limits: IssuerLimits, cadenceMs: number, revocationOn: boolean): NonNullable<Resolved["fleet"]> {
    const hosts = args.target as FleetHostTarget[];
    const rollout: MtlsNginxRolloutArgs = rolloutObject(args.rollout);
    throwIfAny(gateErrors(rollout.gate, "rollout.gate"));
    if (rollout.gate && "probe" in rollout.gate) {
        throw new InputError("rollout.gate.probe", "MtlsNginx issues the gate's probe certificate itself", "leave probe out (NginxSite takes one of yours)");
    }
    const gateOn = rollout.gate !== false;
    const commonName = probeCommonName(site.siteName);
    let probe: { commonName: string; validity: Duration } | undefined;
    if (gateOn) {
        args.clients.forEach((c, i) => {
            if ((c.commonName ?? c.name) === commonName) {
                throw new InputError(`clients[${i}].commonName`, `${showValue(commonName)} is the rollout gate's probe certificate's common name`, "give the client another common name (the gate's probe is allowlisted by this name)");
            }
        });
        // Short-lived, renewed (at 2/3) at least two runs before it expires; never longer than its issuer allows.
        const ceiling = limits.renewalWindowMs ?? limits.validityMs ?? Number.POSITIVE_INFINITY;
        const ms = Math.min(Math.max(7 * DAY_MS, 6 * cadenceMs), ceiling);
        probe = { commonName, validity: `${Math.max(1, Math.floor(ms / 3_600_000))}h` };
        resolveClientCertificateArgs({ commonName, validity: probe.validity, pkcs12: false }, limits, "rollout.gate.probe");
    }
    const allow = gateOn && site.allow ? { ...site.allow, commonNames: [...(site.allow.commonNames ?? []), commonName] } : site.allow;
    const placeholder = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    const gate: NginxSiteRolloutArgs["gate"] = gateOn && rollout.gate && typeof rollout.gate === "object" ? { ...rollout.gate, probe: { certPem: placeholder, keyPem: placeholder, commonName } } : gateOn ? { probe: { certPem: placeholder, keyPem: placeholder, commonName } } : false;
    resolveFleetSiteArgs({ site: { ...site, allow }, target: hosts, rollout: { ...rollout, gate } }, { trustedCa: false, crl: revocationOn });

    const hostServers: HostServer[] = [];
    hosts.forEach((h, i) => {
        if (h.serverNames === undefined) return;
        if ("provided" in args.server) {
            throw new InputError(
                `target[${i}].serverNames`,
                "a host's own names get their own certificate from the CA, but the server certificate is brought (server.provided)",
                "leave serverNames out (every host serves the brought certificate), or issue the server certificate from the CA (server: { dnsNames })",
            );
        }
        const own = hostServer(h.name, h.serverNames);
        const { commonName: _cn, ...server } = args.server;
        withRenamedInputs(
            () => resolveServerCertificateArgs({ ...server, dnsNames: own.dnsNames, ipAddresses: own.ipAddresses }, limits, `target[${i}].serverNames`),
            (input) => input.replace(/^(target\[\d+\]\.serverNames)\.(dnsNames|ipAddresses)(\[\d+\])?$/, "$1"),
        );
        hostServers.push(own);
    });
    return { hostServers, probe, allow };
}

/**
 * Mutual TLS in front of nginx, from one args object: the CA (optionally with an intermediate), the
 * server certificate, the clients and their PKCS#12 bundles, revocation, renewal and the nginx site on
 * its target. Its parts (`ca`, `clients`, `site`...) are exposed so a larger program can reuse them.
 */
export class MtlsNginx extends pulumi.ComponentResource {
    readonly ca: CertificateAuthority;
    /** The issued server certificate (undefined when brought). */
    readonly serverCertificate?: ServerCertificate;
    /** What nginx presents. */
    readonly server: ServerTlsMaterial;
    /** Clients by name. */
    readonly clients: Record<string, ClientCertificate>;
    readonly revocation?: CertificateRevocation;
    readonly site: NginxSite;
    /** The https URL of the site. */
    readonly url: string;
    /** The root CA certificate clients trust for the server (when issued by our CA). */
    readonly caCertPem: pulumi.Output<string>;
    /** The CA certificates nginx trusts for clients (current and retired). */
    readonly trustBundlePem: pulumi.Output<string>;
    /** The earliest renewAt among the certificates managed here (ISO-8601), and what it belongs to. */
    readonly nextRenewal: pulumi.Output<{ at: string; certificate: string }>;
    /** Earliest CRL nextUpdate (ISO-8601), when revocation is on. */
    readonly crlNextUpdate?: pulumi.Output<string>;
    /** A fleet's hosts' own server certificates, by host name (hosts with `serverNames`). */
    readonly hostServerCertificates: Record<string, ServerCertificate> = {};
    /** A fleet's gate probe certificate (its key only ever travels on the gate commands' stdin). */
    readonly probe?: ClientCertificate;
    /** A fleet's per-host facts by host name: release, served fingerprint, nginx version, install time, timings, gate result. */
    readonly hosts?: pulumi.Output<Record<string, HostFacts>>;

    constructor(name: string, args: MtlsNginxArgs, opts?: pulumi.ComponentResourceOptions) {
        const resolved = resolve(name, args);
        super("mtls-nginx:index:MtlsNginx", name, {}, opts);

        this.ca = args.ca instanceof CertificateAuthority ? args.ca : new CertificateAuthority(`${name}-ca`, args.ca, { parent: this });
        const ca = this.ca;

        if ("provided" in args.server) {
            this.server = providedServerCertificate(args.server.provided, "server.provided");
        } else {
            this.serverCertificate = new ServerCertificate(`${name}-server`, { ...args.server, issuer: ca }, { parent: this });
            this.server = this.serverCertificate;
        }

        const fleet = resolved.fleet;
        if (fleet && !("provided" in args.server)) {
            const { commonName: _cn, ...server } = args.server;
            for (const h of fleet.hostServers) {
                this.hostServerCertificates[h.key] = new ServerCertificate(`${name}-server-${h.key}`, { ...server, dnsNames: h.dnsNames, ipAddresses: h.ipAddresses, issuer: ca }, { parent: this });
            }
        }
        if (fleet?.probe) {
            this.probe = new ClientCertificate(`${name}-probe`, { issuer: ca, commonName: fleet.probe.commonName, validity: fleet.probe.validity, pkcs12: false }, { parent: this });
        }

        this.clients = {};
        args.clients.forEach((spec) => {
            const { name: clientName, commonName, ...rest } = spec;
            this.clients[clientName] = new ClientCertificate(`${name}-client-${clientName}`, { ...rest, issuer: ca, commonName: commonName ?? clientName }, { parent: this });
        });

        const revocationOn = args.revocation?.enabled ?? true;
        if (revocationOn) {
            const { enabled: _enabled, ...revocationArgs } = args.revocation ?? {};
            const issued: IssuedCertificateArgs[] = Object.entries(this.clients).map(([clientName, c]) => ({ name: clientName, certPem: c.certPem }));
            if (this.serverCertificate) {
                // "~" cannot appear in client names, so the server never collides with a client.
                issued.push({ name: "~server", certPem: this.serverCertificate.certPem });
            }
            for (const [key, c] of Object.entries(this.hostServerCertificates)) issued.push({ name: `~server-${key}`, certPem: c.certPem });
            if (this.probe) issued.push({ name: "~probe", certPem: this.probe.certPem });
            this.revocation = new CertificateRevocation(`${name}-revocation`, { ...revocationArgs, ca, issued }, { parent: this });
            this.crlNextUpdate = this.revocation.nextUpdate;
        }
        this.trustBundlePem = this.revocation?.trustBundlePem ?? ca.trustBundlePem;

        const { siteName: _siteName, serverNames: _serverNames, ...site } = args.site;
        const probe = this.probe;
        this.site = new NginxSite(
            `${name}-site`,
            {
                site: { ...site, ...(fleet ? { allow: fleet.allow } : {}), siteName: resolved.siteName, serverNames: resolved.serverNames, verifyDepth: ca.verifyDepth },
                server: this.server,
                clientCaPem: this.trustBundlePem,
                crlPem: this.revocation?.crlPem,
                target: Array.isArray(args.target) ? args.target.map((h) => (this.hostServerCertificates[h.name] ? { ...h, server: this.hostServerCertificates[h.name] } : h)) : args.target,
                ...(fleet
                    ? {
                          rollout: {
                              batchSize: args.rollout?.batchSize,
                              gate:
                                  probe && fleet.probe
                                      ? {
                                            ...(args.rollout?.gate || {}),
                                            probe: { certPem: pulumi.all([probe.certPem, ca.intermediatesPem]).apply(([c, i]) => joinPem([c, i])), keyPem: probe.keyPem, commonName: fleet.probe.commonName },
                                        }
                                      : false,
                          },
                      }
                    : {}),
            },
            { parent: this },
        );
        this.hosts = this.site.hostFacts;
        this.url = this.site.url;
        this.caCertPem = ca.rootCertPem;

        const renewals: { certificate: string; renewAt: pulumi.Output<string>; facts: pulumi.Output<CertificateFacts> }[] = [
            { certificate: `root CA ${ca.root.settings.commonName}`, renewAt: ca.root.renewAt, facts: ca.root.facts },
            ...(ca.intermediate ? [{ certificate: `intermediate CA ${ca.intermediate.settings.commonName}`, renewAt: ca.intermediate.renewAt, facts: ca.intermediate.facts }] : []),
            ...(this.serverCertificate ? [{ certificate: "server certificate", renewAt: this.serverCertificate.renewAt, facts: this.serverCertificate.facts }] : []),
            ...Object.entries(this.hostServerCertificates).map(([key, c]) => ({ certificate: `server certificate of host ${key}`, renewAt: c.renewAt, facts: c.facts })),
            ...Object.entries(this.clients).map(([clientName, c]) => ({ certificate: `client ${clientName}`, renewAt: c.renewAt, facts: c.facts })),
        ];
        // One combined Output for all certificates (a stack may hold thousands of clients).
        const dates = pulumi.all([pulumi.all(renewals.map((r) => r.renewAt)), pulumi.all(renewals.map((r) => r.facts))]).apply(([renewAts, facts]) =>
            renewals.map((r, i) => ({ certificate: r.certificate, renewAt: renewAts[i], notAfter: facts[i].notAfter })),
        );
        this.nextRenewal = dates.apply((all) => all.map((d) => ({ at: d.renewAt, certificate: d.certificate })).sort((a, b) => a.at.localeCompare(b.at))[0]);

        this.warnAboutCadence(resolved.cadenceMs, renewals.map((r) => r.certificate), dates);
        this.registerOutputs({ url: this.url, caCertPem: this.caCertPem, trustBundlePem: this.trustBundlePem, nextRenewal: this.nextRenewal, crlNextUpdate: this.crlNextUpdate, ...(this.hosts ? { hosts: this.hosts } : {}) });
    }

    /** Warns (at preview) when one missed run could let a certificate or a CRL lapse. */
    private warnAboutCadence(cadenceMs: number, names: string[], dates: pulumi.Output<{ certificate: string; renewAt: string; notAfter: string }[]>) {
        // Policy level, known at construction (so even the first preview warns): a renewal window
        // shorter than two runs is a problem whatever the dates.
        const windows: [string, number, number][] = [
            [names[0], this.ca.root.settings.validityMs, renewalWindowMs(this.ca.root.settings.validityMs, this.ca.root.settings.policy)],
            ...(this.ca.intermediate ? [[names[1], this.ca.intermediate.settings.validityMs, renewalWindowMs(this.ca.intermediate.settings.validityMs, this.ca.intermediate.settings.policy)] as [string, number, number]] : []),
            ...(this.serverCertificate ? [["server certificate", this.serverCertificate.settings.validityMs, renewalWindowMs(this.serverCertificate.settings.validityMs, this.serverCertificate.settings.policy)] as [string, number, number]] : []),
            ...Object.entries(this.hostServerCertificates).map(([key, c]) => [`server certificate of host ${key}`, c.settings.validityMs, renewalWindowMs(c.settings.validityMs, c.settings.policy)] as [string, number, number]),
            ...Object.entries(this.clients).map(([n, c]) => [`client ${n}`, c.settings.validityMs, renewalWindowMs(c.settings.validityMs, c.settings.policy)] as [string, number, number]),
            ...(this.revocation ? [["CRL", this.revocation.crlValidityMs, this.revocation.crlValidityMs / 2] as [string, number, number]] : []),
        ];
        const start = clockNow();
        const policyFindings = cadenceFindings(
            windows.map(([what, validity, window]) => ({
                kind: what === "CRL" ? ("crl" as const) : ("certificate" as const),
                name: what,
                actAt: new Date(start.getTime() + validity - window),
                deadline: new Date(start.getTime() + validity),
            })),
            start,
            cadenceMs,
        );
        policyFindings.forEach((f) => pulumi.log.warn(f.message, this));
        const reported = new Set(policyFindings.map((f) => f.subject));

        // Date level: what the current certificates and CRLs say (known unless being replaced in this preview).
        // (Outputs carry ISO strings: a Date inside an Output does not survive unwrapping.)
        const crl = this.revocation ? pulumi.all([this.revocation.refreshAt, this.revocation.nextUpdate]) : pulumi.output(undefined);
        pulumi.all([dates, crl]).apply(([certs, crlDates]) => {
            const subjects: CadenceSubject[] = certs.map((d) => ({ kind: "certificate" as const, name: d.certificate, actAt: new Date(d.renewAt), deadline: new Date(d.notAfter) }));
            if (crlDates) subjects.push({ kind: "crl", name: "CRL", actAt: new Date(crlDates[0]), deadline: new Date(crlDates[1]) });
            cadenceFindings(subjects, clockNow(), cadenceMs)
                .filter((f) => !reported.has(f.subject))
                .forEach((f) => pulumi.log.warn(f.message, this));
        });
    }
}
