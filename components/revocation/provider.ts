/**
 * The RevocationList dynamic provider: keeps a revocation ledger as its (secret) state and, on every
 * create/update, folds the program's declaration into it, signs the CRLs that need it and outputs the CRLs
 * and the trust bundle nginx needs.
 *
 * Self-contained: it calls only the pure functions of `./ledger` and `./crl` (captured by
 * `pulumi.runtime.serializeFunction`), which `require` their modules inside. It reads the time from
 * `MTLS_NGINX_CLOCK` (ISO-8601) when set, else the real clock, inside each method.
 *
 * The diff never asks for a replacement: a replacement would start a new ledger and lose the history of
 * what was issued and revoked.
 */
import type * as pulumi from "@pulumi/pulumi";
import { reconcile, crlsToSign, applySignedCrls, refreshAt, nextUpdate, nextDropAt, revokedList, retireAfterOf } from "./ledger";
import type { LedgerState, ExplicitRevocation, DeclaredCertificate } from "./ledger";
import { buildCrl } from "./crl";
import type { RevocationReason } from "./crl";

/** The provider's inputs (after `check`, every field is set). */
export interface RevocationListInputs {
    issuerCertPem: string;
    issuerKeyPem: string;
    issued: DeclaredCertificate[];
    revocations?: ExplicitRevocation[];
    revokeSuperseded?: boolean;
    crlValidityHours?: number;
    refreshFraction?: number;
}

/** The provider's outputs. */
export interface RevocationListOutputs {
    /** Every trusted CA's CRL (PEM, `X509 CRL`), concatenated, the current CA's first. */
    crlPem: string;
    /** The current CA certificate followed by the retired ones still trusted. */
    trustedCaPem: string;
    /** Earliest nextUpdate of the CRLs (ISO-8601): after it nginx refuses every client. */
    nextUpdate: string;
    /** When the next re-signing is due (ISO-8601): run `pulumi up` by then. */
    refreshAt: string;
    revoked: { serialHex: string; name: string; reason: RevocationReason; revokedAt: string; notAfter: string; issuerFingerprint: string }[];
    issuers: { fingerprint: string; subject: string; retired: boolean; retiredAt?: string; retireAfter?: string; crlNumber: number; crlNextUpdate: string }[];
    /** What this create/update did, in words. */
    changes: string[];
    /** Digest of the inputs the outputs were computed from (drives `diff`). */
    inputsDigest: string;
    /** The ledger, including the retired CAs' keys: SECRET. */
    state: LedgerState;
}

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function clockNow(): Date {
    const override = process.env.MTLS_NGINX_CLOCK;
    if (override) {
        const parsed = Date.parse(override);
        if (Number.isNaN(parsed)) {
            throw new Error(`MTLS_NGINX_CLOCK=${JSON.stringify(override)} is not an ISO-8601 time. Fix: unset it, or write e.g. 2027-03-01T00:00:00Z`);
        }
        return new Date(parsed);
    }
    return new Date();
}

/** Our own inputs only: `__provider` (the serialized provider) contains the sentinel text itself. */
function ownInputs(news: Record<string, unknown>): Record<string, unknown> {
    const { __provider: _ignored, ...rest } = news ?? {};
    return rest;
}

function containsUnknown(value: unknown): boolean {
    if (value === UNKNOWN) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (value !== null && typeof value === "object") return Object.values(value as Record<string, unknown>).some(containsUnknown);
    return false;
}

interface Normalized {
    issuerCertPem: string;
    issuerKeyPem: string;
    issued: DeclaredCertificate[];
    revocations: ExplicitRevocation[];
    revokeSuperseded: boolean;
    crlValidityHours: number;
    refreshFraction: number;
}

