/**
 * A faithful test double of the @pulumi/tls resources (terraform-provider-tls behind the Pulumi bridge).
 *
 * It turns the same inputs the real provider receives into REAL keys, CSRs and certificates, built
 * byte for byte the way the provider builds them with Go's crypto/x509 (extension set, order and
 * criticality, subject encoding, serial numbers, validity, key formats, resource ids). Sources it follows
 * (hashicorp/terraform-provider-tls, internal/provider/):
 *
 * - common_cert.go `createCertificate`: notBefore = now, notAfter = now + validity_period_hours,
 *   128-bit random serial, allowed_uses -> KeyUsage bits | ExtKeyUsage list (unknown names are ignored
 *   there, rejected earlier by the schema validator), is_ca_certificate -> IsCA + SubjectKeyId, max_path_length
 *   copied when >= 0, set_subject_key_id, set_authority_key_id (self-signed only), id = serial in decimal,
 *   validity_*_time = time.MarshalText (RFC 3339). `generateSubjectKeyID`: SHA-1 of asn1.Marshal(public key).
 *   `createSubjectDistinguishedNames`: one value per field, street addresses as a list, email as an extra
 *   IA5String attribute (1.2.840.113549.1.9.1).
 * - resource_self_signed_cert.go / resource_locally_signed_cert.go: template has BasicConstraintsValid = true;
 *   a locally signed certificate copies Subject, DNSNames, IPAddresses and URIs from the parsed CSR.
 * - resource_cert_request.go: x509.CreateCertificateRequest, id = hashForState(DER).
 * - resource_private_key.go / common_key.go: RSA (default 2048 bits) -> PKCS#1 "RSA PRIVATE KEY",
 *   ECDSA (default curve P224!) -> SEC1 "EC PRIVATE KEY", ED25519 -> PKCS#8 "PRIVATE KEY"; PKCS#8 copy,
 *   OpenSSH forms (empty for P224), id = hashForState(PKIX public key DER).
 * - common.go: hashForState = hex(SHA-1(strings.TrimSpace(value))).
 * Go's crypto/x509 rules reproduced: extension order (KU, EKU, BC, SKI, AKI, SAN), KeyUsage and
 * BasicConstraints critical, SAN critical only when the subject is empty, pathlen omitted when
 * MaxPathLen == 0 (the provider never sets MaxPathLenZero, so `maxPathLength: 0` yields NO pathlen
 * constraint), "only CAs are allowed to specify MaxPathLen", AKI taken from the parent's SKI when issuer !=
 * subject, PrintableString vs UTF8String chosen per value, UTCTime before 2050, SET OF sorted, signature
 * algorithm from the signer key (RSA: SHA256WithRSA; P224/P256: ECDSA-SHA256; P384: SHA384; P521: SHA512;
 * Ed25519), a CSR subject re-encoded from pkix.Name (so the CSR's emailAddress does NOT reach a locally
 * signed certificate).
 *
 * The "now" is MTLS_NGINX_CLOCK when set (ISO-8601), else the real clock (components/util/clock.ts).
 */
import * as crypto from "crypto";
import * as net from "net";
import type * as pulumi from "@pulumi/pulumi";
import { now as clockNow } from "../../components/util/clock";
import { pem } from "./x509";

type MockResourceArgs = pulumi.runtime.MockResourceArgs;
type MockResourceResult = pulumi.runtime.MockResourceResult;

export const TLS_PRIVATE_KEY = "tls:index/privateKey:PrivateKey";
export const TLS_SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert";
export const TLS_CERT_REQUEST = "tls:index/certRequest:CertRequest";
export const TLS_LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert";

/** The resource types the double handles. */
export const tlsDoubleTypes: readonly string[] = [TLS_PRIVATE_KEY, TLS_SELF_SIGNED_CERT, TLS_CERT_REQUEST, TLS_LOCALLY_SIGNED_CERT];

export function isTlsType(type: string): boolean {
    return tlsDoubleTypes.includes(type);
}

/** An error the real provider would report (a diagnostic), with the Terraform summary as prefix. */
export class TlsProviderError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TlsProviderError";
    }
}

// ---------------------------------------------------------------------------------------------
// Provider schema facts (defaults, validators, which changes force a new resource)
// ---------------------------------------------------------------------------------------------

/** Defaults the provider schema applies (so `undefined` and the default compare equal in a diff). */
const DEFAULTS: Record<string, Record<string, unknown>> = {
    [TLS_PRIVATE_KEY]: { rsaBits: 2048, ecdsaCurve: "P224" },
    [TLS_SELF_SIGNED_CERT]: { earlyRenewalHours: 0, isCaCertificate: false, setSubjectKeyId: false, setAuthorityKeyId: false },
    [TLS_CERT_REQUEST]: {},
    [TLS_LOCALLY_SIGNED_CERT]: { earlyRenewalHours: 0, isCaCertificate: false, setSubjectKeyId: false },
};

/**
 * Inputs whose change does NOT force replacement: early_renewal_hours has no RequiresReplace plan
 * modifier, so the framework plans an in-place Update, which just copies the plan into state
 * (`updatedUsingPlan`): the certificate is NOT re-issued. max_path_length does force a new certificate
 * and is null when unset (seen on the real engine: test/engine/engineFindings.test.ts).
 */
const UPDATABLE_IN_PLACE = new Set(["earlyRenewalHours"]);

/** Write-only inputs: never stored, never diffed; their `...WoVersion` companion is the change signal. */
const WRITE_ONLY = new Set(["privateKeyPemWo", "caPrivateKeyPemWo"]);

/** Computed outputs (never inputs): ignored when comparing old and new inputs. */
const COMPUTED: Record<string, string[]> = {
    [TLS_PRIVATE_KEY]: ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh", "publicKeyPem", "publicKeyOpenssh", "publicKeyFingerprintMd5", "publicKeyFingerprintSha256"],
    [TLS_SELF_SIGNED_CERT]: ["certPem", "keyAlgorithm", "readyForRenewal", "validityStartTime", "validityEndTime"],
    [TLS_CERT_REQUEST]: ["certRequestPem", "keyAlgorithm"],
    [TLS_LOCALLY_SIGNED_CERT]: ["certPem", "caKeyAlgorithm", "readyForRenewal", "validityStartTime", "validityEndTime"],
};

const KEY_USAGES: Record<string, number> = {
    digital_signature: 1 << 0,
    content_commitment: 1 << 1,
    key_encipherment: 1 << 2,
    data_encipherment: 1 << 3,
    key_agreement: 1 << 4,
    cert_signing: 1 << 5,
    crl_signing: 1 << 6,
    encipher_only: 1 << 7,
    decipher_only: 1 << 8,
};

const EXT_KEY_USAGES: Record<string, string> = {
    any_extended: "2.5.29.37.0",
    server_auth: "1.3.6.1.5.5.7.3.1",
    client_auth: "1.3.6.1.5.5.7.3.2",
    code_signing: "1.3.6.1.5.5.7.3.3",
    email_protection: "1.3.6.1.5.5.7.3.4",
    ipsec_end_system: "1.3.6.1.5.5.7.3.5",
    ipsec_tunnel: "1.3.6.1.5.5.7.3.6",
    ipsec_user: "1.3.6.1.5.5.7.3.7",
    timestamping: "1.3.6.1.5.5.7.3.8",
    ocsp_signing: "1.3.6.1.5.5.7.3.9",
    microsoft_server_gated_crypto: "1.3.6.1.4.1.311.10.3.3",
    netscape_server_gated_crypto: "2.16.840.1.113730.4.1",
    microsoft_commercial_code_signing: "1.3.6.1.4.1.311.2.1.22",
    microsoft_kernel_code_signing: "1.3.6.1.4.1.311.61.1.1",
};

