import * as pulumi from "@pulumi/pulumi";
import { InputError, showValue, throwIfAny } from "../util/errors";
import { timeWarnings } from "../util/clock";
import { CRL_VALIDITY, HOUR_MS } from "../util/limits";
import { REVOCATION_REASONS } from "./crl";
import type { RevocationReason } from "./crl";
import { revocationListProvider } from "./provider";
import type { LedgerState } from "./ledger";

/** A certificate the CA issued that the program declares right now. */
export interface IssuedCertificateArgs {
    /** Holder name: the client name, or `"intermediate"` / `"server"` for other leaves. Unique per list. */
    name: pulumi.Input<string>;
    /** The certificate (PEM). */
    certPem: pulumi.Input<string>;
}

/** An explicit revocation: exactly one of `client` / `serial`. */
export interface RevocationArgs {
    /**
     * Revoke every certificate this client ever had from this CA (current and superseded).
     * Remove the client from `issued` as well.
     * @default undefined (give `serial` instead)
     */
    client?: pulumi.Input<string>;
    /**
     * Revoke the certificate with this serial number (hex, `:` separators allowed), e.g. one whose key leaked.
     * @default undefined (give `client` instead)
     */
    serial?: pulumi.Input<string>;
    /**
     * RFC 5280 reason. `certificateHold` is the only reversible one: removing the revocation releases the hold.
     * @default none (required)
     */
    reason: pulumi.Input<RevocationReason>;
}

export interface RevocationListArgs {
    /**
     * The issuing CA certificate (PEM). Changing it (CA rotation) retires the previous CA: it stays trusted,
     * and its CRL keeps being re-signed with its own key, until everything it issued has expired or been revoked.
     * @default none (required)
     */
    issuerCertPem: pulumi.Input<string>;
    /**
     * The issuing CA private key (PEM: PKCS#1, SEC1 or PKCS#8; ECDSA P-256/P-384 or RSA). Stored as a secret.
     * @default none (required)
     */
    issuerKeyPem: pulumi.Input<string>;
    /**
     * Every certificate this CA issued that the program declares now. A name that disappears from this list has
     * all its certificates revoked (`cessationOfOperation`); a name whose certificate changes marks the old one
     * superseded.
     * @default none (required; may be empty)
     */
    issued: pulumi.Input<pulumi.Input<IssuedCertificateArgs>[]>;
    /**
     * Explicit revocations, by client name or by serial.
     * @default []
     */
    revocations?: pulumi.Input<pulumi.Input<RevocationArgs>[]>;
    /**
     * Revoke a certificate as soon as a newer one replaces it under the same name (reason `superseded`).
     * Off by default so holders have time to install the new bundle before the old one stops working.
     * @default false
     */
    revokeSuperseded?: pulumi.Input<boolean>;
    /**
     * How long each CRL is valid (nextUpdate - thisUpdate), in hours, at most 8784 (a year). nginx refuses every
     * client once a CRL has expired, so `pulumi up` must run at least every `crlValidityHours * refreshFraction` hours.
     * @default 168 (7 days)
     */
    crlValidityHours?: pulumi.Input<number>;
    /**
     * Share of a CRL's validity after which it is re-signed (an update is planned from then on).
     * @default 0.5
     */
    refreshFraction?: pulumi.Input<number>;
}

/** A revoked certificate still on a CRL. */
export interface RevokedCertificate {
    serialHex: string;
    name: string;
    reason: RevocationReason;
    revokedAt: string;
    notAfter: string;
    issuerFingerprint: string;
}

/** A CA this list keeps a CRL for. */
export interface TrustedIssuer {
    fingerprint: string;
    subject: string;
    retired: boolean;
    retiredAt?: string;
    retireAfter?: string;
    crlNumber: number;
    crlNextUpdate: string;
}

/** Longest CRL validity in hours (see CRL_VALIDITY). */
export const MAX_CRL_VALIDITY_HOURS = CRL_VALIDITY.maxMs / HOUR_MS;

function isPlain(value: unknown): boolean {
    return value !== undefined && value !== null && !pulumi.Output.isInstance(value) && !(value instanceof Promise);
}