function normalize(inputs: Record<string, unknown>): Normalized {
    const revocations = ((inputs.revocations as ExplicitRevocation[] | undefined) ?? []).map((r) => {
        const out: ExplicitRevocation = { reason: r.reason };
        if (r.client !== undefined && r.client !== null) out.client = r.client;
        if (r.serial !== undefined && r.serial !== null) out.serial = r.serial;
        return out;
    });
    return {
        issuerCertPem: inputs.issuerCertPem as string,
        issuerKeyPem: inputs.issuerKeyPem as string,
        issued: ((inputs.issued as DeclaredCertificate[] | undefined) ?? []).map((i) => ({ name: i.name, certPem: i.certPem })),
        revocations,
        revokeSuperseded: (inputs.revokeSuperseded as boolean | undefined) ?? false,
        crlValidityHours: (inputs.crlValidityHours as number | undefined) ?? 168,
        refreshFraction: (inputs.refreshFraction as number | undefined) ?? 0.5,
    };
}

/** Order-insensitive digest of the inputs (names and revocations sorted). */
function digestOf(n: Normalized): string {
    const nodeCrypto: typeof import("crypto") = require("crypto");
    const canonical = {
        issuerCertPem: String(n.issuerCertPem ?? "").trim(),
        issuerKey: nodeCrypto.createHash("sha256").update(String(n.issuerKeyPem ?? "").trim()).digest("hex"),
        issued: n.issued.map((i) => [i.name, String(i.certPem).trim()]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
        revocations: n.revocations.map((r) => JSON.stringify([r.client ?? null, r.serial ?? null, r.reason])).sort(),
        revokeSuperseded: n.revokeSuperseded,
        crlValidityHours: n.crlValidityHours,
        refreshFraction: n.refreshFraction,
    };
    return nodeCrypto.createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

function problems(n: Normalized): { property: string; reason: string }[] {
    const reasons = ["unspecified", "keyCompromise", "caCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "privilegeWithdrawn"];
    const out: { property: string; reason: string }[] = [];
    if (typeof n.issuerCertPem !== "string" || !n.issuerCertPem.includes("BEGIN CERTIFICATE")) out.push({ property: "issuerCertPem", reason: "must be a PEM certificate" });
    if (typeof n.issuerKeyPem !== "string" || !/BEGIN (RSA |EC )?PRIVATE KEY/.test(n.issuerKeyPem)) out.push({ property: "issuerKeyPem", reason: "must be a PEM private key (PKCS#1, SEC1 or PKCS#8)" });
    // 8784 hours: a year, the longest CRL validity (components/util/limits.ts CRL_VALIDITY).
    if (!(typeof n.crlValidityHours === "number" && n.crlValidityHours > 0 && n.crlValidityHours <= 8784)) out.push({ property: "crlValidityHours", reason: "must be a number of hours above 0 and at most 8784 (a year)" });
    if (!(typeof n.refreshFraction === "number" && n.refreshFraction > 0 && n.refreshFraction < 1)) out.push({ property: "refreshFraction", reason: "must be between 0 and 1 (exclusive)" });
    n.revocations.forEach((r, i) => {
        if (!reasons.includes(r.reason)) out.push({ property: `revocations[${i}].reason`, reason: `must be one of ${reasons.join(", ")}` });
        if ((r.client === undefined) === (r.serial === undefined)) out.push({ property: `revocations[${i}]`, reason: "give exactly one of client or serial" });
        if (r.serial !== undefined && !/^[0-9a-fA-F]+(:[0-9a-fA-F]+)*$/.test(String(r.serial))) out.push({ property: `revocations[${i}].serial`, reason: "must be hex" });
    });
    return out;
}

async function produce(prevState: LedgerState | undefined, inputs: Record<string, unknown>): Promise<RevocationListOutputs> {
    const now = clockNow();
    const n = normalize(inputs);
    const bad = problems(n);
    if (bad.length) throw new Error(bad.map((p) => `${p.property}: ${p.reason}`).join("; "));
    const result = reconcile(
        prevState,
        {
            issuerCertPem: n.issuerCertPem,
            issuerKeyPem: n.issuerKeyPem,
            issued: n.issued,
            revocations: n.revocations,
            revokeSuperseded: n.revokeSuperseded,
            crlValidityMs: Math.round(n.crlValidityHours * 3600_000),
            refreshFraction: n.refreshFraction,
        },
        now,
    );
    const changes = [...result.changes];
    // MTLS_NGINX_CLOCK moves decisions, never stamps: a CRL dated later than the real time is "not yet
    // valid" to nginx, which then refuses every client.
    const stampAt = new Date(Math.min(now.getTime(), Date.now()));
    const todo = crlsToSign(result.state, now, stampAt);
    const signed = await Promise.all(todo.map(async (item) => ({ item, pem: await buildCrl(item.input) })));
    for (const { item } of signed) {
        const why = { first: "first CRL", content: "content changed", refresh: "refresh due", validity: "validity changed" }[item.why];
        changes.push(`signed CRL #${item.input.crlNumber} of CA ${item.fingerprint.replace(/:/g, "").slice(0, 16)} (${why}), next update ${item.input.nextUpdate.toISOString()}`);
    }
    const state = applySignedCrls(result.state, signed);
    return {
        crlPem: state.issuers.map((i) => (i.crl ? i.crl.pem.trim() + "\n" : "")).join(""),
        trustedCaPem: state.issuers.map((i) => i.certPem.trim() + "\n").join(""),
        nextUpdate: nextUpdate(state).toISOString(),
        refreshAt: refreshAt(state).toISOString(),
        revoked: revokedList(state, now),
        issuers: state.issuers.map((i, index) => {
            const entry: RevocationListOutputs["issuers"][number] = {
                fingerprint: i.fingerprint,
                subject: i.subject,
                retired: index > 0,
                crlNumber: i.crl ? i.crl.number : 0,
                crlNextUpdate: i.crl ? i.crl.nextUpdate : "",
            };
            if (index > 0) {
                if (i.retiredAt) entry.retiredAt = i.retiredAt;
                entry.retireAfter = retireAfterOf(i);
            }
            return entry;
        }),
        changes,
        inputsDigest: digestOf(n),
        state,
    };
}

export const revocationListProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds: any, news: any): Promise<pulumi.dynamic.CheckResult> {
        if (containsUnknown(ownInputs(news))) return { inputs: news };
        const n = normalize(news);
        const failures = problems(n);
        return { inputs: { ...news, revocations: n.revocations, revokeSuperseded: n.revokeSuperseded, crlValidityHours: n.crlValidityHours, refreshFraction: n.refreshFraction }, failures };
    },

    async diff(_id: string, olds: any, news: any): Promise<pulumi.dynamic.DiffResult> {
        const now = clockNow();
        const state = olds?.state as LedgerState | undefined;
        let changes = false;
        if (!state || !Array.isArray(state.issuers) || containsUnknown(ownInputs(news)) || olds.inputsDigest !== digestOf(normalize(news))) {
            changes = true;
        } else {
            const drop = nextDropAt(state);
            changes = now.getTime() >= refreshAt(state).getTime() || (drop !== undefined && now.getTime() > drop.getTime());
        }
        return { changes, replaces: [], deleteBeforeReplace: false };
    },

    async create(inputs: any): Promise<pulumi.dynamic.CreateResult> {
        const outs = await produce(undefined, inputs);
        const nodeCrypto: typeof import("crypto") = require("crypto");
        return { id: `revocation-${nodeCrypto.randomUUID()}`, outs };
    },

    async update(_id: string, olds: any, news: any): Promise<pulumi.dynamic.UpdateResult> {
        const prev = olds?.state as LedgerState | undefined;
        return { outs: await produce(prev && Array.isArray(prev.issuers) ? prev : undefined, news) };
    },

    async delete(): Promise<void> {
        // Nothing outside the state: the CRL files nginx reads belong to the Site that writes them.
    },
};
