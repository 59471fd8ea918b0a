/**
 * The revocation ledger (pure, synchronous, JSON-serializable state): what each CA issued, what replaced
 * what, what is revoked, and which CRL of which CA must be (re-)signed.
 *
 * The RevocationList dynamic provider keeps a {@link LedgerState} as its (secret) state and calls
 * {@link reconcile} on every create/update, then {@link crlsToSign} and {@link applySignedCrls}.
 *
 * Semantics (the product's rules):
 * - a certificate replaced under the same name (rotation/renewal) becomes *superseded*: still valid (its holder
 *   needs time to pick up the new bundle) unless `revokeSuperseded`, then revoked with reason `superseded`;
 * - a name that disappears from the declared list is never dropped silently: every unexpired certificate it
 *   ever had (current and superseded, under the current and retired CAs) is revoked with
 *   `cessationOfOperation`, or the reason of an explicit revocation naming that client;
 * - explicit revocations by serial or client name; revocation is permanent except `certificateHold`, which is
 *   released when the explicit revocation is removed from the program;
 * - a revoked certificate stays on its CA's CRL until its own notAfter has passed;
 * - CA rotation: the previous CA is *retired*, stays trusted and keeps a CRL signed with its own key until
 *   everything it issued has expired or been revoked (or it expires itself), then it is dropped;
 * - a CRL is re-signed (CRL Number + 1) when its content changes, when its validity setting changes, or once
 *   `refreshFraction` (default 1/2) of its validity has elapsed.
 *
 * Third-party and node modules are `require`d inside the functions so the provider can be serialized.
 */
import type { RevocationReason, BuildCrlInput, CrlEntry } from "./crl";
import { showValue } from "../util/errors";

/** Default CRL validity: 7 days. */
export const DEFAULT_CRL_VALIDITY_MS = 7 * 24 * 3600_000;
/** Default share of a CRL's validity after which it is re-signed. */
export const DEFAULT_REFRESH_FRACTION = 0.5;

/** Why a certificate is on a CRL and where the revocation came from. */
export interface RevocationRecord {
    reason: RevocationReason;
    /** ISO-8601. */
    revokedAt: string;
    /**
     * `explicit`: an explicit revocation in the program; `removed`: its name left the program;
     * `superseded`: replaced while `revokeSuperseded` was on.
     */
    source: "explicit" | "removed" | "superseded";
}

/** One certificate a CA issued, as the ledger knows it. */
export interface TrackedCertificate {
    /** Serial, uppercase hex, even length, no leading zero bytes (as OpenSSL prints it). */
    serialHex: string;
    /** Client name, or `intermediate` / `server` for other leaves; `""` for an external serial. */
    name: string;
    /** SHA-256 fingerprint of the certificate (`AB:CD:...`); `""` for an external serial. */
    fingerprint: string;
    /** ISO-8601. */
    notBefore: string;
    /** ISO-8601. For an external serial: the CA's notAfter. */
    notAfter: string;
    /** ISO-8601: when the ledger first saw it. */
    firstSeen: string;
    /** Declared in the program right now. */
    current: boolean;
    /** ISO-8601: when another certificate replaced it under the same name. */
    supersededAt?: string;
    revocation?: RevocationRecord;
    /** A serial revoked explicitly that the ledger never saw issued (kept until the CA expires). */
    external?: boolean;
    /** Past its notAfter (off every CRL); remembered only while declared or named by an explicit revocation. */
    expired?: boolean;
}

/** The last CRL signed for an issuer. */
export interface CrlRecord {
    /** CRL Number. */
    number: number;
    /** ISO-8601. */
    thisUpdate: string;
    /** ISO-8601. */
    nextUpdate: string;
    /** Digest of the entries it lists (to detect content changes). */
    contentDigest: string;
    pem: string;
}

