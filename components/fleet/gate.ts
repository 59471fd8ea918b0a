/**
 * The rollout's health gate (pure parts): after a host installs, one HTTPS request to it from the
 * machine running `pulumi up` must pass before the next batch starts.
 *
 * The request is made by `probe.js` (Node.js built-ins only), run by a local.Command as
 * `node -e "$MTLS_NGINX_PROBE"`; the request, with the probe's client certificate and key, is the
 * command's secret stdin ({@link gateRequest}), so the key is never on disk, in a command string or a log.
 *
 * By default (no `url`) the probe requests `https://<host address>:<site port><path>` with the site's
 * server name as SNI and Host, presenting the probe certificate, and passes when the status is the
 * expected one (any 2xx or 3xx by default), the `X-Mtls-Release` header names the release the host's
 * install just reported, and the certificate it presents is the one that install reported. With `url`
 * (the user's own health URL; `{host}` and `{name}` are replaced by the host's address and name), only
 * the status is checked.
 */
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { InputError, showValue } from "../util/errors";

/** The gate of a rollout, as MtlsNginx takes it (it issues the probe certificate itself). */
export interface RolloutGateArgs {
    /**
     * Path requested on each host (through the site, with the probe certificate).
     * @default "/"
     */
    path?: string;
    /**
     * Your own health URL instead, e.g. `"https://{host}:8443/healthz"`: `{host}` becomes the host's
     * address (its SSH host, or the live-check address of a local target), `{name}` its name. Only the
     * status is checked; the probe certificate is presented when the server asks for one.
     * @default none (the site itself, checked for the host's release and certificate)
     */
    url?: string;
    /**
     * The status that passes.
     * @default any 2xx or 3xx
     */
    expectStatus?: number;
    /**
     * How long to retry before the gate fails, in seconds (1..600).
     * @default 10
     */
    timeoutSeconds?: number;
}

/** The client certificate the gate presents (NginxSite: yours; MtlsNginx issues one). */
export interface GateProbeCertificate {
    /** Leaf first, then intermediates. */
    certPem: pulumi.Input<string>;
    /** Its private key (a secret: it only travels on the gate command's stdin). */
    keyPem: pulumi.Input<string>;
    /** Its subject common name: when `site.allow` is set, it must be in `site.allow.commonNames`. */
    commonName?: string;
}

/** The gate as NginxSite takes it: MtlsNginx's, plus the probe certificate. */
export interface SiteGateArgs extends RolloutGateArgs {
    /**
     * The client certificate presented to every host.
     * @default none (the request carries no client certificate; with `verifyClient: "on"` that only suits `url`)
     */
    probe?: GateProbeCertificate;
}

/** A validated gate. */
export interface ResolvedGate {
    path: string;
    url?: string;
    expectStatus?: number;
    timeoutSeconds: number;
}

const PATH_RE = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/;

/** Validates a gate (`input` names it, e.g. `rollout.gate`); collects every problem. */
export function gateErrors(gate: unknown, input = "rollout.gate"): InputError[] {
    if (gate === undefined || gate === false) return [];
    if (!gate || typeof gate !== "object" || Array.isArray(gate)) {
        return [new InputError(input, `${showValue(gate)} is not a gate`, "give { path?, url?, expectStatus?, timeoutSeconds? }, or false for no gate")];
    }
    const g = gate as SiteGateArgs & Record<string, unknown>;
    const errors: InputError[] = [];
    const known = ["path", "url", "expectStatus", "timeoutSeconds", "probe"];
    for (const key of Object.keys(g)) {
        if (!known.includes(key)) errors.push(new InputError(`${input}.${key}`, "unknown key", `use ${known.filter((k) => k !== "probe").join(", ")}`));
    }
    if (g.path !== undefined && (typeof g.path !== "string" || !PATH_RE.test(g.path) || g.path.length > 1024)) {
        errors.push(new InputError(`${input}.path`, `${showValue(g.path)} is not a request path`, 'give a path starting with "/", e.g. "/" or "/healthz" (percent-encode anything else)'));
    }
    if (g.url !== undefined) {
        if (g.path !== undefined) errors.push(new InputError(`${input}.path`, "is set together with url", "give either path (on the site) or url (your own health URL)"));
        if (typeof g.url !== "string" || !urlOk(g.url)) {
            errors.push(new InputError(`${input}.url`, `${showValue(g.url)} is not an http(s) URL`, 'give e.g. "https://{host}:8443/healthz" ({host}: the host\'s address, {name}: its name)'));
        }
    }
    if (g.expectStatus !== undefined && !(Number.isInteger(g.expectStatus) && (g.expectStatus as number) >= 100 && (g.expectStatus as number) <= 599)) {
        errors.push(new InputError(`${input}.expectStatus`, `${showValue(g.expectStatus)} is not an HTTP status`, "give a status in 100..599, e.g. 200, or leave it out to accept any 2xx or 3xx"));
    }
    const t = g.timeoutSeconds;
    if (t !== undefined && !(Number.isInteger(t) && (t as number) >= 1 && (t as number) <= 600)) {
        errors.push(new InputError(`${input}.timeoutSeconds`, `${showValue(t)} is not a whole number of seconds in 1..600`, "use e.g. 10"));
    }
    if (g.probe !== undefined) {
        const p = g.probe as GateProbeCertificate;
        if (!p || typeof p !== "object" || p.certPem === undefined || p.keyPem === undefined) {
            errors.push(new InputError(`${input}.probe`, "needs certPem and keyPem", "pass the probe's client certificate chain and key (the key as a secret)"));
        } else if (p.commonName !== undefined && (typeof p.commonName !== "string" || p.commonName === "")) {
            errors.push(new InputError(`${input}.probe.commonName`, `${showValue(p.commonName)} is not a common name`, "give the probe certificate's subject CN"));
        }
    }
    return errors;
}