/** Validates the plain (known at construction) inputs; Outputs are checked by the provider. */
export function validateRevocationListArgs(args: RevocationListArgs, path = "args"): void {
    const errors: InputError[] = [];
    if (!args || typeof args !== "object") {
        throw new InputError(path, "missing", "pass issuerCertPem, issuerKeyPem and issued");
    }
    for (const required of ["issuerCertPem", "issuerKeyPem", "issued"] as const) {
        if (args[required] === undefined || args[required] === null) {
            errors.push(new InputError(`${path}.${required}`, "is required", `pass the ${required === "issued" ? "list of certificates the CA issued (may be empty)" : "issuing CA's " + (required === "issuerKeyPem" ? "private key" : "certificate") + " PEM"}`));
        }
    }
    if (isPlain(args.issued) && Array.isArray(args.issued)) {
        const names = new Map<string, number>();
        args.issued.forEach((item, i) => {
            if (!isPlain(item) || typeof item !== "object") return;
            const name = (item as IssuedCertificateArgs).name;
            if (!isPlain(name)) return;
            if (typeof name !== "string" || name === "") {
                errors.push(new InputError(`${path}.issued[${i}].name`, "is empty", "give the holder's name (client name, or \"intermediate\" / \"server\")"));
            } else if (names.has(name)) {
                errors.push(new InputError(`${path}.issued[${i}].name`, `${showValue(name)} is also issued[${names.get(name)}].name`, "give each certificate holder a unique name; a renewed certificate replaces the old one under the same name"));
            } else {
                names.set(name, i);
            }
        });
    }
    if (isPlain(args.crlValidityHours)) {
        const hours = args.crlValidityHours as unknown;
        if (typeof hours !== "number" || !Number.isFinite(hours) || hours <= 0) {
            errors.push(new InputError(`${path}.crlValidityHours`, `${showValue(hours)} is not a positive number of hours`, "use e.g. 168 (7 days); CRLs are re-signed every crlValidityHours * refreshFraction hours"));
        } else if (hours > MAX_CRL_VALIDITY_HOURS) {
            errors.push(new InputError(`${path}.crlValidityHours`, `${hours} hours is longer than ${MAX_CRL_VALIDITY_HOURS} (${CRL_VALIDITY.maxLabel}), the longest ${CRL_VALIDITY.what} may be`, `use at most ${MAX_CRL_VALIDITY_HOURS}: ${CRL_VALIDITY.why}`));
        }
    }
    if (isPlain(args.refreshFraction)) {
        const f = args.refreshFraction as unknown;
        if (typeof f !== "number" || !(f > 0 && f < 1)) {
            errors.push(new InputError(`${path}.refreshFraction`, `${showValue(f)} is not between 0 and 1`, "use e.g. 0.5 (re-sign at half of the CRL's validity)"));
        }
    }
    if (isPlain(args.revokeSuperseded) && typeof args.revokeSuperseded !== "boolean") {
        errors.push(new InputError(`${path}.revokeSuperseded`, `${showValue(args.revokeSuperseded)} is not a boolean`, "use true or false"));
    }
    if (isPlain(args.revocations)) {
        if (!Array.isArray(args.revocations)) {
            errors.push(new InputError(`${path}.revocations`, "is not a list", "pass a list of { client | serial, reason }"));
        } else {
            args.revocations.forEach((item, i) => {
                if (!isPlain(item)) return;
                const at = `${path}.revocations[${i}]`;
                const r = item as RevocationArgs;
                if (typeof r !== "object") {
                    errors.push(new InputError(at, "is not an object", "write { client: \"alice\", reason: \"keyCompromise\" } or { serial: \"0A1B...\", reason: ... }"));
                    return;
                }
                const hasClient = r.client !== undefined && r.client !== null && r.client !== "";
                const hasSerial = r.serial !== undefined && r.serial !== null && r.serial !== "";
                if (hasClient === hasSerial) {
                    errors.push(new InputError(at, hasClient ? "gives both client and serial" : "gives neither client nor serial", "give exactly one: client (revokes all its certificates) or serial (revokes one certificate)"));
                }
                if (hasSerial && isPlain(r.serial) && (typeof r.serial !== "string" || !/^[0-9a-fA-F]+(:[0-9a-fA-F]+)*$/.test(r.serial))) {
                    errors.push(new InputError(`${at}.serial`, `${showValue(r.serial)} is not a hex serial number`, "copy the serial as `openssl x509 -noout -serial` prints it, e.g. 0A1B2C (colons allowed)"));
                }
                if (hasClient && isPlain(r.client) && typeof r.client !== "string") {
                    errors.push(new InputError(`${at}.client`, `${showValue(r.client)} is not a name`, "give the client's name as declared in the program"));
                }
                if (r.reason === undefined || r.reason === null) {
                    errors.push(new InputError(`${at}.reason`, "is required", `give one of ${REVOCATION_REASONS.join(", ")}`));
                } else if (isPlain(r.reason) && !REVOCATION_REASONS.includes(r.reason as RevocationReason)) {
                    errors.push(new InputError(`${at}.reason`, `${showValue(r.reason)} is not a revocation reason`, `use one of ${REVOCATION_REASONS.join(", ")}`));
                }
            });
        }
    }
    throwIfAny(errors);
}