/** A CA (current or retired) and its history. */
export interface IssuerRecord {
    /** SHA-256 fingerprint of the CA certificate (`AB:CD:...`). */
    fingerprint: string;
    /** Subject, one line (`CN=..., O=...`). */
    subject: string;
    /** SHA-256 of the CA's SubjectPublicKeyInfo (hex): CA certificates re-issued with the same key share it. */
    keyFingerprint?: string;
    certPem: string;
    /** The CA key (SECRET): retired CAs keep signing their CRL with it. */
    keyPem: string;
    /** ISO-8601. */
    notAfter: string;
    /** ISO-8601; absent for the current CA. */
    retiredAt?: string;
    certificates: TrackedCertificate[];
    crl?: CrlRecord;
}

/** The ledger (JSON-serializable; contains CA keys: keep it secret). */
export interface LedgerState {
    version: 1;
    crlValidityMs: number;
    refreshFraction: number;
    /** `issuers[0]` is the current CA; the others are retired, most recently retired first. */
    issuers: IssuerRecord[];
}

export interface DeclaredCertificate {
    /** Client name, or `intermediate` / `server` for non-client leaves. Unique. */
    name: string;
    certPem: string;
}

export interface ExplicitRevocation {
    /** Revoke every certificate of this name. Exactly one of `client` / `serial`. */
    client?: string;
    /** Revoke the certificate with this serial (hex). Exactly one of `client` / `serial`. */
    serial?: string;
    reason: RevocationReason;
}

export interface ReconcileInput {
    issuerCertPem: string;
    issuerKeyPem: string;
    /** Certificates currently declared in the program. */
    issued: DeclaredCertificate[];
    /** @default [] */
    revocations?: ExplicitRevocation[];
    /** @default false */
    revokeSuperseded?: boolean;
    /** @default 7 days */
    crlValidityMs?: number;
    /** @default 0.5 */
    refreshFraction?: number;
}

export interface ReconcileResult {
    state: LedgerState;
    /** Human-readable events, e.g. `revoked alice serial 0A1B (cessationOfOperation)`. */
    changes: string[];
}

/** A CRL that must be signed now. */
export interface CrlToSign {
    fingerprint: string;
    why: "first" | "content" | "refresh" | "validity";
    contentDigest: string;
    input: BuildCrlInput;
}

/** Normalizes a hex serial: uppercase, no separators, no leading zero bytes, even length. */
export function normalizeSerial(serial: string): string {
    let hex = String(serial).replace(/[:\s]/g, "").toUpperCase();
    if (!/^[0-9A-F]+$/.test(hex)) {
        throw new Error(`serial ${showValue(serial)} is not hex`);
    }
    hex = hex.replace(/^0+/, "");
    if (hex === "") hex = "0";
    return hex.length % 2 ? "0" + hex : hex;
}

interface ParsedCert {
    x509: import("crypto").X509Certificate;
    serialHex: string;
    fingerprint: string;
    subject: string;
    notBefore: string;
    notAfter: string;
}

function parseCert(pem: string, what: string): ParsedCert {
    const nodeCrypto: typeof import("crypto") = require("crypto");
    let cert: import("crypto").X509Certificate;
    try {
        cert = new nodeCrypto.X509Certificate(pem);
    } catch (e) {
        throw new Error(`${what}: not a PEM certificate (${(e as Error).message})`);
    }
    return {
        x509: cert,
        serialHex: normalizeSerial(cert.serialNumber),
        fingerprint: cert.fingerprint256,
        subject: cert.subject.split("\n").join(", "),
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
    };
}

function ms(iso: string): number {
    return new Date(iso).getTime();
}

function short(fp: string): string {
    return fp.replace(/:/g, "").slice(0, 16);
}

function label(c: TrackedCertificate): string {
    return c.external ? `serial ${c.serialHex}` : `${c.name} serial ${c.serialHex}`;
}

/** Still valid at `now` (notAfter is inclusive). */
function unexpired(c: { notAfter: string }, now: Date): boolean {
    return now.getTime() <= ms(c.notAfter);
}

/**
 * Folds the program's current declaration into the ledger. Pure and synchronous; `prev` is not modified.
 * Throws when a declared certificate was not issued by the current CA or a retired CA still tracked, or when
 * a name is declared twice.
 */