const SUPPORTED_USAGES = [...Object.keys(KEY_USAGES), ...Object.keys(EXT_KEY_USAGES)].sort();

const CURVES: Record<string, { node: string; oid: string; ssh?: string; bytes: number }> = {
    P224: { node: "secp224r1", oid: "1.3.132.0.33", bytes: 28 },
    P256: { node: "prime256v1", oid: "1.2.840.10045.3.1.7", ssh: "nistp256", bytes: 32 },
    P384: { node: "secp384r1", oid: "1.3.132.0.34", ssh: "nistp384", bytes: 48 },
    P521: { node: "secp521r1", oid: "1.3.132.0.35", ssh: "nistp521", bytes: 66 },
};

const NODE_CURVE_TO_NAME: Record<string, string> = { secp224r1: "P224", prime256v1: "P256", secp384r1: "P384", secp521r1: "P521" };

// ---------------------------------------------------------------------------------------------
// Minimal DER writer / reader
// ---------------------------------------------------------------------------------------------

function derLength(n: number): Buffer {
    if (n < 0x80) return Buffer.from([n]);
    const bytes: number[] = [];
    while (n > 0) {
        bytes.unshift(n & 0xff);
        n = Math.floor(n / 256);
    }
    return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
    return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
/** DER SET OF: elements sorted by their encodings (Go's encoding/asn1 does the same). */
const setOf = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat([...items].sort(Buffer.compare)));
const octetString = (b: Buffer): Buffer => tlv(0x04, b);
const derNull = (): Buffer => Buffer.from([0x05, 0x00]);
const derBool = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 | n, content);

