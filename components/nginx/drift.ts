/**
 * Drift of a site: someone stopped nginx, deleted the install directory, or put another config live.
 * The install command cannot tell (a command resource has no read), so a `ServedRelease` resource looks
 * on `pulumi refresh`: it asks the site which release it serves (the `X-Mtls-Release` header of an
 * answer to a request without a client certificate). When the answer is another release, or the port
 * refuses connections, it counts a restore; the install command carries that count in its environment,
 * so the next `pulumi up` installs the release again (an in-place update: same release, nothing deleted).
 *
 * It never probes during preview or up (a nightly run stays free of network checks), and an answer it
 * cannot get (a timeout, an unreachable host) proves nothing: no restore is counted.
 */
import * as pulumi from "@pulumi/pulumi";
import type { HostTarget, HostTargetSettings } from "./hostTarget";

/** What a probe of the site saw. */
export interface ProbeObservation {
    /** The `X-Mtls-Release` header of the answer, when there was an answer. */
    release?: string;
    /** The error code of a failed connection (ECONNREFUSED, ETIMEDOUT...). */
    errorCode?: string;
}

/** Served (as deployed), drift (restore it), or unknown (could not tell: change nothing). */
export type ProbeVerdict = "served" | "drift" | "unknown";

/**
 * Outcomes that prove the site is not there: the host answered, but nothing listens, the TLS handshake
 * failed, or what answered sent no release header (not our site).
 */
const NOT_OUR_SITE = ["ECONNREFUSED", "ECONNRESET", "EPROTO", "NO_RELEASE_HEADER"]; // an array: serializeFunction mangles a module-level Set

/** The verdict on an observation of a site that should serve `expectedRelease`. */
export function judgeServedRelease(expectedRelease: string, seen: ProbeObservation): ProbeVerdict {
    if (seen.release !== undefined) return seen.release === expectedRelease ? "served" : "drift";
    if (seen.errorCode !== undefined && NOT_OUR_SITE.includes(seen.errorCode)) return "drift";
    return "unknown";
}

export interface ServedReleaseInputs {
    /** Address the machine running Pulumi reaches the site at. */
    host: string;
    port: number;
    /** SNI and Host header. */
    serverName: string;
    /** The release the install command installs. */
    releaseId: string;
}

export interface ServedReleaseOutputs extends ServedReleaseInputs {
    /** How many times a refresh found the site not serving its release. */
    restores: number;
    /** What the last refresh that counted a restore saw. */
    lastDrift: string;
}

/** The dynamic provider (self-contained: serialized with the program). */
export const servedReleaseProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: ServedReleaseOutputs, news: ServedReleaseInputs) {
        const keys = ["host", "port", "serverName", "releaseId"] as const;
        return { changes: keys.some((k) => olds[k] !== news[k]), replaces: [], deleteBeforeReplace: false };
    },

    async create(inputs: ServedReleaseInputs) {
        const crypto: typeof import("crypto") = require("crypto");
        const outs: ServedReleaseOutputs = { ...pick(inputs), restores: 0, lastDrift: "" };
        return { id: `served-${crypto.randomUUID()}`, outs };
    },

    async update(_id: string, olds: ServedReleaseOutputs, news: ServedReleaseInputs) {
        return { outs: { ...pick(news), restores: olds.restores ?? 0, lastDrift: olds.lastDrift ?? "" } };
    },

    async read(id: string, props: ServedReleaseOutputs) {
        const seen = await probe(props);
        const verdict = judgeServedRelease(props.releaseId, seen);
        if (verdict !== "drift") return { id, props };
        const what = seen.release !== undefined ? `release ${seen.release} served` : `connection ${seen.errorCode}`;
        return { id, props: { ...props, restores: (props.restores ?? 0) + 1, lastDrift: `${new Date().toISOString()}: ${what}, expected ${props.releaseId}` } };
    },
};

function pick(i: ServedReleaseInputs): ServedReleaseInputs {
    return { host: i.host, port: i.port, serverName: i.serverName, releaseId: i.releaseId };
}

/** One HEAD request without a client certificate; its X-Mtls-Release header, or the connection error. */
function probe(target: ServedReleaseInputs): Promise<ProbeObservation> {
    const https: typeof import("https") = require("https");
    return new Promise((resolve) => {
        const request = https.request(
            { host: target.host, port: target.port, servername: target.serverName, method: "HEAD", path: "/", headers: { host: target.serverName }, rejectUnauthorized: false, agent: false, timeout: 5000 },
            (response) => {
                const header = response.headers["x-mtls-release"];
                response.resume();
                resolve(typeof header === "string" ? { release: header } : { errorCode: "NO_RELEASE_HEADER" });
            },
        );
        request.on("timeout", () => request.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
        request.on("error", (e: NodeJS.ErrnoException) => resolve({ errorCode: e.code ?? "ERROR" }));
        request.end();
    });
}

export interface ServedReleaseArgs {
    /** Address the machine running Pulumi reaches the site at. */
    host: pulumi.Input<string>;
    /** The site's port. */
    port: pulumi.Input<number>;
    /** SNI and Host header. */
    serverName: pulumi.Input<string>;
    /** The release the site should serve. */
    releaseId: pulumi.Input<string>;
}

/** Checks, on `pulumi refresh`, that the site serves its release; see the module comment. */
export class ServedRelease extends pulumi.dynamic.Resource {
    /** Restores counted so far: put it in the install command's environment. */
    declare readonly restores: pulumi.Output<number>;
    declare readonly lastDrift: pulumi.Output<string>;

    constructor(name: string, args: ServedReleaseArgs, opts?: pulumi.CustomResourceOptions) {
        super(servedReleaseProvider, name, { ...args, restores: undefined, lastDrift: undefined }, opts, "nginx", "ServedRelease");
    }
}

/** Where the machine running Pulumi reaches a host target's site: the SSH host, else the live check's address. */
export function siteAddress(target: HostTarget, settings: HostTargetSettings): pulumi.Input<string> {
    return target.kind === "ssh" ? pulumi.output(target.connection).apply((c) => c.host) : (settings.script.liveCheck.host ?? "127.0.0.1");
}

/** The drift check (`<name>-served`) of the site at `address`, which should serve `releaseId`. */
export function servedReleaseFor(name: string, address: pulumi.Input<string>, settings: HostTargetSettings, releaseId: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): ServedRelease {
    const check = settings.script.liveCheck;
    const serverName = check.serverName ?? (typeof address === "string" ? address : "localhost");
    return new ServedRelease(`${name}-served`, { host: address, port: check.port, serverName, releaseId }, opts);
}

/** The install script with the restore count as its last line: a restore counted by a refresh changes the command, so the next up installs again. */
export function withRestoreCount(script: string, restores: number | undefined): string {
    return `${script.replace(/\n*$/, "\n")}# mtls-nginx: restores after drift: ${restores ?? 0}\n`;
}