export function reconcile(prev: LedgerState | undefined, input: ReconcileInput, now: Date): ReconcileResult {
    const changes: string[] = [];
    const nowIso = now.toISOString();
    const state: LedgerState = prev
        ? (JSON.parse(JSON.stringify(prev)) as LedgerState)
        : { version: 1, crlValidityMs: DEFAULT_CRL_VALIDITY_MS, refreshFraction: DEFAULT_REFRESH_FRACTION, issuers: [] };
    state.crlValidityMs = input.crlValidityMs ?? DEFAULT_CRL_VALIDITY_MS;
    state.refreshFraction = input.refreshFraction ?? DEFAULT_REFRESH_FRACTION;
    if (!(state.crlValidityMs > 0)) throw new Error(`crlValidityMs must be positive, got ${state.crlValidityMs}`);
    if (!(state.refreshFraction > 0 && state.refreshFraction < 1)) throw new Error(`refreshFraction must be in (0, 1), got ${state.refreshFraction}`);

    // 1. The issuer: same, new (rotation), or a retired one coming back.
    const issuer = parseCert(input.issuerCertPem, "issuerCertPem");
    const currentIndex = state.issuers.findIndex((i) => i.fingerprint === issuer.fingerprint);
    if (currentIndex !== 0) {
        const previous = state.issuers[0];
        let record: IssuerRecord;
        if (currentIndex > 0) {
            record = state.issuers.splice(currentIndex, 1)[0];
            delete record.retiredAt;
            changes.push(`reinstated CA ${short(record.fingerprint)} (${record.subject})`);
        } else {
            record = {
                fingerprint: issuer.fingerprint,
                subject: issuer.subject,
                keyFingerprint: keyFingerprintOf(input.issuerCertPem),
                certPem: input.issuerCertPem,
                keyPem: input.issuerKeyPem,
                notAfter: issuer.notAfter,
                certificates: [],
            };
            if (previous) changes.push(`new CA ${short(record.fingerprint)} (${record.subject})`);
        }
        if (previous) {
            previous.retiredAt = nowIso;
            changes.push(`retired CA ${short(previous.fingerprint)} (${previous.subject}): stays trusted until what it issued expires or is revoked`);
        }
        state.issuers.unshift(record);
    }
    state.issuers[0].certPem = input.issuerCertPem;
    state.issuers[0].keyPem = input.issuerKeyPem;

    // 2. Declared certificates: find each one's issuer and track it.
    const nodeCrypto: typeof import("crypto") = require("crypto");
    const issuerCerts = state.issuers.map((i) => new nodeCrypto.X509Certificate(i.certPem));
    const declaredNames = new Set<string>();
    const declaredKeys = new Set<string>(); // `${issuerFp}/${serial}`
    input.issued.forEach((declared, i) => {
        const what = `issued[${i}] (${declared.name})`;
        if (typeof declared.name !== "string" || declared.name === "") {
            throw new Error(`issued[${i}].name must be a non-empty string`);
        }
        if (declaredNames.has(declared.name)) {
            throw new Error(`${what}: the name ${showValue(declared.name)} is declared twice; names identify certificate holders and must be unique`);
        }
        declaredNames.add(declared.name);
        const cert = parseCert(declared.certPem, what);
        // Where it is already tracked (a CA certificate re-issued with the same key verifies it too), else the
        // first CA (current first) that issued it.
        let at = state.issuers.findIndex((i) => i.certificates.some((c) => c.serialHex === cert.serialHex && c.fingerprint === cert.fingerprint));
        if (at < 0) at = issuerCerts.findIndex((ca) => cert.x509.checkIssued(ca) && cert.x509.verify(ca.publicKey));
        if (at < 0) {
            throw new Error(`${what}: certificate serial ${cert.serialHex} (${cert.subject}) was not issued by the current CA or by a retired CA still tracked`);
        }
        const record = state.issuers[at];
        declaredKeys.add(`${record.fingerprint}/${cert.serialHex}`);
        const tracked = record.certificates.find((c) => c.serialHex === cert.serialHex);
        if (tracked) {
            if (tracked.name !== declared.name) {
                changes.push(`renamed ${label(tracked)} to ${declared.name}`);
                tracked.name = declared.name;
            }
            if (!tracked.current && tracked.supersededAt) {
                changes.push(`${declared.name} serial ${cert.serialHex} is declared again (no longer superseded)`);
                delete tracked.supersededAt;
            }
            tracked.current = true;
            delete tracked.external;
            tracked.fingerprint = cert.fingerprint;
            tracked.notBefore = cert.notBefore;
            tracked.notAfter = cert.notAfter;
        } else {
            record.certificates.push({
                serialHex: cert.serialHex,
                name: declared.name,
                fingerprint: cert.fingerprint,
                notBefore: cert.notBefore,
                notAfter: cert.notAfter,
                firstSeen: nowIso,
                current: true,
            });
            changes.push(`tracking ${declared.name} serial ${cert.serialHex} (CA ${short(record.fingerprint)})`);
        }
    });

    const all = (): { issuer: IssuerRecord; cert: TrackedCertificate }[] =>
        state.issuers.flatMap((issuerRecord) => issuerRecord.certificates.map((cert) => ({ issuer: issuerRecord, cert })));

    const revoke = (cert: TrackedCertificate, reason: RevocationReason, source: RevocationRecord["source"]): void => {
        if (cert.revocation) {
            if (cert.revocation.reason !== reason && source === "explicit" && reason === "certificateHold") {
                // RFC 5280: a hold is the only reversible revocation; a revoked certificate cannot be put on hold.
                changes.push(`${label(cert)} stays revoked as ${cert.revocation.reason}: a revoked certificate cannot be put on hold`);
                return;
            }
            if (cert.revocation.reason !== reason && source === "explicit") {
                changes.push(`reason for ${label(cert)} changed from ${cert.revocation.reason} to ${reason}`);
                cert.revocation.reason = reason;
                cert.revocation.source = "explicit";
            }
            return;
        }
        cert.revocation = { reason, revokedAt: nowIso, source };
        changes.push(`revoked ${label(cert)} (${reason})`);
    };

    // 3. Explicit revocations (before removals, so an explicit reason wins over cessationOfOperation).
    const revocations = input.revocations ?? [];
    const explicitSerials = new Map<string, RevocationReason>();
    const explicitClients = new Map<string, RevocationReason>();
    revocations.forEach((r, i) => {
        const hasClient = typeof r.client === "string" && r.client !== "";
        const hasSerial = typeof r.serial === "string" && r.serial !== "";
        if (hasClient === hasSerial) {
            throw new Error(`revocations[${i}]: give exactly one of client or serial`);
        }
        if (hasSerial) explicitSerials.set(normalizeSerial(r.serial as string), r.reason);
        else explicitClients.set(r.client as string, r.reason);
    });
    for (const [serial, reason] of explicitSerials) {
        const matches = all().filter(({ cert }) => cert.serialHex === serial);
        if (matches.length === 0) {
            const current = state.issuers[0];
            const external: TrackedCertificate = {
                serialHex: serial,
                name: "",
                fingerprint: "",
                notBefore: nowIso,
                notAfter: current.notAfter,
                firstSeen: nowIso,
                current: false,
                external: true,
            };
            current.certificates.push(external);
            revoke(external, reason, "explicit");
            changes.push(`serial ${serial} is unknown to the ledger: listed on the CRL of CA ${short(current.fingerprint)} until that CA expires`);
        }
        for (const { cert } of matches) {
            if (unexpired(cert, now)) revoke(cert, reason, "explicit");
        }
    }
    for (const [client, reason] of explicitClients) {
        const matches = all().filter(({ cert }) => cert.name === client && !cert.external);
        if (matches.length === 0) {
            changes.push(`revocation for client ${showValue(client)} matched no tracked certificate`);
        }
        for (const { cert } of matches) {
            if (unexpired(cert, now)) revoke(cert, reason, "explicit");
        }
    }

    // 4. Current certificates no longer declared: superseded (name still declared) or removed (name gone).
    for (const { issuer: record, cert } of all()) {
        if (!cert.current || declaredKeys.has(`${record.fingerprint}/${cert.serialHex}`)) continue;
        cert.current = false;
        if (declaredNames.has(cert.name)) {
            cert.supersededAt = nowIso;
            if (!cert.revocation) {
                changes.push(
                    input.revokeSuperseded
                        ? `superseded ${label(cert)}`
                        : `superseded ${label(cert)}: still valid until ${cert.notAfter} (revokeSuperseded is off)`,
                );
            }
        }
    }
    const removedNames = new Set<string>();
    for (const { cert } of all()) {
        if (!cert.external && cert.name !== "" && !declaredNames.has(cert.name)) removedNames.add(cert.name);
    }
    // (A name an explicit revocation names was revoked with that reason in step 3; revoke() keeps it.)
    for (const name of removedNames) {
        for (const { cert } of all()) {
            if (cert.name !== name || cert.external) continue;
            cert.current = false;
            if (unexpired(cert, now)) revoke(cert, "cessationOfOperation", "removed");
        }
    }

    // 5. revokeSuperseded: every replaced, still valid certificate.
    if (input.revokeSuperseded) {
        for (const { cert } of all()) {
            if (!cert.current && cert.supersededAt && !cert.revocation && unexpired(cert, now)) revoke(cert, "superseded", "superseded");
        }
    }

    // 6. certificateHold is the one reversible revocation: released when no explicit revocation asks for it.
    for (const record of state.issuers) {
        record.certificates = record.certificates.filter((cert) => {
            const r = cert.revocation;
            if (!r || r.reason !== "certificateHold" || r.source !== "explicit") return true;
            const still = explicitSerials.get(cert.serialHex) === "certificateHold" || (cert.name !== "" && explicitClients.get(cert.name) === "certificateHold");
            if (still) return true;
            if (!cert.external && !declaredNames.has(cert.name)) {
                // Its holder left the program meanwhile: the hold becomes a cessation of operation.
                r.reason = "cessationOfOperation";
                r.source = "removed";
                changes.push(`hold on ${label(cert)} turned into cessationOfOperation (name no longer declared)`);
                return true;
            }
            delete cert.revocation;
            changes.push(`released hold on ${label(cert)}`);
            return !cert.external;
        });
    }

    // 7. Forget what expired (a revoked serial leaves the CRL after its notAfter). A certificate that an explicit
    //    revocation still names is remembered (marked expired), so that revocation is not mistaken for one of an
    //    unknown serial and put back on a CRL.
    for (const record of state.issuers) {
        record.certificates = record.certificates.filter((cert) => {
            if (unexpired(cert, now)) return true;
            if (!cert.expired) {
                if (cert.revocation) changes.push(`dropped ${label(cert)} from the CRL of CA ${short(record.fingerprint)}: expired ${cert.notAfter}`);
                else if (cert.supersededAt) changes.push(`stopped tracking superseded ${label(cert)}: expired ${cert.notAfter}`);
            }
            if (cert.current || explicitSerials.has(cert.serialHex)) {
                cert.expired = true;
                return true;
            }
            return false;
        });
    }

    // 8. Drop retired CAs nobody can use any more: expired, or nothing it issued is both unexpired and unrevoked.
    state.issuers = state.issuers.filter((record, index) => {
        if (index === 0) return true;
        const caValid = unexpired(record, now);
        if (caValid && usableCertificates(record).some((c) => unexpired(c, now))) return true;
        const why = caValid ? "everything it issued has expired or been revoked" : "it expired";
        changes.push(`dropped retired CA ${short(record.fingerprint)} (${record.subject}): ${why}`);
        return false;
    });

    return { state, changes };
}

