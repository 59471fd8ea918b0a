/**
 * A fleet: a list of host targets (SSH or local) that serve one site (pure validation).
 *
 * Each entry is a host target as for a single host (its own connection, install directory, nginx,
 * sudo, live check...) plus a `name`: the host's key in resource names (`<site>-host-<name>`), outputs
 * and messages. Keys, not list positions, identify hosts, so reordering the list replaces nothing.
 */
import type { HostTarget } from "../nginx/hostTarget";
import type { ServerTlsMaterial } from "../pki/serverCertificate";
import { CLIENT_NAME } from "../pki/validation";
import { InputError, InputErrors, showValue } from "../util/errors";

/** One host of a fleet, as MtlsNginx takes it. */
export type FleetHostTarget = HostTarget & {
    /** Unique key of the host: 1-63 of `a-z 0-9 . _ -`; resource names `<site>-host-<name>`. */
    name: string;
    /**
     * This host's own server names: its site answers to them, and MtlsNginx issues this host its own
     * server certificate for them (from the CA). Leave it out to serve the shared site and certificate.
     * @default the site's serverNames, and the shared server certificate
     */
    serverNames?: string[];
};

/** One host of a fleet, as NginxSite takes it: the same, plus this host's own certificate. */
export type SiteFleetHost = FleetHostTarget & {
    /**
     * This host's own server certificate and key.
     * @default the site's `server`
     */
    server?: ServerTlsMaterial;
};

/**
 * A list of hosts where a target goes. `kind` reads `undefined` on a list, so code that reads
 * `target.kind` of a single target keeps compiling.
 */
export type FleetTargets<H extends FleetHostTarget = FleetHostTarget> = H[] & { readonly kind?: undefined };

/** True when a target is a list of hosts (a fleet). */
export function isFleet<T>(target: T | readonly FleetHostTarget[]): target is readonly FleetHostTarget[] {
    return Array.isArray(target);
}

/** Problems with the list itself: empty, entries that are not host targets, bad or duplicate names. */
export function fleetListErrors(list: readonly unknown[], input = "target"): InputError[] {
    if (list.length === 0) {
        return [new InputError(input, "is an empty list", "list at least one host ({ name, kind: \"ssh\", connection, ... }), or give a single target")];
    }
    const errors: InputError[] = [];
    const seen = new Map<string, number>();
    list.forEach((entry, i) => {
        const at = `${input}[${i}]`;
        if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
            errors.push(new InputError(at, `${showValue(entry)} is not a host target`, 'give { name, kind: "ssh" | "local", ... }'));
            return;
        }
        const e = entry as Omit<Partial<SiteFleetHost>, "kind"> & { kind?: unknown };
        if (typeof e.name !== "string" || !CLIENT_NAME.test(e.name)) {
            errors.push(new InputError(`${at}.name`, `${showValue(e.name)} is not a host name`, "give every host a unique name: 1-63 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit (it becomes part of resource names)"));
        } else if (seen.has(e.name)) {
            errors.push(new InputError(`${at}.name`, `duplicate name ${showValue(e.name)} (also at index ${seen.get(e.name)})`, "give every host a unique name"));
        } else {
            seen.set(e.name, i);
        }
        if (e.kind === "docker") {
            errors.push(new InputError(`${at}.kind`, '"docker" cannot be one host of a list', 'list SSH or local hosts ("ssh", "local"); a container target stands alone'));
        }
        if (e.serverNames !== undefined && (!Array.isArray(e.serverNames) || e.serverNames.length === 0)) {
            errors.push(new InputError(`${at}.serverNames`, `${showValue(e.serverNames)} is not a non-empty list`, 'give this host\'s names, e.g. ["eu-1.example.com"], or leave it out to serve the shared names'));
        }
        if (e.server !== undefined && (!e.server || typeof e.server !== "object" || !("fullChainPem" in e.server) || !("keyPem" in e.server))) {
            errors.push(new InputError(`${at}.server`, "is not a server certificate", "pass a ServerCertificate, or providedServerCertificate({ certificatePem, privateKeyPem })"));
        }
    });
    return errors;
}

/** Where a resolved host installs: two entries with the same place would install over each other. */
export interface HostPlace {
    kind: "local" | "ssh";
    /** The SSH host and port when they are plain values (an Output cannot be compared at preview). */
    address?: string;
    installDir: string;
}

/** Two hosts that would install into the same directory of the same machine. */
export function samePlaceErrors(places: readonly HostPlace[], input = "target"): InputError[] {
    const errors: InputError[] = [];
    const seen = new Map<string, number>();
    places.forEach((p, i) => {
        if (p.kind === "ssh" && p.address === undefined) return;
        const key = `${p.kind} ${p.address ?? ""} ${p.installDir}`;
        const j = seen.get(key);
        if (j !== undefined) {
            errors.push(
                new InputError(
                    `${input}[${i}]`,
                    `installs into ${p.installDir} on ${p.kind === "local" ? "this machine" : p.address}, as ${input}[${j}] does: the two would overwrite each other's releases`,
                    "remove the duplicate, or give one of them its own installDir",
                ),
            );
        } else {
            seen.set(key, i);
        }
    });
    return errors;
}

/**
 * Runs `build`, renaming the inputs of the InputErrors it throws with `rename` (a single host's
 * `target.installDir` becomes `target[2].installDir`).
 */
export function withRenamedInputs<T>(build: () => T, rename: (input: string) => string): T {
    try {
        return build();
    } catch (e) {
        const renameOne = (err: InputError): InputError => {
            const to = rename(err.input);
            if (to === err.input) return err;
            const body = err.message.slice(err.input.length + 2);
            const at = body.lastIndexOf(". Fix: ");
            return at < 0 ? new InputError(to, body, "see the README") : new InputError(to, body.slice(0, at), body.slice(at + ". Fix: ".length));
        };
        if (e instanceof InputErrors) throw new InputErrors(e.errors.map(renameOne));
        if (e instanceof InputError) throw renameOne(e);
        throw e;
    }
}