/**
 * The CRLs and trust bundle of one issuing CA, kept fresh: a dynamic resource around the revocation ledger.
 *
 * Every `pulumi up` folds the declared certificates into the ledger, revokes what must be revoked and re-signs
 * each CRL whose content changed or that reached `refreshFraction` of its validity. A preview shows an update
 * once a refresh is due (or once a revoked entry or a retired CA can be dropped).
 *
 * nginx checks a CRL for every CA of the chain (it uses crl_check_all) and refuses every client once one of
 * them has expired or is missing. So: one RevocationList per CA, the root's included (its `issued` lists the
 * intermediate as `"intermediate"`, and a server certificate it signed as `"server"`); concatenate all their
 * `crlPem` into `ssl_crl`, put the root and every `trustedCaPem` into `ssl_client_certificate`, and reload
 * nginx, which reads both only at start or reload. Run `pulumi up` before `refreshAt`, and in any case
 * before `nextUpdate`.
 */
export class RevocationList extends pulumi.dynamic.Resource {
    /** Every trusted CA's CRL (PEM), the current CA's first. */
    declare public readonly crlPem: pulumi.Output<string>;
    /** The current CA certificate followed by the retired ones still trusted (PEM). */
    declare public readonly trustedCaPem: pulumi.Output<string>;
    /** Earliest nextUpdate of the CRLs (ISO-8601): after it nginx refuses every client. */
    declare public readonly nextUpdate: pulumi.Output<string>;
    /** When the next re-signing is due (ISO-8601). */
    declare public readonly refreshAt: pulumi.Output<string>;
    /** The revoked certificates still listed. */
    declare public readonly revoked: pulumi.Output<RevokedCertificate[]>;
    /** The current CA and the retired ones still trusted. */
    declare public readonly issuers: pulumi.Output<TrustedIssuer[]>;
    /** What the last create/update did, in words. */
    declare public readonly changes: pulumi.Output<string[]>;
    /** The ledger (secret: it holds the retired CAs' keys). */
    declare public readonly state: pulumi.Output<LedgerState>;

    constructor(name: string, args: RevocationListArgs, opts?: pulumi.CustomResourceOptions) {
        validateRevocationListArgs(args);
        super(
            revocationListProvider,
            name,
            {
                issuerCertPem: args.issuerCertPem,
                issuerKeyPem: pulumi.secret(args.issuerKeyPem),
                issued: args.issued,
                revocations: args.revocations ?? [],
                revokeSuperseded: args.revokeSuperseded ?? false,
                crlValidityHours: args.crlValidityHours ?? 168,
                refreshFraction: args.refreshFraction ?? 0.5,
                crlPem: undefined,
                trustedCaPem: undefined,
                nextUpdate: undefined,
                refreshAt: undefined,
                revoked: undefined,
                issuers: undefined,
                changes: undefined,
                inputsDigest: undefined,
                state: undefined,
            },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["state"] }),
            "revocation",
            "RevocationList",
        );
        for (const warning of timeWarnings()) pulumi.log.warn(warning, this);
    }
}