function urlOk(text: string): boolean {
    try {
        const u = new URL(text.replace(/\{host\}/g, "host.example").replace(/\{name\}/g, "name"));
        return (u.protocol === "https:" || u.protocol === "http:") && u.username === "" && u.password === "" && u.hostname !== "";
    } catch {
        return false;
    }
}

/** Defaults applied to a validated gate (undefined for none). */
export function resolveGate(gate: RolloutGateArgs | false | undefined): ResolvedGate | undefined {
    if (gate === false || gate === undefined) return undefined;
    return {
        path: gate.path ?? "/",
        ...(gate.url !== undefined ? { url: gate.url } : {}),
        ...(gate.expectStatus !== undefined ? { expectStatus: gate.expectStatus } : {}),
        timeoutSeconds: gate.timeoutSeconds ?? 10,
    };
}

/**
 * `site.allow` must admit the probe, or the gate could never pass: with an allow list, the probe's
 * common name must be one of `allow.commonNames` (MtlsNginx adds its own probe's).
 */
export function probeAllowErrors(
    allow: { subjectDns?: string[]; commonNames?: string[]; serials?: string[]; fingerprintsSha1?: string[] } | undefined,
    gate: SiteGateArgs | false | undefined,
    input = "rollout.gate.probe",
): InputError[] {
    if (!gate || gate.url !== undefined || allow === undefined) return [];
    if (!gate.probe) {
        return [new InputError(input, "no probe certificate, and site.allow admits only certificates it lists", "pass probe: { certPem, keyPem, commonName } and list its commonName in site.allow.commonNames, or gate on your own url")];
    }
    const cn = gate.probe.commonName;
    if (cn === undefined || !(allow.commonNames ?? []).includes(cn)) {
        return [
            new InputError(
                input,
                cn === undefined
                    ? "site.allow is set, and the probe's common name is not given, so nothing shows the gate's request would be allowed (it would get 403 on every host)"
                    : `site.allow does not admit the probe (${showValue(cn)} is not in site.allow.commonNames): every host would answer it 403 and the rollout would stop at the first host`,
                `give the probe's commonName and add it to site.allow.commonNames${cn !== undefined ? ` (${showValue(cn)})` : ""}`,
            ),
        ];
    }
    return [];
}

/** The JSON the probe reads on stdin (holds the probe key: make the command's stdin a secret). */
export interface GateRequest {
    label: string;
    host: string;
    port: number;
    serverName?: string;
    hostHeader?: string;
    path: string;
    url?: string;
    expectStatus?: number;
    expectRelease?: string;
    expectFingerprint?: string;
    certPem?: string;
    keyPem?: string;
    timeoutSeconds: number;
}

/** What a host's gate requests: the site on the host's address, or the user's url with `{host}`/`{name}` filled in. */
export function gateRequest(
    gate: ResolvedGate,
    host: { name: string; address: string; port: number; serverName?: string; hostHeader?: string },
    expect: { releaseId?: string; fingerprintSha256?: string },
    probe?: { certPem: string; keyPem: string },
): GateRequest {
    const urlHost = host.address.includes(":") ? `[${host.address}]` : host.address;
    return {
        label: host.name,
        host: host.address,
        port: host.port,
        ...(host.serverName !== undefined ? { serverName: host.serverName } : {}),
        ...(host.hostHeader !== undefined || host.serverName !== undefined ? { hostHeader: host.serverName ?? host.hostHeader } : {}),
        path: gate.path,
        ...(gate.url !== undefined ? { url: gate.url.replace(/\{host\}/g, urlHost).replace(/\{name\}/g, host.name) } : {}),
        ...(gate.expectStatus !== undefined ? { expectStatus: gate.expectStatus } : {}),
        ...(gate.url === undefined && expect.releaseId ? { expectRelease: expect.releaseId } : {}),
        ...(gate.url === undefined && expect.fingerprintSha256 ? { expectFingerprint: expect.fingerprintSha256 } : {}),
        ...(probe ? { certPem: probe.certPem, keyPem: probe.keyPem } : {}),
        timeoutSeconds: gate.timeoutSeconds,
    };
}

/** The probe script's text (components/fleet/probe.js, next to this module in the sources and the package). */
export const PROBE_SCRIPT: string = fs.readFileSync(path.join(__dirname, "probe.js"), "utf8");

/** The gate command: the probe from its environment variable (so a failure message shows this line, not the script). */
export const GATE_COMMAND = 'exec node -e "$MTLS_NGINX_PROBE"';