function usableCertificates(record: IssuerRecord): TrackedCertificate[] {
    return record.certificates.filter((c) => !c.revocation && !c.external);
}

/**
 * When a retired CA can be dropped (ISO-8601; it is dropped once this has passed): the CA's notAfter, or the
 * last notAfter of its certificates that are not revoked, whichever comes first. For a CA with no usable
 * certificate left: its retirement time (it is dropped at the next reconcile).
 */
export function retireAfterOf(record: IssuerRecord): string {
    const usable = usableCertificates(record).map((c) => ms(c.notAfter));
    const last = usable.length ? Math.max(...usable) : ms(record.retiredAt ?? record.notAfter);
    return new Date(Math.min(last, ms(record.notAfter))).toISOString();
}

function keyFingerprintOf(certPem: string): string {
    const nodeCrypto: typeof import("crypto") = require("crypto");
    const spki = new nodeCrypto.X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
    return nodeCrypto.createHash("sha256").update(spki).digest("hex");
}

/**
 * The entries the CA's CRL must list at `now`, sorted by serial.
 *
 * With `state`: CA certificates of the same name and key (a CA certificate re-issued with its old key) list
 * the union of their revocations. Their CRLs carry the same issuer name and Authority Key Identifier, so
 * OpenSSL takes whichever is most recent for a certificate of either; a revocation on only one of them would
 * be missed (measured with OpenSSL 3.0).
 */
