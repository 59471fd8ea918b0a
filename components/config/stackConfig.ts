/**
 * Typed, validated stack configuration for the program in index.ts. Pure apart from the Output type of
 * secrets: the reader is injected, so tests pass a plain object.
 *
 * Keys (namespace `mtls-nginx`):
 *   ca, server, clients, site, target, revocation, cadence      structured values (see README)
 *   rollout                                                    a fleet's rollout (with `target` a list of hosts)
 *   serverCertificatePem                                       a brought server certificate (plain)
 *   serverPrivateKeyPem, sshPrivateKey, clientPasswords        secrets (`pulumi config set --secret`)
 *
 * Errors name the config key, e.g. `mtls-nginx:clients[1].name: ...`.
 */
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import type { MtlsNginxArgs } from "../mtlsNginx";
import type { DockerTarget } from "../nginx/dockerTarget";
import type { FleetTargets } from "../fleet/hosts";
import type { HostTarget } from "../nginx/hostTarget";
import { InputError, InputErrors } from "../util/errors";

export const CONFIG_NAMESPACE = "mtls-nginx";

/** What the program reads config through (pulumi.Config in production, a stub in tests). */
export interface ConfigReader {
    getObject<T>(key: string): T | undefined;
    get(key: string): string | undefined;
    getSecret(key: string): pulumi.Output<string> | undefined;
    getSecretObject<T>(key: string): pulumi.Output<T> | undefined;
}

type Shape = "string" | "number" | "boolean" | "array" | "object" | "duration" | "any";
type Schema = { [key: string]: Shape | Schema | [Schema] };

const RENEWAL: Schema = { renewBefore: "duration", renewBeforePercentage: "number", keyRotation: "string" };
const CA: Schema = {
    commonName: "string",
    organization: "string",
    organizationalUnit: "string",
    country: "string",
    keyAlgorithm: "string",
    validity: "duration",
    renewal: RENEWAL,
    intermediate: "any",
    generation: "number",
};
const SERVER: Schema = {
    dnsNames: "array",
    ipAddresses: "array",
    commonName: "string",
    keyAlgorithm: "string",
    validity: "duration",
    renewal: RENEWAL,
    generation: "number",
    provided: "boolean",
};
const CLIENT: Schema = {
    name: "string",
    commonName: "string",
    organization: "string",
    organizationalUnit: "string",
    emailAddresses: "array",
    uris: "array",
    dnsNames: "array",
    keyAlgorithm: "string",
    validity: "duration",
    renewal: RENEWAL,
    generation: "number",
    pkcs12: { profile: "string", friendlyName: "string", includeRoot: "boolean" },
};
const SITE: Schema = {
    siteName: "string",
    serverNames: "array",
    listen: { address: "string", port: "number", http2: "boolean", ipv6Address: "string" },
    tlsProtocols: "string",
    verifyClient: "string",
    sessionCache: { sizeMb: "number", timeoutMinutes: "number" },
    hsts: "any",
    mode: { kind: "string", upstream: "string", forwardClientCertificate: "boolean", headerPrefix: "string", root: "string", index: "array" },
    locations: "array",
    allow: { subjectDns: "array", commonNames: "array", serials: "array", fingerprintsSha1: "array" },
    errorPages: "any",
};
const TARGET: Schema = {
    kind: "string",
    installDir: "string",
    nginx: { kind: "string", binary: "string", includeLink: "string", reload: "any", systemdUnit: "string", errorLog: "string", args: "array", errorLogLevel: "string" },
    sudo: "boolean",
    versionPolicy: "string",
    sharedListen: "boolean",
    liveCheck: { host: "string", timeoutSeconds: "number" },
    host: "string",
    port: "number",
    user: "string",
    // kind: docker (host is then the Docker host, e.g. ssh://deploy@docker.example.com)
    image: "string",
    containerName: "string",
    volumeName: "string",
    ports: [{ hostIp: "string", hostPort: "number", containerPort: "number" }],
    restart: "string",
    network: { name: "string", create: "boolean", aliases: "array" },
    logDriver: "string",
    logOpts: "any",
    readOnlyRootFilesystem: "boolean",
    privileged: "boolean",
    healthcheck: "any",
    dockerCli: "string",
    nginxBinary: "string",
};
/** One host of a list under `target` (a fleet): a host target with its name and, optionally, its own server names. */
const FLEET_HOST: Schema = { ...TARGET, name: "string", serverNames: "array" };
const ROLLOUT: Schema = { batchSize: "number", gate: "any" };
const REVOCATION: Schema = { enabled: "boolean", revocations: "array", revokeSuperseded: "boolean", crlValidity: "duration" };

