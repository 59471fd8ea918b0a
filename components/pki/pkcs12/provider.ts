/**
 * The Pkcs12Bundle dynamic provider: builds a PKCS#12 bundle from a key, its certificate and chain.
 *
 * Self-contained for `pulumi.runtime.serializeFunction`: no runtime import of @pulumi/pulumi (types
 * only), node:crypto is required inside the functions, and the pure helpers it calls (pfx.ts,
 * password.ts, util/errors.ts) follow the same rule, so the serializer captures them by value.
 *
 * State: the outputs keep a `digest` of the inputs instead of the private key, so a diff needs no
 * key material and random salts/IVs never cause a perpetual diff. A generated password is kept
 * across updates (key rotation, new chain, other profile) until the user supplies one.
 */
import type * as pulumi from "@pulumi/pulumi";
import { InputError } from "../../util/errors";
import { buildPkcs12, DEFAULT_PKCS12_PROFILE, defaultFriendlyName, Pkcs12Profile, splitPemCertificates } from "./pfx";
import { generatePkcs12Password, validatePkcs12FriendlyName, validatePkcs12Password, validatePkcs12Profile } from "./password";

/** What the engine sends for a value that is not known yet (preview). */
export const UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Bumped when the bundle layout changes, so existing bundles are rebuilt once. */
const DIGEST_VERSION = "mtls-nginx/pkcs12-bundle/v1";

/** Inputs of the provider (what Pkcs12Bundle registers). */
export interface Pkcs12ProviderInputs {
    privateKeyPem: string;
    certificatePem: string;
    /** Concatenated PEM CA certificates, leaf's issuer first; may be "". */
    chainPem?: string;
    /** User-supplied password; absent: a random one is generated at create and kept across updates. */
    password?: string;
    profile?: Pkcs12Profile;
    /** Absent or "": the certificate's subject CN. */
    friendlyName?: string;
}

/** Outputs (state) of the provider. */
export interface Pkcs12ProviderOutputs {
    pfxBase64: string;
    password: string;
    /** True when `password` was generated (and is therefore kept until the user supplies one). */
    passwordGenerated: boolean;
    profile: Pkcs12Profile;
    friendlyName: string;
    /** SHA-256 of the leaf certificate DER, lower-case hex. */
    certificateSha256: string;
    /** SHA-256 over the inputs (see `pkcs12InputsDigest`). */
    digest: string;
}

/** The password the user supplied, if any (null/undefined: none, so one is generated). */
function suppliedPassword(inputs: { password?: unknown }): string | undefined {
    return typeof inputs.password === "string" ? inputs.password : undefined;
}

/** The inputs the bundle depends on (not `__provider`). */
const INPUT_FIELDS = ["privateKeyPem", "certificatePem", "chainPem", "password", "profile", "friendlyName"];

/**
 * SHA-256 over (key, certificate, chain, profile, friendlyName, supplied password or a marker),
 * each field length-prefixed; line endings normalized so a CRLF copy of the same PEM is no change.
 */
export function pkcs12InputsDigest(inputs: Partial<Pkcs12ProviderInputs>): string {
    const crypto = require("crypto") as typeof import("crypto");
    const text = (value: unknown) => (typeof value === "string" ? value.replace(/\r\n/g, "\n").trim() : "");
    const password = suppliedPassword(inputs);
    const fields = [
        DIGEST_VERSION,
        text(inputs.privateKeyPem),
        text(inputs.certificatePem),
        text(inputs.chainPem),
        typeof inputs.profile === "string" && (inputs.profile as string) !== "" ? inputs.profile : DEFAULT_PKCS12_PROFILE,
        typeof inputs.friendlyName === "string" ? inputs.friendlyName : "",
        password === undefined ? "password:generated" : `password:supplied:${password}`,
    ];
    const hash = crypto.createHash("sha256");
    for (const field of fields) {
        const bytes = Buffer.from(field, "utf8");
        const length = Buffer.alloc(4);
        length.writeUInt32BE(bytes.length);
        hash.update(length).update(bytes);
    }
    return hash.digest("hex");
}

/**
 * True when a bundle built with the default friendlyName holds another name than the default gives now
 * (bundles built before the default was read from the certificate's ASN.1 hold `Doe\, Jane`): rebuild once.
 */
function defaultNameOutdated(olds: Record<string, any>, news: pulumi.Inputs): boolean {
    if (news.friendlyName || typeof olds.friendlyName !== "string" || typeof news.certificatePem !== "string") return false;
    try {
        return olds.friendlyName !== defaultFriendlyName(news.certificatePem);
    } catch {
        return false; // an unreadable certificate is reported by check and create
    }
}

function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN_SENTINEL) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
    return false;
}