export function crlEntries(record: IssuerRecord, now: Date, state?: LedgerState): CrlEntry[] {
    let certificates = record.certificates;
    if (state) {
        const key = record.keyFingerprint ?? keyFingerprintOf(record.certPem);
        const group = state.issuers.filter((i) => i === record || (i.subject === record.subject && (i.keyFingerprint ?? keyFingerprintOf(i.certPem)) === key));
        const seen = new Set<string>();
        certificates = group
            .flatMap((i) => i.certificates)
            .filter((c) => {
                if (!c.revocation || seen.has(c.serialHex)) return false;
                seen.add(c.serialHex);
                return true;
            });
    }
    return certificates
        .filter((c) => c.revocation && unexpired(c, now))
        .map((c) => ({ serialHex: c.serialHex, revokedAt: (c.revocation as RevocationRecord).revokedAt, reason: (c.revocation as RevocationRecord).reason }))
        .sort((a, b) => (a.serialHex.length - b.serialHex.length) || (a.serialHex < b.serialHex ? -1 : a.serialHex > b.serialHex ? 1 : 0));
}

function contentDigest(record: IssuerRecord, entries: CrlEntry[]): string {
    const nodeCrypto: typeof import("crypto") = require("crypto");
    return nodeCrypto.createHash("sha256").update(JSON.stringify([record.fingerprint, entries])).digest("hex");
}