function typeOf(value: unknown): string {
    return Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
}

function closest(word: string, options: string[]): string | undefined {
    const distance = (a: string, b: string) => {
        const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
        for (let j = 1; j <= b.length; j++) d[0][j] = j;
        for (let i = 1; i <= a.length; i++)
            for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        return d[a.length][b.length];
    };
    const best = options.map((o) => [o, distance(word.toLowerCase(), o.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
    return best && best[1] <= 3 ? best[0] : undefined;
}

function checkShape(value: unknown, schema: Schema, at: string, errors: InputError[]): void {
    if (typeOf(value) !== "object") {
        errors.push(new InputError(at, `expected an object, got ${typeOf(value)}`, "write a YAML mapping (key: value) under this key"));
        return;
    }
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        const expected = schema[key];
        const where = `${at}.${key}`;
        if (expected === undefined) {
            const hint = closest(key, Object.keys(schema));
            errors.push(new InputError(where, "unknown key", hint ? `did you mean ${JSON.stringify(hint)}?` : `use one of ${Object.keys(schema).join(", ")}`));
            continue;
        }
        if (v === undefined || v === null || expected === "any") continue;
        if (Array.isArray(expected)) {
            if (!Array.isArray(v)) errors.push(new InputError(where, `expected a list, got ${typeOf(v)}`, "write a YAML list"));
            else v.forEach((item, i) => checkShape(item, expected[0], `${where}[${i}]`, errors));
        } else if (typeof expected === "object") {
            checkShape(v, expected, where, errors);
        } else if (expected === "duration") {
            if (typeof v !== "string") errors.push(new InputError(where, `expected a duration string, got ${typeOf(v)}`, 'quote it, e.g. "90d" or "2160h"'));
        } else if (typeOf(v) !== expected) {
            errors.push(new InputError(where, `expected ${expected === "array" ? "a list" : `a ${expected}`}, got ${typeOf(v)}`, `write a ${expected === "array" ? "YAML list" : expected}`));
        }
    }
}

const ns = (key: string) => `${CONFIG_NAMESPACE}:${key}`;

/**
 * Reads and checks the stack config; relative directories are resolved against `projectDir`.
 * Throws InputError(s) naming `mtls-nginx:<key>...`.
 */
export function readStackConfig(config: ConfigReader, projectDir: string): MtlsNginxArgs {
    const errors: InputError[] = [];
    const object = (key: string, schema: Schema, required: boolean): Record<string, any> | undefined => {
        let value: unknown;
        try {
            value = config.getObject(key);
        } catch (e) {
            errors.push(new InputError(ns(key), `is not valid YAML/JSON (${(e as Error).message})`, "check the value in stacks/Pulumi.<stack>.yaml"));
            return undefined;
        }
        if (value === undefined) {
            if (required) errors.push(new InputError(ns(key), "is not set", `set it in stacks/Pulumi.<stack>.yaml (see stacks/Pulumi.dev.yaml for an example)`));
            return undefined;
        }
        checkShape(value, schema, ns(key), errors);
        return value as Record<string, any>;
    };

    const ca = object("ca", CA, true);
    const server = object("server", SERVER, true);
    const site = object("site", SITE, true);
    // `target`: one target, or a list of hosts (a fleet), each checked on its own.
    let target: Record<string, any> | Record<string, any>[] | undefined;
    let rawTarget: unknown;
    try {
        rawTarget = config.getObject<unknown>("target");
    } catch {
        rawTarget = undefined; // object() below reports it
    }
    if (Array.isArray(rawTarget)) {
        rawTarget.forEach((h, i) => checkShape(h, FLEET_HOST, `${ns("target")}[${i}]`, errors));
        target = rawTarget as Record<string, any>[];
    } else {
        target = object("target", TARGET, true);
    }
    const rollout = object("rollout", ROLLOUT, false);
    const revocation = object("revocation", REVOCATION, false);
    let clients: Record<string, any>[] = [];
    try {
        const raw = config.getObject<unknown>("clients");
        if (raw === undefined) {
            errors.push(new InputError(ns("clients"), "is not set", "list the clients, e.g. [{ name: alice }] (an empty list [] is allowed)"));
        } else if (!Array.isArray(raw)) {
            errors.push(new InputError(ns("clients"), `expected a list, got ${typeOf(raw)}`, "write a YAML list of clients, each with a name"));
        } else {
            raw.forEach((c, i) => checkShape(c, CLIENT, `${ns("clients")}[${i}]`, errors));
            clients = raw as Record<string, any>[];
        }
    } catch (e) {
        errors.push(new InputError(ns("clients"), `is not valid YAML/JSON (${(e as Error).message})`, "check the value in stacks/Pulumi.<stack>.yaml"));
    }
    const cadence = config.get("cadence");

    if (errors.length > 0) throw errors.length === 1 ? errors[0] : new InputErrors(errors);

    // Secrets live in their own keys, set with `pulumi config set --secret`.
    const passwords = config.getSecretObject<Record<string, string>>("clientPasswords");
    const clientArgs = clients.map((c) => ({
        ...c,
        ...(passwords ? { pkcs12: { ...c.pkcs12, password: passwords.apply((p) => p?.[c.name]) } } : {}),
    })) as MtlsNginxArgs["clients"];

    let serverArgs: MtlsNginxArgs["server"];
    if (server!.provided) {
        const certificatePem = config.get("serverCertificatePem");
        const privateKeyPem = config.getSecret("serverPrivateKeyPem");
        if (!certificatePem || !privateKeyPem) {
            throw new InputError(
                ns(certificatePem ? "serverPrivateKeyPem" : "serverCertificatePem"),
                "is not set, but server.provided is true",
                "run `pulumi config set serverCertificatePem -- \"$(cat fullchain.pem)\"` and `pulumi config set --secret serverPrivateKeyPem -- \"$(cat privkey.pem)\"`",
            );
        }
        serverArgs = { provided: { certificatePem, privateKeyPem } };
    } else {
        const { provided: _provided, ...issued } = server!;
        serverArgs = issued as MtlsNginxArgs["server"];
    }

    const hostTarget = (t: Record<string, any>, at: string): HostTarget | DockerTarget => {
        const installDir = typeof t.installDir === "string" && !path.isAbsolute(t.installDir) ? path.resolve(projectDir, t.installDir) : t.installDir;
        if (t.kind === "ssh") {
            const privateKey = config.getSecret("sshPrivateKey");
            if (!t.host || !t.user) {
                throw new InputError(ns(t.host ? `${at}.user` : `${at}.host`), "is required for an ssh target", `set ${at}.host and ${at}.user`);
            }
            if (!privateKey) {
                throw new InputError(ns("sshPrivateKey"), `is not set, but ${at}.kind is ssh`, "run `pulumi config set --secret sshPrivateKey -- \"$(cat ~/.ssh/id_ed25519)\"`");
            }
            const { host, port, user, ...rest } = t;
            return { ...(rest as object), kind: "ssh", installDir, connection: { host, port: port ?? 22, user, privateKey } } as HostTarget;
        } else if (t.kind === "docker") {
            // host is the Docker host (ssh://user@host...); installDir is a path in the container, taken as it is.
            return { ...(t as object) } as DockerTarget;
        }
        const { host: _h, port: _p, user: _u, ...rest } = t;
        return { ...(rest as object), installDir } as HostTarget;
    };
    // A list of hosts shares the SSH key (sshPrivateKey); each keeps its own name, connection and settings.
    const targetArgs: MtlsNginxArgs["target"] = Array.isArray(target) ? (target.map((t, i) => hostTarget(t, `target[${i}]`)) as FleetTargets) : hostTarget(target!, "target");

    return {
        ca: ca as MtlsNginxArgs["ca"],
        server: serverArgs,
        clients: clientArgs,
        site: site as MtlsNginxArgs["site"],
        target: targetArgs,
        revocation: revocation as MtlsNginxArgs["revocation"],
        ...(rollout !== undefined ? { rollout: rollout as MtlsNginxArgs["rollout"] } : {}),
        cadence,
    };
}

/** Runs `build`, re-throwing component input errors with the config namespace (`clients[1].name` -> `mtls-nginx:clients[1].name`). */
export function inConfigNamespace<T>(build: () => T): T {
    try {
        return build();
    } catch (e) {
        const prefix = (err: InputError) => (err.input.startsWith(`${CONFIG_NAMESPACE}:`) ? err : new InputError(ns(err.input), ...splitMessage(err)));
        if (e instanceof InputErrors) throw new InputErrors(e.errors.map(prefix));
        if (e instanceof InputError) throw prefix(e);
        throw e;
    }
}

function splitMessage(err: InputError): [string, string] {
    const body = err.message.slice(err.input.length + 2);
    const at = body.lastIndexOf(". Fix: ");
    return at < 0 ? [body, "see the README"] : [body.slice(0, at), body.slice(at + ". Fix: ".length)];
}