/** Validation problems of (known) inputs, as check failures. */
function inputFailures(inputs: Record<string, unknown>): { property: string; reason: string }[] {
    const failures: { property: string; reason: string }[] = [];
    const known = (value: unknown) => value !== undefined && value !== null && !containsUnknown(value);
    const attempt = (property: string, fn: () => void) => {
        try {
            fn();
        } catch (e) {
            if (!(e instanceof InputError)) throw e;
            failures.push({ property, reason: e.message });
        }
    };
    if (known(inputs.profile)) attempt("profile", () => validatePkcs12Profile(inputs.profile, "profile"));
    if (known(inputs.password)) attempt("password", () => validatePkcs12Password(inputs.password, "password"));
    if (known(inputs.friendlyName) && inputs.friendlyName !== "") attempt("friendlyName", () => validatePkcs12FriendlyName(inputs.friendlyName, "friendlyName"));
    // Read the certificate now (and the default name it gives), rather than fail at create.
    const usesDefaultName = inputs.friendlyName === undefined || inputs.friendlyName === null || inputs.friendlyName === "";
    if (typeof inputs.certificatePem === "string" && inputs.certificatePem.trim() !== "" && !containsUnknown(inputs.certificatePem)) {
        attempt("certificatePem", () => {
            const name = defaultFriendlyName(inputs.certificatePem as string);
            if (usesDefaultName) validatePkcs12FriendlyName(name, "friendlyName");
        });
    }
    for (const property of ["privateKeyPem", "certificatePem"]) {
        const value = inputs[property];
        if (!containsUnknown(value) && (typeof value !== "string" || value.trim() === "")) {
            failures.push({ property, reason: `${property}: is required and must be a PEM string. Fix: pass the ${property === "privateKeyPem" ? "private key" : "certificate"} PEM` });
        }
    }
    if (known(inputs.chainPem) && typeof inputs.chainPem !== "string") {
        failures.push({ property: "chainPem", reason: 'chainPem: must be a string of concatenated PEM certificates. Fix: pass "" for no chain' });
    }
    return failures;
}

/** Builds the bundle and the outputs for known, checked inputs. */
function buildOutputs(inputs: Pkcs12ProviderInputs, password: string, passwordGenerated: boolean): Pkcs12ProviderOutputs {
    const crypto = require("crypto") as typeof import("crypto");
    const profile = validatePkcs12Profile(inputs.profile ?? DEFAULT_PKCS12_PROFILE, "profile");
    const friendlyName = inputs.friendlyName ? inputs.friendlyName : defaultFriendlyName(inputs.certificatePem);
    const chainText = inputs.chainPem ?? "";
    const chainPems = splitPemCertificates(chainText);
    if (chainPems.length === 0 && chainText.trim() !== "") {
        throw new InputError("chainPem", "holds text but no PEM certificate", 'pass concatenated -----BEGIN CERTIFICATE----- blocks, or "" for no chain');
    }
    const der = buildPkcs12({ privateKeyPem: inputs.privateKeyPem, certificatePem: inputs.certificatePem, chainPems, password, profile, friendlyName });
    const leafDer = new crypto.X509Certificate(inputs.certificatePem).raw;
    return {
        pfxBase64: der.toString("base64"),
        password,
        passwordGenerated,
        profile,
        friendlyName,
        certificateSha256: crypto.createHash("sha256").update(leafDer).digest("hex"),
        digest: pkcs12InputsDigest(inputs),
    };
}

export const pkcs12Provider: pulumi.dynamic.ResourceProvider = {
    async check(_olds: pulumi.Inputs, news: pulumi.Inputs): Promise<pulumi.dynamic.CheckResult> {
        const inputs: Record<string, unknown> = { ...news };
        if (inputs.profile === undefined || inputs.profile === null || inputs.profile === "") inputs.profile = DEFAULT_PKCS12_PROFILE;
        if (inputs.chainPem === undefined || inputs.chainPem === null) inputs.chainPem = "";
        if (inputs.password === null) delete inputs.password;
        const failures = inputFailures(inputs);
        return failures.length > 0 ? { inputs, failures } : { inputs };
    },

    async diff(_id: string, olds: Record<string, any>, news: pulumi.Inputs): Promise<pulumi.dynamic.DiffResult> {
        if (INPUT_FIELDS.some((field) => containsUnknown(news[field]))) {
            // Preview with inputs not known yet: say "update" (never replace); the real diff runs at update time.
            return { changes: true, replaces: [], deleteBeforeReplace: false };
        }
        if (typeof olds.digest === "string" && olds.digest === pkcs12InputsDigest(news) && !defaultNameOutdated(olds, news)) {
            return { changes: false };
        }
        const supplied = suppliedPassword(news);
        const passwordStays = supplied === undefined ? olds.passwordGenerated !== false && typeof olds.password === "string" : supplied === olds.password;
        return { changes: true, replaces: [], deleteBeforeReplace: false, stables: passwordStays ? ["password"] : [] };
    },

    async create(inputs: pulumi.Inputs): Promise<pulumi.dynamic.CreateResult> {
        const crypto = require("crypto") as typeof import("crypto");
        const supplied = suppliedPassword(inputs);
        const outs = buildOutputs(inputs as Pkcs12ProviderInputs, supplied ?? generatePkcs12Password(), supplied === undefined);
        return { id: `pkcs12-${crypto.randomUUID()}`, outs };
    },

    async update(_id: string, olds: Record<string, any>, news: pulumi.Inputs): Promise<pulumi.dynamic.UpdateResult> {
        const supplied = suppliedPassword(news);
        let password: string;
        let generated: boolean;
        if (supplied !== undefined) {
            password = supplied;
            generated = false;
        } else if (olds.passwordGenerated !== false && typeof olds.password === "string" && olds.password !== "") {
            // Keep the generated password: whoever imported the last bundle already has it.
            password = olds.password;
            generated = true;
        } else {
            // The user stopped supplying a password: generate one from now on.
            password = generatePkcs12Password();
            generated = true;
        }
        return { outs: buildOutputs(news as Pkcs12ProviderInputs, password, generated) };
    },
};