/** How far thisUpdate is set before the signing time. */
export const CRL_BACKDATE_MS = 5 * 60_000;

function crlRefreshAtMs(crl: CrlRecord, fraction: number): number {
    const start = ms(crl.thisUpdate);
    return start + (ms(crl.nextUpdate) - start) * fraction;
}

/**
 * The CRLs to sign at `now`, with everything {@link buildCrl} needs: CAs without a CRL, whose content
 * changed, whose validity setting changed, or whose refresh time has come. CRL Number = previous + 1.
 * `stampAt` dates them (thisUpdate, nextUpdate): the real time when `now` is a moved clock ahead of it,
 * since nginx refuses every client while a CRL is "not yet valid".
 */
export function crlsToSign(state: LedgerState, now: Date, stampAt: Date = now): CrlToSign[] {
    const todo: CrlToSign[] = [];
    for (const record of state.issuers) {
        const entries = crlEntries(record, now, state);
        const digest = contentDigest(record, entries);
        const crl = record.crl;
        let why: CrlToSign["why"] | undefined;
        if (!crl) why = "first";
        else if (crl.contentDigest !== digest) why = "content";
        else if (ms(crl.nextUpdate) - ms(crl.thisUpdate) !== state.crlValidityMs) why = "validity";
        else if (now.getTime() >= crlRefreshAtMs(crl, state.refreshFraction)) why = "refresh";
        if (!why) continue;
        todo.push({
            fingerprint: record.fingerprint,
            why,
            contentDigest: digest,
            input: {
                issuerCertPem: record.certPem,
                issuerKeyPem: record.keyPem,
                entries,
                crlNumber: (crl?.number ?? 0) + 1,
                // Backdated a little, so an nginx whose clock lags the signer's does not see a CRL
                // that is "not yet valid" (which refuses every client).
                thisUpdate: new Date(stampAt.getTime() - CRL_BACKDATE_MS),
                nextUpdate: new Date(stampAt.getTime() - CRL_BACKDATE_MS + state.crlValidityMs),
            },
        });
    }
    return todo;
}