function bitString(bytes: Buffer, unusedBits = 0): Buffer {
    return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/** INTEGER from unsigned big-endian bytes: minimal two's complement, positive. */
function derUInt(bytes: Buffer): Buffer {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let b = bytes.subarray(i);
    if (b.length === 0) b = Buffer.from([0]);
    if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return tlv(0x02, b);
}

function derSmallInt(n: number): Buffer {
    if (n < 0) throw new Error("negative INTEGER not supported");
    let hex = n.toString(16);
    if (hex.length % 2) hex = "0" + hex;
    return derUInt(Buffer.from(hex, "hex"));
}

function bigintToBytes(v: bigint): Buffer {
    let hex = v.toString(16);
    if (hex.length % 2) hex = "0" + hex;
    return Buffer.from(hex, "hex");
}

function oid(dotted: string): Buffer {
    const parts = dotted.split(".").map((p) => BigInt(p));
    const out: number[] = [];
    const first = parts[0] * 40n + parts[1];
    for (const arc of [first, ...parts.slice(2)]) {
        const stack: number[] = [Number(arc & 0x7fn)];
        let rest = arc >> 7n;
        while (rest > 0n) {
            stack.unshift(Number((rest & 0x7fn) | 0x80n));
            rest >>= 7n;
        }
        out.push(...stack);
    }
    return tlv(0x06, Buffer.from(out));
}

function oidToString(content: Buffer): string {
    const arcs: bigint[] = [];
    let value = 0n;
    for (const byte of content) {
        value = (value << 7n) | BigInt(byte & 0x7f);
        if (!(byte & 0x80)) {
            arcs.push(value);
            value = 0n;
        }
    }
    const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
    const second = arcs[0] - first * 40n;
    return [first, second, ...arcs.slice(1)].map(String).join(".");
}

interface DerNode {
    tag: number;
    /** Offset of the tag byte in `buf`. */
    start: number;
    /** Offset of the first content byte. */
    contentStart: number;
    end: number;
    buf: Buffer;
}

function derRead(buf: Buffer, offset = 0): DerNode {
    if (offset + 2 > buf.length) throw new Error("truncated DER");
    const tag = buf[offset];
    if ((tag & 0x1f) === 0x1f) throw new Error("high-tag-number DER not supported");
    let lenByte = buf[offset + 1];
    let contentStart = offset + 2;
    let length: number;
    if (lenByte < 0x80) {
        length = lenByte;
    } else {
        lenByte &= 0x7f;
        if (lenByte === 0 || lenByte > 4) throw new Error("unsupported DER length");
        length = 0;
        for (let i = 0; i < lenByte; i++) length = length * 256 + buf[offset + 2 + i];
        contentStart += lenByte;
    }
    const end = contentStart + length;
    if (end > buf.length) throw new Error("truncated DER");
    return { tag, start: offset, contentStart, end, buf };
}

const derContent = (n: DerNode): Buffer => n.buf.subarray(n.contentStart, n.end);
const derRaw = (n: DerNode): Buffer => n.buf.subarray(n.start, n.end);

function derChildren(n: DerNode): DerNode[] {
    const out: DerNode[] = [];
    let off = n.contentStart;
    while (off < n.end) {
        const child = derRead(n.buf, off);
        out.push(child);
        off = child.end;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Go helpers
// ---------------------------------------------------------------------------------------------

/** Go strings.TrimSpace over raw bytes (ASCII whitespace, plus Unicode spaces when validly encoded). */
function goTrimSpace(b: Buffer): Buffer {
    const asciiSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
    const unicodeSpaces = new Set([0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);
    const spaceRuneAt = (buf: Buffer, i: number, forward: boolean): number => {
        // returns the byte length of a whitespace rune starting (forward) or ending (backward) at i, else 0
        if (asciiSpace(buf[i])) return 1;
        for (const size of [2, 3]) {
            const s = forward ? i : i - size + 1;
            if (s < 0 || s + size > buf.length) continue;
            const slice = buf.subarray(s, s + size);
            const text = slice.toString("utf8");
            if (Buffer.from(text, "utf8").equals(slice) && [...text].length === 1 && unicodeSpaces.has(text.codePointAt(0)!)) return size;
        }
        return 0;
    };
    let start = 0;
    let end = b.length;
    for (let n; start < end && (n = spaceRuneAt(b, start, true)) > 0; ) start += n;
    for (let n; end > start && (n = spaceRuneAt(b, end - 1, false)) > 0; ) end -= n;
    return b.subarray(start, end);
}

/** hashForState (common.go): hex SHA-1 of the TrimSpace'd value; "" for "". */
function hashForState(value: Buffer): string {
    if (value.length === 0) return "";
    return crypto.createHash("sha1").update(goTrimSpace(value)).digest("hex");
}

/** Go's encoding/asn1 PrintableString test used when marshalling a plain string. */
function isGoPrintable(s: string): boolean {
    for (const ch of s) {
        const c = ch.codePointAt(0)!;
        const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || (c >= 0x27 && c <= 0x29) || (c >= 0x2b && c <= 0x2f) || c === 0x20 || c === 0x3a || c === 0x3d || c === 0x3f;
        if (!ok) return false;
    }
    return true;
}

function goStringValue(s: string): Buffer {
    return isGoPrintable(s) ? tlv(0x13, Buffer.from(s, "latin1")) : tlv(0x0c, Buffer.from(s, "utf8"));
}

function isIA5(s: string): boolean {
    for (const ch of s) if (ch.codePointAt(0)! > 0x7f) return false;
    return true;
}

/** Go time.Time.MarshalText (RFC 3339 with trimmed fractional seconds), in UTC. */
function rfc3339(d: Date): string {
    return d.toISOString().replace(/\.000Z$/, "Z").replace(/(\.\d*?)0+Z$/, "$1Z");
}

function asn1Time(d: Date): Buffer {
    const y = d.getUTCFullYear();
    const p = (n: number, w = 2) => String(n).padStart(w, "0");
    const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
    if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(`${p(y % 100)}${rest}`, "latin1"));
    return tlv(0x18, Buffer.from(`${p(y, 4)}${rest}`, "latin1"));
}

// ---------------------------------------------------------------------------------------------
// Names (pkix.Name) and SANs
// ---------------------------------------------------------------------------------------------

const OID_CN = "2.5.4.3";
const OID_SERIAL = "2.5.4.5";
const OID_C = "2.5.4.6";
const OID_L = "2.5.4.7";
const OID_ST = "2.5.4.8";
const OID_STREET = "2.5.4.9";
const OID_O = "2.5.4.10";
const OID_OU = "2.5.4.11";
const OID_PC = "2.5.4.17";
const OID_EMAIL = "1.2.840.113549.1.9.1";

/** Go's pkix.Name, as far as the provider uses it. */
interface GoName {
    country: string[];
    province: string[];
    locality: string[];
    streetAddress: string[];
    postalCode: string[];
    organization: string[];
    organizationalUnit: string[];
    commonName: string;
    serialNumber: string;
    /** Encoded extra attributes (type OID, encoded value), appended as one RDN each. */
    extraNames: { oid: string; value: Buffer }[];
    /** Number of attributes parsed into `Names` (pkix.Name.Names); makes a parsed name "non-empty". */
    parsedNames: number;
}

function emptyName(): GoName {
    return { country: [], province: [], locality: [], streetAddress: [], postalCode: [], organization: [], organizationalUnit: [], commonName: "", serialNumber: "", extraNames: [], parsedNames: 0 };
}

function isEmptyName(n: GoName): boolean {
    return (
        n.parsedNames === 0 &&
        n.extraNames.length === 0 &&
        !n.commonName &&
        !n.serialNumber &&
        [n.country, n.province, n.locality, n.streetAddress, n.postalCode, n.organization, n.organizationalUnit].every((v) => v.length === 0)
    );
}

/** pkix.Name.ToRDNSequence, marshalled. Several values of one field share ONE multi-valued RDN, as in Go. */
function encodeName(n: GoName): Buffer {
    const rdns: Buffer[] = [];
    const add = (values: string[], type: string) => {
        if (values.length === 0) return;
        rdns.push(setOf(...values.map((v) => seq(oid(type), goStringValue(v)))));
    };
    add(n.country, OID_C);
    add(n.province, OID_ST);
    add(n.locality, OID_L);
    add(n.streetAddress, OID_STREET);
    add(n.postalCode, OID_PC);
    add(n.organization, OID_O);
    add(n.organizationalUnit, OID_OU);
    if (n.commonName.length > 0) add([n.commonName], OID_CN);
    if (n.serialNumber.length > 0) add([n.serialNumber], OID_SERIAL);
    for (const extra of n.extraNames) rdns.push(setOf(seq(oid(extra.oid), extra.value)));
    return seq(...rdns);
}

type Subject = {
    commonName?: string | null;
    organization?: string | null;
    organizationalUnit?: string | null;
    streetAddresses?: string[] | null;
    locality?: string | null;
    province?: string | null;
    country?: string | null;
    postalCode?: string | null;
    serialNumber?: string | null;
    emailAddress?: string | null;
};

/** createSubjectDistinguishedNames (common_cert.go). */
function nameFromSubject(subject: Subject | undefined | null): GoName {
    const n = emptyName();
    if (!subject) return n;
    const has = (v: unknown): v is string => v !== undefined && v !== null;
    if (has(subject.commonName)) n.commonName = subject.commonName;
    if (has(subject.organization)) n.organization = [subject.organization];
    if (has(subject.organizationalUnit)) n.organizationalUnit = [subject.organizationalUnit];
    if (Array.isArray(subject.streetAddresses)) n.streetAddress = [...subject.streetAddresses];
    if (has(subject.locality)) n.locality = [subject.locality];
    if (has(subject.province)) n.province = [subject.province];
    if (has(subject.country)) n.country = [subject.country];
    if (has(subject.postalCode)) n.postalCode = [subject.postalCode];
    if (has(subject.serialNumber)) n.serialNumber = subject.serialNumber;
    if (has(subject.emailAddress)) n.extraNames.push({ oid: OID_EMAIL, value: tlv(0x16, Buffer.from(subject.emailAddress, "latin1")) });
    return n;
}

function decodeDirectoryString(node: DerNode): string | undefined {
    const c = derContent(node);
    switch (node.tag) {
        case 0x0c: // UTF8String
            return c.toString("utf8");
        case 0x13: // PrintableString
        case 0x16: // IA5String
        case 0x12: // NumericString
        case 0x14: // T61String (Go decodes as latin1-ish)
            return c.toString("latin1");
        case 0x1e: {
            // BMPString
            const swapped = Buffer.from(c);
            swapped.swap16();
            return swapped.toString("utf16le");
        }
        default:
            return undefined;
    }
}

/** pkix.Name.FillFromRDNSequence: known attributes fill fields; everything else is dropped on re-encoding. */
function nameFromRdnSequence(nameNode: DerNode): GoName {
    const n = emptyName();
    for (const rdn of derChildren(nameNode)) {
        for (const atv of derChildren(rdn)) {
            n.parsedNames++;
            const [typeNode, valueNode] = derChildren(atv);
            const type = oidToString(derContent(typeNode));
            const value = decodeDirectoryString(valueNode);
            if (value === undefined) continue;
            switch (type) {
                case OID_CN: n.commonName = value; break;
                case OID_SERIAL: n.serialNumber = value; break;
                case OID_C: n.country.push(value); break;
                case OID_L: n.locality.push(value); break;
                case OID_ST: n.province.push(value); break;
                case OID_STREET: n.streetAddress.push(value); break;
                case OID_O: n.organization.push(value); break;
                case OID_OU: n.organizationalUnit.push(value); break;
                case OID_PC: n.postalCode.push(value); break;
                default: break; // e.g. emailAddress: kept in Names only, not re-encoded by ToRDNSequence
            }
        }
    }
    return n;
}

/** net.ParseIP + To4: 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 bytes for IPv6; undefined when invalid. */
function parseIP(s: string): Buffer | undefined {
    if (s.includes("%")) return undefined;
    const kind = net.isIP(s);
    if (kind === 4) return Buffer.from(s.split(".").map(Number));
    if (kind !== 6) return undefined;
    let text = s;
    let tail: number[] = [];
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
        tail = v4[1].split(".").map(Number);
        text = text.slice(0, -v4[1].length) + "0:0";
    }
    const [head, rest] = text.split("::");
    const h = head ? head.split(":") : [];
    const r = rest !== undefined ? (rest ? rest.split(":") : []) : [];
    const groups = rest !== undefined ? [...h, ...Array(8 - h.length - r.length).fill("0"), ...r] : h;
    const bytes = Buffer.alloc(16);
    groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
    if (tail.length) Buffer.from(tail).copy(bytes, 12);
    return to4(bytes);
}

function to4(ip: Buffer): Buffer {
    if (ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return Buffer.from(ip.subarray(12));
    return ip;
}

interface Sans {
    dnsNames: string[];
    emails: string[];
    ips: Buffer[];
    uris: string[];
}

function hasSans(s: Sans): boolean {
    return s.dnsNames.length + s.emails.length + s.ips.length + s.uris.length > 0;
}

/** marshalSANs: DNS, then emails, then IPs, then URIs. */
function encodeSans(s: Sans): Buffer {
    for (const v of [...s.dnsNames, ...s.emails, ...s.uris]) {
        if (!isIA5(v)) throw new TlsProviderError(`Failed to create certificate: x509: ${JSON.stringify(v)} cannot be encoded as an IA5String`);
    }
    return seq(
        ...s.dnsNames.map((d) => tlv(0x82, Buffer.from(d, "latin1"))),
        ...s.emails.map((e) => tlv(0x81, Buffer.from(e, "latin1"))),
        ...s.ips.map((ip) => tlv(0x87, to4(ip))),
        ...s.uris.map((u) => tlv(0x86, Buffer.from(u, "latin1"))),
    );
}

function parseSans(value: Buffer): Sans {
    const out: Sans = { dnsNames: [], emails: [], ips: [], uris: [] };
    for (const gn of derChildren(derRead(value))) {
        const c = derContent(gn);
        switch (gn.tag) {
            case 0x82: out.dnsNames.push(c.toString("latin1")); break;
            case 0x81: out.emails.push(c.toString("latin1")); break;
            case 0x87:
                if (c.length !== 4 && c.length !== 16) throw new TlsProviderError(`x509: cannot parse IP address of length ${c.length}`);
                out.ips.push(Buffer.from(c));
                break;
            case 0x86: out.uris.push(c.toString("latin1")); break;
            default: break;
        }
    }
    return out;
}

function sansFromInputs(inputs: Record<string, any>): Sans {
    const s: Sans = { dnsNames: [], emails: [], ips: [], uris: [] };
    if (Array.isArray(inputs.dnsNames)) s.dnsNames = [...inputs.dnsNames];
    if (Array.isArray(inputs.ipAddresses)) {
        for (const ipStr of inputs.ipAddresses) {
            const ip = parseIP(String(ipStr));
            if (!ip) throw new TlsProviderError(`Invalid IP address: Failed to parse ${JSON.stringify(ipStr)}`);
            s.ips.push(ip);
        }
    }
    if (Array.isArray(inputs.uris)) {
        for (const u of inputs.uris) {
            // Go's url.Parse is permissive; it rejects control characters and a missing scheme before ':'.
            if (/[\x00-\x1f\x7f]/.test(u) || String(u).startsWith(":")) {
                throw new TlsProviderError(`Invalid URI: Failed to parse ${JSON.stringify(u)}`);
            }
            s.uris.push(String(u));
        }
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

type Algorithm = "RSA" | "ECDSA" | "ED25519";

interface ParsedKey {
    privateKey: crypto.KeyObject;
    publicKey: crypto.KeyObject;
    algorithm: Algorithm;
    /** P224 | P256 | P384 | P521 for ECDSA. */
    curve?: string;
    /** PKIX SubjectPublicKeyInfo DER. */
    spki: Buffer;
}

function keyFromObject(privateKey: crypto.KeyObject): ParsedKey {
    const publicKey = crypto.createPublicKey(privateKey);
    const spki = publicKey.export({ type: "spki", format: "der" }) as Buffer;
    switch (privateKey.asymmetricKeyType) {
        case "rsa":
            return { privateKey, publicKey, algorithm: "RSA", spki };
        case "ec": {
            const nodeCurve = privateKey.asymmetricKeyDetails?.namedCurve ?? "";
            const curve = NODE_CURVE_TO_NAME[nodeCurve];
            if (!curve) throw new TlsProviderError(`x509: unknown elliptic curve (${nodeCurve})`);
            return { privateKey, publicKey, algorithm: "ECDSA", curve, spki };
        }
        case "ed25519":
            return { privateKey, publicKey, algorithm: "ED25519", spki };
        default:
            throw new TlsProviderError(`unsupported private key type: ${privateKey.asymmetricKeyType}`);
    }
}

/** pem.Decode: the first PEM block anywhere in the text. */
function pemDecode(text: string): { type: string; der: Buffer } | undefined {
    const m = /-----BEGIN ([^-\n]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
    if (!m) return undefined;
    const body = m[2]
        .split(/\r?\n/)
        .filter((line) => !line.includes(":"))
        .join("");
    return { type: m[1], der: Buffer.from(body, "base64") };
}

/** parsePrivateKeyPEM (common_key.go). */
function parsePrivateKeyPEM(text: string): ParsedKey {
    const block = pemDecode(text);
    if (!block) throw new TlsProviderError(`failed to decode PEM block: decoded bytes 0, undecoded ${Buffer.byteLength(text)}`);
    const type = ({ "RSA PRIVATE KEY": "pkcs1", "EC PRIVATE KEY": "sec1", "PRIVATE KEY": "pkcs8" } as const)[block.type as "RSA PRIVATE KEY"];
    if (!type) throw new TlsProviderError(`unable to determine parser for PEM preamble: ${block.type}`);
    let key: crypto.KeyObject;
    try {
        key = crypto.createPrivateKey({ key: block.der, format: "der", type });
    } catch (e) {
        throw new TlsProviderError(`failed to parse private key given PEM preamble '${block.type}': ${(e as Error).message}`);
    }
    return keyFromObject(key);
}

/** generateSubjectKeyID (common_cert.go): SHA-1 over asn1.Marshal(public key). */
function subjectKeyId(key: { algorithm: Algorithm; spki: Buffer }): Buffer {
    const spkiNode = derRead(key.spki);
    const [, bits] = derChildren(spkiNode);
    const keyBytes = derContent(bits).subarray(1); // skip the unused-bits byte
    // RSA: asn1.Marshal(rsa.PublicKey) == the PKCS#1 RSAPublicKey in the BIT STRING.
    // ECDSA: elliptic.Marshal == the uncompressed point in the BIT STRING.
    // ED25519: asn1.Marshal(ed25519.PublicKey) marshals a []byte, i.e. an OCTET STRING around the 32 bytes.
    const material = key.algorithm === "ED25519" ? octetString(keyBytes) : keyBytes;
    return crypto.createHash("sha1").update(material).digest();
}

function signatureAlgorithm(signer: ParsedKey): { algId: Buffer; hash: string | null } {
    switch (signer.algorithm) {
        case "RSA":
            return { algId: seq(oid("1.2.840.113549.1.1.11"), derNull()), hash: "sha256" };
        case "ECDSA":
            if (signer.curve === "P384") return { algId: seq(oid("1.2.840.10045.4.3.3")), hash: "sha384" };
            if (signer.curve === "P521") return { algId: seq(oid("1.2.840.10045.4.3.4")), hash: "sha512" };
            return { algId: seq(oid("1.2.840.10045.4.3.2")), hash: "sha256" };
        case "ED25519":
            return { algId: seq(oid("1.3.101.112")), hash: null };
    }
}

function sign(signer: ParsedKey, data: Buffer): Buffer {
    const { hash } = signatureAlgorithm(signer);
    return crypto.sign(hash, data, signer.privateKey);
}

// --- OpenSSH encodings (golang.org/x/crypto/ssh) ---

function sshString(b: Buffer | string): Buffer {
    const body = typeof b === "string" ? Buffer.from(b, "latin1") : b;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
}

function sshUint32(n: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    return b;
}

/** mpint from unsigned big-endian bytes. */
function sshMpint(unsigned: Buffer): Buffer {
    let i = 0;
    while (i < unsigned.length && unsigned[i] === 0) i++;
    let b = unsigned.subarray(i);
    if (b.length > 0 && b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return sshString(b);
}

const b64u = (s: string | undefined): Buffer => Buffer.from(s ?? "", "base64url");

function ecPoint(key: ParsedKey): Buffer {
    const [, bits] = derChildren(derRead(key.spki));
    return Buffer.from(derContent(bits).subarray(1));
}

/** ssh.NewPublicKey(...).Marshal(); undefined when unsupported (ECDSA P-224). */
function sshPublicWire(key: ParsedKey): { type: string; wire: Buffer } | undefined {
    switch (key.algorithm) {
        case "RSA": {
            const jwk = key.publicKey.export({ format: "jwk" });
            return { type: "ssh-rsa", wire: Buffer.concat([sshString("ssh-rsa"), sshMpint(b64u(jwk.e)), sshMpint(b64u(jwk.n))]) };
        }
        case "ECDSA": {
            const ssh = CURVES[key.curve!].ssh;
            if (!ssh) return undefined;
            const type = `ecdsa-sha2-${ssh}`;
            return { type, wire: Buffer.concat([sshString(type), sshString(ssh), sshString(ecPoint(key))]) };
        }
        case "ED25519": {
            const jwk = key.publicKey.export({ format: "jwk" });
            return { type: "ssh-ed25519", wire: Buffer.concat([sshString("ssh-ed25519"), sshString(b64u(jwk.x))]) };
        }
    }
}

/** ssh.MarshalPrivateKey(key, "") as PEM ("OPENSSH PRIVATE KEY", unencrypted). */
function opensshPrivateKey(key: ParsedKey, pub: { type: string; wire: Buffer }): string {
    const jwk = key.privateKey.export({ format: "jwk" });
    let rest: Buffer;
    switch (key.algorithm) {
        case "RSA":
            rest = Buffer.concat([sshMpint(b64u(jwk.n)), sshMpint(b64u(jwk.e)), sshMpint(b64u(jwk.d)), sshMpint(b64u(jwk.qi)), sshMpint(b64u(jwk.p)), sshMpint(b64u(jwk.q))]);
            break;
        case "ECDSA":
            rest = Buffer.concat([sshString(CURVES[key.curve!].ssh!), sshString(ecPoint(key)), sshMpint(b64u(jwk.d))]);
            break;
        case "ED25519": {
            const seed = b64u(jwk.d);
            const pubBytes = b64u(jwk.x);
            rest = Buffer.concat([sshString(pubBytes), sshString(Buffer.concat([seed, pubBytes]))]);
            break;
        }
    }
    const check = crypto.randomBytes(4).readUInt32BE(0);
    let block = Buffer.concat([sshUint32(check), sshUint32(check), sshString(pub.type), rest, sshString("")]);
    const padLen = (8 - (block.length % 8)) % 8;
    block = Buffer.concat([block, Buffer.from(Array.from({ length: padLen }, (_, i) => i + 1))]);
    const body = Buffer.concat([
        Buffer.from("openssh-key-v1\0", "latin1"),
        sshString("none"),
        sshString("none"),
        sshString(""),
        sshUint32(1),
        sshString(pub.wire),
        sshString(block),
    ]);
    return pem("OPENSSH PRIVATE KEY", body);
}

// ---------------------------------------------------------------------------------------------
// Inputs: unwrap secrets, validate like the provider schema does
// ---------------------------------------------------------------------------------------------

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** The engine's unknown sentinel (as a string) and the SDK's runtime unknown object. */
const UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Deep copy with secret wrappers (as the mock monitor hands them over) removed. */
export function unwrapSecrets(v: any): any {
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v && typeof v === "object") {
        if (v[SECRET_SIG_KEY] === SECRET_SIG) return unwrapSecrets(v.value);
        if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return v;
        const out: Record<string, any> = {};
        for (const [k, val] of Object.entries(v)) out[k] = unwrapSecrets(val);
        return out;
    }
    return v;
}

function containsUnknown(v: any): boolean {
    if (v === UNKNOWN_SENTINEL) return true;
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (v && typeof v === "object") {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return true; // the SDK's `unknown` object or an Output
        return Object.values(v).some(containsUnknown);
    }
    return false;
}

/** Drops undefined/null values (absent in Terraform terms) and applies the schema defaults. */
function normalize(type: string, inputs: Record<string, any>): Record<string, any> {
    const out: Record<string, any> = { ...DEFAULTS[type] };
    for (const [k, v] of Object.entries(inputs)) {
        if (v === undefined || v === null) continue;
        if (k === "__defaults") continue;
        out[k] = v;
    }
    return out;
}

function requireNumber(inputs: Record<string, any>, key: string, tfName: string, atLeast?: number): number | undefined {
    const v = inputs[key];
    if (v === undefined || containsUnknown(v)) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) throw new TlsProviderError(`Attribute ${tfName}: expected a whole number, got: ${JSON.stringify(v)}`);
    if (atLeast !== undefined && v < atLeast) throw new TlsProviderError(`Invalid Attribute Value: Attribute ${tfName} value must be at least ${atLeast}, got: ${v}`);
    return v;
}

/**
 * The schema-level validation Terraform runs at plan time (so `pulumi preview` fails with it too).
 * Returns the normalized inputs.
 */
export function tlsValidate(type: string, rawInputs: Record<string, any>): Record<string, any> {
    const inputs = normalize(type, unwrapSecrets(rawInputs));
    const oneOf = (key: string, tfName: string, values: string[]) => {
        const v = inputs[key];
        if (v !== undefined && !containsUnknown(v) && !values.includes(v)) {
            throw new TlsProviderError(`Invalid Attribute Value Match: Attribute ${tfName} value must be one of: [${values.map((x) => JSON.stringify(x)).join(" ")}], got: ${JSON.stringify(v)}`);
        }
    };
    const required = (key: string, tfName: string) => {
        if (inputs[key] === undefined) throw new TlsProviderError(`Missing required argument: The argument "${tfName}" is required, but no definition was found.`);
    };
    switch (type) {
        case TLS_PRIVATE_KEY:
            required("algorithm", "algorithm");
            oneOf("algorithm", "algorithm", ["RSA", "ECDSA", "ED25519"]);
            oneOf("ecdsaCurve", "ecdsa_curve", Object.keys(CURVES));
            requireNumber(inputs, "rsaBits", "rsa_bits");
            break;
        case TLS_SELF_SIGNED_CERT:
        case TLS_LOCALLY_SIGNED_CERT: {
            required("validityPeriodHours", "validity_period_hours");
            required("allowedUses", "allowed_uses");
            requireNumber(inputs, "validityPeriodHours", "validity_period_hours", 0);
            requireNumber(inputs, "earlyRenewalHours", "early_renewal_hours", 0);
            requireNumber(inputs, "maxPathLength", "max_path_length", -1);
            const uses = inputs.allowedUses;
            if (!containsUnknown(uses)) {
                if (!Array.isArray(uses)) throw new TlsProviderError(`Attribute allowed_uses: expected a list of strings`);
                uses.forEach((u: unknown, i: number) => {
                    if (!containsUnknown(u) && !SUPPORTED_USAGES.includes(u as string)) {
                        throw new TlsProviderError(
                            `Invalid Attribute Value Match: Attribute allowed_uses[${i}] value must be one of: [${SUPPORTED_USAGES.map((x) => JSON.stringify(x)).join(" ")}], got: ${JSON.stringify(u)}`,
                        );
                    }
                });
            }
            if (type === TLS_LOCALLY_SIGNED_CERT) {
                required("caCertPem", "ca_cert_pem");
                required("certRequestPem", "cert_request_pem");
                exactlyOneKey(inputs, "caPrivateKeyPem", "ca_private_key_pem");
            } else {
                exactlyOneKey(inputs, "privateKeyPem", "private_key_pem");
            }
            break;
        }
        case TLS_CERT_REQUEST:
            exactlyOneKey(inputs, "privateKeyPem", "private_key_pem");
            break;
        default:
            throw new Error(`tlsDouble: unsupported type ${type}`);
    }
    for (const listKey of ["ipAddresses", "uris"]) {
        const list = inputs[listKey];
        if (Array.isArray(list)) {
            list.forEach((v: unknown, i: number) => {
                if (typeof v === "string" && v.length < 1) {
                    throw new TlsProviderError(`Invalid Attribute Value Length: Attribute ${listKey === "uris" ? "uris" : "ip_addresses"}[${i}] string length must be at least 1, got: 0`);
                }
            });
        }
    }
    return inputs;
}

function exactlyOneKey(inputs: Record<string, any>, key: string, tfName: string) {
    const plain = inputs[key] !== undefined;
    const wo = inputs[`${key}Wo`] !== undefined;
    if (plain === wo) {
        throw new TlsProviderError(`Invalid Attribute Combination: Exactly one of these attributes must be configured: [${tfName},${tfName}_wo]`);
    }
    if (wo && inputs[`${key}WoVersion`] === undefined) {
        throw new TlsProviderError(`Invalid Attribute Combination: Attribute "${tfName}_wo_version" must be specified when "${tfName}_wo" is specified`);
    }
}

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

export interface TlsCreateResult {
    id: string;
    outputs: Record<string, any>;
}

async function generateKey(inputs: Record<string, any>): Promise<crypto.KeyObject> {
    const gen = (type: any, options: any) =>
        new Promise<crypto.KeyObject>((resolve, reject) =>
            crypto.generateKeyPair(type, options, (err: Error | null, _pub: crypto.KeyObject, priv: crypto.KeyObject) => (err ? reject(err) : resolve(priv))),
        );
    switch (inputs.algorithm as Algorithm) {
        case "RSA":
            try {
                return await gen("rsa", { modulusLength: inputs.rsaBits, publicExponent: 65537 });
            } catch (e) {
                throw new TlsProviderError(`Unable to generate Key from configuration: ${(e as Error).message}`);
            }
        case "ECDSA":
            return gen("ec", { namedCurve: CURVES[inputs.ecdsaCurve].node });
        case "ED25519":
            return gen("ed25519", {});
        default:
            throw new TlsProviderError(`Invalid Key Algorithm: Key Algorithm ${JSON.stringify(inputs.algorithm)} is not supported`);
    }
}

async function createPrivateKey(inputs: Record<string, any>): Promise<TlsCreateResult> {
    const privateKey = await generateKey(inputs);
    const key = keyFromObject(privateKey);
    let privateKeyPem: string;
    switch (key.algorithm) {
        case "RSA":
            privateKeyPem = privateKey.export({ type: "pkcs1", format: "pem" }) as string;
            break;
        case "ECDSA":
            privateKeyPem = privateKey.export({ type: "sec1", format: "pem" }) as string;
            break;
        case "ED25519":
            privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
            break;
    }
    const sshPub = sshPublicWire(key);
    const outputs: Record<string, any> = {
        ...inputs,
        privateKeyPem,
        privateKeyPemPkcs8: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
        privateKeyOpenssh: sshPub ? opensshPrivateKey(key, sshPub) : "",
        publicKeyPem: pem("PUBLIC KEY", key.spki),
        publicKeyOpenssh: sshPub ? `${sshPub.type} ${sshPub.wire.toString("base64")}\n` : "",
        publicKeyFingerprintMd5: sshPub
            ? crypto
                  .createHash("md5")
                  .update(sshPub.wire)
                  .digest("hex")
                  .replace(/(..)(?!$)/g, "$1:")
            : "",
        publicKeyFingerprintSha256: sshPub ? "SHA256:" + crypto.createHash("sha256").update(sshPub.wire).digest("base64").replace(/=+$/, "") : "",
    };
    return { id: hashForState(key.spki), outputs };
}

interface Template {
    subject: GoName;
    sans: Sans;
    isCA: boolean;
    maxPathLen: number; // Go's template.MaxPathLen (0 unless set >= 0)
    keyUsage: number;
    extKeyUsages: string[];
    subjectKeyId?: Buffer;
    authorityKeyId?: Buffer;
}

function applyCommonTemplate(t: Template, inputs: Record<string, any>, pub: { algorithm: Algorithm; spki: Buffer }, subjectCheck: () => boolean) {
    for (const use of inputs.allowedUses as string[]) {
        if (use in KEY_USAGES) t.keyUsage |= KEY_USAGES[use];
        if (use in EXT_KEY_USAGES) t.extKeyUsages.push(EXT_KEY_USAGES[use]);
    }
    if (inputs.isCaCertificate === true) {
        if (subjectCheck()) {
            throw new TlsProviderError("Invalid Certificate Subject: Must contain at least one Distinguished Name when creating Certificate Authority (CA)");
        }
        t.isCA = true;
        t.subjectKeyId = subjectKeyId(pub);
    }
    if (typeof inputs.maxPathLength === "number" && inputs.maxPathLength >= 0) t.maxPathLen = inputs.maxPathLength;
    if (inputs.setSubjectKeyId === true) t.subjectKeyId = subjectKeyId(pub);
}

/** x509.CreateCertificate, with the provider's template. */
function buildCertificate(opts: {
    template: Template;
    subjectSpki: Buffer;
    issuerName: Buffer;
    parentSubjectKeyId?: Buffer;
    signer: ParsedKey;
    notBefore: Date;
    notAfter: Date;
    serial: bigint;
}): Buffer {
    const { template: t } = opts;
    if (!t.isCA && t.maxPathLen !== -1 && t.maxPathLen !== 0) {
        throw new TlsProviderError("Failed to create certificate: x509: only CAs are allowed to specify MaxPathLen");
    }
    const subjectDer = encodeName(t.subject);
    let authorityKeyId = t.authorityKeyId;
    if (!opts.issuerName.equals(subjectDer) && opts.parentSubjectKeyId && opts.parentSubjectKeyId.length > 0) {
        authorityKeyId = opts.parentSubjectKeyId;
    }
    const extensions: Buffer[] = [];
    const ext = (id: string, critical: boolean, value: Buffer) => extensions.push(seq(oid(id), ...(critical ? [derBool(true)] : []), octetString(value)));
    if (t.keyUsage !== 0) {
        const rev = (b: number) => {
            let r = 0;
            for (let i = 0; i < 8; i++) if (b & (1 << i)) r |= 1 << (7 - i);
            return r;
        };
        const a = [rev(t.keyUsage & 0xff), rev((t.keyUsage >> 8) & 0xff)];
        const bytes = a[1] !== 0 ? a : [a[0]];
        // asn1BitLength: trailing zero bits are unused bits
        let unused = 0;
        const last = bytes[bytes.length - 1];
        if (last === 0) unused = 0;
        else while (!(last & (1 << unused))) unused++;
        ext("2.5.29.15", true, bitString(Buffer.from(bytes), unused));
    }
    if (t.extKeyUsages.length > 0) ext("2.5.29.37", false, seq(...t.extKeyUsages.map((o) => oid(o))));
    {
        // marshalBasicConstraints: MaxPathLen 0 without MaxPathLenZero means "no limit" (-1, omitted)
        const pathLen = t.maxPathLen === 0 ? -1 : t.maxPathLen;
        ext("2.5.29.19", true, seq(...(t.isCA ? [derBool(true)] : []), ...(pathLen >= 0 ? [derSmallInt(pathLen)] : [])));
    }
    if (t.subjectKeyId && t.subjectKeyId.length > 0) ext("2.5.29.14", false, octetString(t.subjectKeyId));
    if (authorityKeyId && authorityKeyId.length > 0) ext("2.5.29.35", false, seq(tlv(0x80, authorityKeyId)));
    if (hasSans(t.sans)) ext("2.5.29.17", subjectDer.equals(seq()), encodeSans(t.sans));

    const { algId } = signatureAlgorithm(opts.signer);
    const tbs = seq(
        explicit(0, derSmallInt(2)),
        derUInt(bigintToBytes(opts.serial)),
        algId,
        opts.issuerName,
        seq(asn1Time(opts.notBefore), asn1Time(opts.notAfter)),
        subjectDer,
        opts.subjectSpki,
        explicit(3, seq(...extensions)),
    );
    return seq(tbs, algId, bitString(sign(opts.signer, tbs)));
}

function randomSerial(): bigint {
    // rand.Int(rand.Reader, 2^128): uniform in [0, 2^128)
    return BigInt("0x" + crypto.randomBytes(16).toString("hex"));
}

function validity(inputs: Record<string, any>, now: Date) {
    const notBefore = now;
    const notAfter = new Date(now.getTime() + inputs.validityPeriodHours * 3600_000);
    return { notBefore, notAfter };
}

function certOutputs(inputs: Record<string, any>, certDer: Buffer, notBefore: Date, notAfter: Date, serial: bigint, algorithmKey: string, algorithm: Algorithm): TlsCreateResult {
    const outputs: Record<string, any> = {
        ...stripWriteOnly(inputs),
        certPem: pem("CERTIFICATE", certDer),
        [algorithmKey]: algorithm,
        readyForRenewal: false,
        validityStartTime: rfc3339(notBefore),
        validityEndTime: rfc3339(notAfter),
    };
    return { id: serial.toString(10), outputs };
}

function stripWriteOnly(inputs: Record<string, any>): Record<string, any> {
    const out: Record<string, any> = {};
    for (const [k, v] of Object.entries(inputs)) if (!WRITE_ONLY.has(k)) out[k] = v;
    return out;
}

async function createSelfSignedCert(inputs: Record<string, any>, now: Date): Promise<TlsCreateResult> {
    let key: ParsedKey;
    try {
        key = parsePrivateKeyPEM(inputs.privateKeyPem ?? inputs.privateKeyPemWo);
    } catch (e) {
        throw new TlsProviderError(`Failed to parse private key PEM: ${(e as Error).message}`);
    }
    const t: Template = { subject: nameFromSubject(inputs.subject), sans: sansFromInputs(inputs), isCA: false, maxPathLen: 0, keyUsage: 0, extKeyUsages: [] };
    applyCommonTemplate(t, inputs, key, () => isEmptyName(t.subject));
    if (inputs.setAuthorityKeyId === true) {
        // parent == template: its SubjectKeyId is only set for CAs or with set_subject_key_id
        if (!t.subjectKeyId) throw new TlsProviderError("Invalid Certificate Authority: Could not determine Authority Key Identifier");
        t.authorityKeyId = t.subjectKeyId;
    }
    const { notBefore, notAfter } = validity(inputs, now);
    const serial = randomSerial();
    const subjectDer = encodeName(t.subject);
    const der = buildCertificate({ template: t, subjectSpki: key.spki, issuerName: subjectDer, parentSubjectKeyId: t.subjectKeyId, signer: key, notBefore, notAfter, serial });
    return certOutputs(inputs, der, notBefore, notAfter, serial, "keyAlgorithm", key.algorithm);
}

async function createCertRequest(inputs: Record<string, any>): Promise<TlsCreateResult> {
    let key: ParsedKey;
    try {
        key = parsePrivateKeyPEM(inputs.privateKeyPem ?? inputs.privateKeyPemWo);
    } catch (e) {
        throw new TlsProviderError(`Failed to parse private key PEM: ${(e as Error).message}`);
    }
    const subject = nameFromSubject(inputs.subject);
    const sans = sansFromInputs(inputs);
    const attributes: Buffer[] = [];
    if (hasSans(sans)) {
        // extensionRequest attribute; Go drops the critical flag in a CSR
        attributes.push(seq(oid("1.2.840.113549.1.9.14"), setOf(seq(seq(oid("2.5.29.17"), octetString(encodeSans(sans)))))));
    }
    const cri = seq(derSmallInt(0), encodeName(subject), key.spki, tlv(0xa0, Buffer.concat(attributes)));
    const { algId } = signatureAlgorithm(key);
    const der = seq(cri, algId, bitString(sign(key, cri)));
    const outputs = { ...stripWriteOnly(inputs), certRequestPem: pem("CERTIFICATE REQUEST", der), keyAlgorithm: key.algorithm };
    return { id: hashForState(der), outputs };
}

interface ParsedCsr {
    subject: GoName;
    sans: Sans;
    spki: Buffer;
    algorithm: Algorithm;
}

function parseCsrPem(text: string): ParsedCsr {
    const block = pemDecode(text);
    if (!block) throw new TlsProviderError(`Failed to parse certificate request PEM: failed to decode PEM of expected type "CERTIFICATE REQUEST" from bytes`);
    if (block.type !== "CERTIFICATE REQUEST") {
        throw new TlsProviderError(`Failed to parse certificate request PEM: invalid PEM type - expected "CERTIFICATE REQUEST", got ${JSON.stringify(block.type)}`);
    }
    const [cri] = derChildren(derRead(block.der));
    const [, subjectNode, spkiNode, attrsNode] = derChildren(cri);
    const sans: Sans = { dnsNames: [], emails: [], ips: [], uris: [] };
    if (attrsNode && attrsNode.tag === 0xa0) {
        for (const attr of derChildren(attrsNode)) {
            const [typeNode, valuesNode] = derChildren(attr);
            if (oidToString(derContent(typeNode)) !== "1.2.840.113549.1.9.14") continue;
            for (const exts of derChildren(valuesNode)) {
                for (const e of derChildren(exts)) {
                    const parts = derChildren(e);
                    if (oidToString(derContent(parts[0])) === "2.5.29.17") {
                        const parsed = parseSans(derContent(parts[parts.length - 1]));
                        sans.dnsNames.push(...parsed.dnsNames);
                        sans.emails.push(...parsed.emails);
                        sans.ips.push(...parsed.ips);
                        sans.uris.push(...parsed.uris);
                    }
                }
            }
        }
    }
    const spki = Buffer.from(derRaw(spkiNode));
    const pub = crypto.createPublicKey({ key: spki, format: "der", type: "spki" });
    const algorithm = ({ rsa: "RSA", ec: "ECDSA", ed25519: "ED25519" } as Record<string, Algorithm>)[pub.asymmetricKeyType ?? ""];
    if (!algorithm) throw new TlsProviderError(`Failed to parse certificate request PEM: x509: unsupported public key type`);
    return { subject: nameFromRdnSequence(subjectNode), sans, spki, algorithm };
}

interface ParsedCert {
    subjectRaw: Buffer;
    spki: Buffer;
    subjectKeyId?: Buffer;
    isCA: boolean;
}

function parseCertPem(text: string): ParsedCert {
    const block = pemDecode(text);
    if (!block) throw new TlsProviderError(`Failed to parse CA certificate PEM: failed to decode PEM of expected type "CERTIFICATE" from bytes`);
    if (block.type !== "CERTIFICATE") throw new TlsProviderError(`Failed to parse CA certificate PEM: invalid PEM type - expected "CERTIFICATE", got ${JSON.stringify(block.type)}`);
    const [tbs] = derChildren(derRead(block.der));
    const fields = derChildren(tbs);
    let i = 0;
    if (fields[0].tag === 0xa0) i++; // version
    const subject = fields[i + 4];
    const spki = fields[i + 5];
    let subjectKeyId: Buffer | undefined;
    let isCA = false;
    const extsField = fields.find((f) => f.tag === 0xa3);
    if (extsField) {
        for (const e of derChildren(derChildren(extsField)[0])) {
            const parts = derChildren(e);
            const id = oidToString(derContent(parts[0]));
            const value = derContent(parts[parts.length - 1]);
            if (id === "2.5.29.14") subjectKeyId = Buffer.from(derContent(derRead(value)));
            if (id === "2.5.29.19") {
                const bc = derChildren(derRead(value));
                isCA = bc.length > 0 && bc[0].tag === 0x01 && derContent(bc[0])[0] !== 0;
            }
        }
    }
    return { subjectRaw: Buffer.from(derRaw(subject)), spki: Buffer.from(derRaw(spki)), subjectKeyId, isCA };
}

async function createLocallySignedCert(inputs: Record<string, any>, now: Date): Promise<TlsCreateResult> {
    const csr = parseCsrPem(inputs.certRequestPem);
    let caKey: ParsedKey;
    try {
        caKey = parsePrivateKeyPEM(inputs.caPrivateKeyPem ?? inputs.caPrivateKeyPemWo);
    } catch (e) {
        throw new TlsProviderError(`Failed to parse CA private key PEM: ${(e as Error).message}`);
    }
    const ca = parseCertPem(inputs.caCertPem);
    // (the provider only warns when the CA certificate is not a CA: "Potentially Invalid Certificate Authority")
    if (!caKey.spki.equals(ca.spki)) {
        throw new TlsProviderError("Failed to create certificate: x509: provided PrivateKey doesn't match parent's PublicKey");
    }
    const t: Template = { subject: csr.subject, sans: csr.sans, isCA: false, maxPathLen: 0, keyUsage: 0, extKeyUsages: [] };
    // The provider does not copy the CSR's email SANs (only DNSNames, IPAddresses, URIs).
    t.sans = { dnsNames: csr.sans.dnsNames, emails: [], ips: csr.sans.ips, uris: csr.sans.uris };
    applyCommonTemplate(t, inputs, csr, () => isEmptyName(t.subject));
    const { notBefore, notAfter } = validity(inputs, now);
    const serial = randomSerial();
    const der = buildCertificate({ template: t, subjectSpki: csr.spki, issuerName: ca.subjectRaw, parentSubjectKeyId: ca.subjectKeyId, signer: caKey, notBefore, notAfter, serial });
    return certOutputs(inputs, der, notBefore, notAfter, serial, "caKeyAlgorithm", caKey.algorithm);
}

/**
 * The provider's Create for `type`, on already validated + normalized inputs (see {@link tlsValidate}).
 * Throws {@link TlsProviderError} with the provider's diagnostic.
 */
export async function tlsCreate(type: string, rawInputs: Record<string, any>, now: Date = clockNow()): Promise<TlsCreateResult> {
    const inputs = tlsValidate(type, rawInputs);
    switch (type) {
        case TLS_PRIVATE_KEY:
            return createPrivateKey(inputs);
        case TLS_SELF_SIGNED_CERT:
            return createSelfSignedCert(inputs, now);
        case TLS_CERT_REQUEST:
            return createCertRequest(inputs);
        case TLS_LOCALLY_SIGNED_CERT:
            return createLocallySignedCert(inputs, now);
        default:
            throw new Error(`tlsDouble: unsupported type ${type}`);
    }
}

// ---------------------------------------------------------------------------------------------
// Plan (what the engine + bridge would decide for an existing resource)
// ---------------------------------------------------------------------------------------------

export interface TlsPlan {
    op: "same" | "update" | "replace";
    /** Inputs whose value changed (after defaults). */
    changedKeys: string[];
    /** The subset that forces replacement (plus `readyForRenewal` when the certificate is due). */
    replaceKeys: string[];
    reason?: string;
}

function stableJson(v: any): string {
    if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
    if (v && typeof v === "object") {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return JSON.stringify(UNKNOWN_SENTINEL);
        return `{${Object.keys(v)
            .filter((k) => v[k] !== undefined && v[k] !== null)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(v);
}

function emptyish(v: any): boolean {
    return v === undefined || v === null || (Array.isArray(v) && v.length === 0);
}

/**
 * Plans a change of an existing tls resource the way Terraform's plan (RequiresReplace modifiers,
 * ModifyPlan's ready-for-renewal check) and the Pulumi bridge would. Unknown new values count as
 * changes (so a replaced key plans a replaced certificate in preview).
 */
export function tlsPlan(type: string, oldInputs: Record<string, any>, oldOutputs: Record<string, any>, newInputs: Record<string, any>, now: Date = clockNow()): TlsPlan {
    const before = normalize(type, unwrapSecrets(oldInputs));
    const after = normalize(type, unwrapSecrets(newInputs));
    const computed = new Set(COMPUTED[type] ?? []);
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    const changedKeys: string[] = [];
    for (const k of [...keys].sort()) {
        if (computed.has(k) || WRITE_ONLY.has(k)) continue;
        const a = before[k];
        const b = after[k];
        if (emptyish(a) && emptyish(b)) continue;
        if (containsUnknown(b) || stableJson(a) !== stableJson(b)) changedKeys.push(k);
    }
    const replaceKeys = changedKeys.filter((k) => !UPDATABLE_IN_PLACE.has(k));
    let reason: string | undefined;
    if ((type === TLS_SELF_SIGNED_CERT || type === TLS_LOCALLY_SIGNED_CERT) && typeof oldOutputs.validityEndTime === "string") {
        // modifyPlanIfCertificateReadyForRenewal: early renewal hours from the plan (the new value)
        const erh = typeof after.earlyRenewalHours === "number" ? after.earlyRenewalHours : 0;
        const renewalTime = Date.parse(oldOutputs.validityEndTime) - erh * 3600_000;
        if (renewalTime - now.getTime() <= 0) {
            replaceKeys.push("readyForRenewal");
            reason = `certificate is ready for renewal (validity ends ${oldOutputs.validityEndTime}, early renewal ${erh}h)`;
        }
    }
    if (replaceKeys.length > 0) {
        return { op: "replace", changedKeys, replaceKeys, reason: reason ?? `changed inputs force a new resource: ${replaceKeys.join(", ")}` };
    }
    if (changedKeys.length > 0) return { op: "update", changedKeys, replaceKeys, reason: `in-place update of ${changedKeys.join(", ")} (the certificate is not re-issued)` };
    return { op: "same", changedKeys, replaceKeys };
}

/** The provider's Update (`updatedUsingPlan`): the old state with the new input values. */
export function tlsUpdate(type: string, oldOutputs: Record<string, any>, newInputs: Record<string, any>): Record<string, any> {
    const after = stripWriteOnly(normalize(type, unwrapSecrets(newInputs)));
    const computed = new Set(COMPUTED[type] ?? []);
    const out: Record<string, any> = {};
    for (const [k, v] of Object.entries(oldOutputs)) if (computed.has(k)) out[k] = v;
    return { ...after, ...out };
}

// ---------------------------------------------------------------------------------------------
// The mock entry point
// ---------------------------------------------------------------------------------------------

function isDryRun(): boolean {
    try {
        // Loaded lazily so this module stays usable without a configured runtime.
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        return require("@pulumi/pulumi").runtime.isDryRun() === true;
    } catch {
        return false;
    }
}

/**
 * For `pulumi.runtime.setMocks({ newResource })`: returns the provider's result for a tls resource, or
 * `undefined` for any other type (so callers can chain: `tlsDouble(args) ?? otherMock(args)`).
 *
 * Under plain setMocks nothing applies `additionalSecretOutputs` (use test/support/engine.ts for that).
 * In a preview (isDryRun) it returns only the inputs, so computed outputs stay unknown, as in the engine.
 */
export function tlsDouble(args: MockResourceArgs): Promise<MockResourceResult> | undefined {
    if (!isTlsType(args.type)) return undefined;
    return (async () => {
        const inputs = unwrapSecrets(args.inputs ?? {});
        if (isDryRun() || containsUnknown(inputs)) {
            tlsValidate(args.type, inputs);
            return { id: undefined, state: stripWriteOnly(normalize(args.type, inputs)) };
        }
        const { id, outputs } = await tlsCreate(args.type, inputs);
        return { id, state: outputs };
    })();
}