/** Records signed CRLs (the PEMs {@link buildCrl} returned for {@link crlsToSign}'s items) in a new state. */
export function applySignedCrls(state: LedgerState, signed: { item: CrlToSign; pem: string }[]): LedgerState {
    const next = JSON.parse(JSON.stringify(state)) as LedgerState;
    for (const { item, pem } of signed) {
        const record = next.issuers.find((i) => i.fingerprint === item.fingerprint);
        if (!record) throw new Error(`applySignedCrls: no issuer ${item.fingerprint} in the ledger`);
        record.crl = {
            number: item.input.crlNumber,
            thisUpdate: item.input.thisUpdate.toISOString(),
            nextUpdate: item.input.nextUpdate.toISOString(),
            contentDigest: item.contentDigest,
            pem,
        };
    }
    return next;
}

/** When the earliest CRL is due for re-signing; the epoch when some CA has no CRL yet. */
export function refreshAt(state: LedgerState): Date {
    if (state.issuers.length === 0 || state.issuers.some((i) => !i.crl)) return new Date(0);
    return new Date(Math.min(...state.issuers.map((i) => crlRefreshAtMs(i.crl as CrlRecord, state.refreshFraction))));
}

/** The earliest nextUpdate of the CRLs (after it, nginx refuses every client); the epoch when one is missing. */
export function nextUpdate(state: LedgerState): Date {
    if (state.issuers.length === 0 || state.issuers.some((i) => !i.crl)) return new Date(0);
    return new Date(Math.min(...state.issuers.map((i) => ms((i.crl as CrlRecord).nextUpdate))));
}

/**
 * The earliest time something can be dropped (a revoked entry leaving a CRL, a retired CA leaving the trust
 * bundle): after it, an update shrinks the outputs. Undefined when nothing is pending.
 */
export function nextDropAt(state: LedgerState): Date | undefined {
    const times: number[] = [];
    state.issuers.forEach((record, index) => {
        for (const c of record.certificates) if (c.revocation && !c.expired) times.push(ms(c.notAfter));
        if (index > 0) times.push(ms(retireAfterOf(record)));
    });
    return times.length ? new Date(Math.min(...times)) : undefined;
}

/** True when a certificate with this serial is revoked and still listed at `now` (any CA of the ledger). */
export function isRevoked(state: LedgerState, serialHex: string, now: Date): boolean {
    const serial = normalizeSerial(serialHex);
    return state.issuers.some((record) => record.certificates.some((c) => c.serialHex === serial && c.revocation !== undefined && unexpired(c, now)));
}

/** Every revoked certificate still listed at `now`, for outputs and reports. */
export function revokedList(
    state: LedgerState,
    now: Date,
): { serialHex: string; name: string; reason: RevocationReason; revokedAt: string; notAfter: string; issuerFingerprint: string }[] {
    return state.issuers.flatMap((record) =>
        record.certificates
            .filter((c) => c.revocation && unexpired(c, now))
            .map((c) => ({
                serialHex: c.serialHex,
                name: c.name,
                reason: (c.revocation as RevocationRecord).reason,
                revokedAt: (c.revocation as RevocationRecord).revokedAt,
                notAfter: c.notAfter,
                issuerFingerprint: record.fingerprint,
            })),
    );
}
