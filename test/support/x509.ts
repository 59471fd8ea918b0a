/**
 * Real X.509 fixtures for tests: keys and certificates with any validity window,
 * made with node:crypto and @peculiar/x509. Used by the @pulumi/tls double and by
 * tests that need a PKI without going through the components.
 */
import "reflect-metadata";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto.webcrypto as unknown as Crypto);

export type FixtureKeyType = "ecdsa-p256" | "ecdsa-p384" | "rsa-2048" | "rsa-3072" | "rsa-4096";

export interface FixtureKey {
    type: FixtureKeyType;
    /** PKCS#8 PEM. */
    privateKeyPem: string;
    publicKeyPem: string;
    keys: CryptoKeyPair;
}

export interface FixtureCert {
    certPem: string;
    key: FixtureKey;
    serialHex: string;
    cert: x509.X509Certificate;
}

const SIGNING: Record<FixtureKeyType, { gen: (EcKeyGenParams | RsaHashedKeyGenParams); sign: Algorithm & { hash?: string } }> = {
    "ecdsa-p256": { gen: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
    "ecdsa-p384": { gen: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } },
    "rsa-2048": { gen: rsa(2048), sign: { name: "RSASSA-PKCS1-v1_5" } },
    "rsa-3072": { gen: rsa(3072), sign: { name: "RSASSA-PKCS1-v1_5" } },
    "rsa-4096": { gen: rsa(4096), sign: { name: "RSASSA-PKCS1-v1_5" } },
};

function rsa(modulusLength: number): RsaHashedKeyGenParams {
    return { name: "RSASSA-PKCS1-v1_5", modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
}

export async function makeKey(type: FixtureKeyType = "ecdsa-p256"): Promise<FixtureKey> {
    const keys = (await crypto.webcrypto.subtle.generateKey(SIGNING[type].gen, true, ["sign", "verify"])) as CryptoKeyPair;
    const pkcs8 = Buffer.from(await crypto.webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
    const spki = Buffer.from(await crypto.webcrypto.subtle.exportKey("spki", keys.publicKey));
    return { type, keys, privateKeyPem: pem("PRIVATE KEY", pkcs8), publicKeyPem: pem("PUBLIC KEY", spki) };
}

export function pem(label: string, der: Buffer): string {
    const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
    return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export interface CertOptions {
    /** Subject as an RFC 4514-ish string understood by @peculiar/x509, e.g. "CN=alice, O=Example". */
    subject: string;
    key?: FixtureKey;
    keyType?: FixtureKeyType;
    notBefore?: Date;
    notAfter?: Date;
    /** Days from notBefore when notAfter is not given. @default 30 */
    days?: number;
    usage: "ca" | "client" | "server";
    /** For CAs: maximum path length (0 for an intermediate that issues leaves only). */
    pathLength?: number;
    dnsNames?: string[];
    ipAddresses?: string[];
    emails?: string[];
    uris?: string[];
    serialHex?: string;
}

/** Issues a certificate; self-signed when `issuer` is omitted. */
export async function issue(options: CertOptions, issuer?: FixtureCert): Promise<FixtureCert> {
    const key = options.key ?? (await makeKey(options.keyType));
    const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
    const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.days ?? 30) * 86400_000);
    const serialHex = options.serialHex ?? randomSerialHex();
    const extensions: x509.Extension[] = [];
    if (options.usage === "ca") {
        extensions.push(new x509.BasicConstraintsExtension(true, options.pathLength, true));
        extensions.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true));
    } else {
        extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
        const flags = key.type.startsWith("rsa") ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
        extensions.push(new x509.KeyUsagesExtension(flags, true));
        extensions.push(new x509.ExtendedKeyUsageExtension([options.usage === "client" ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth], false));
    }
    const names: x509.JsonGeneralName[] = [
        ...(options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
        ...(options.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
        ...(options.emails ?? []).map((value) => ({ type: "email" as const, value })),
        ...(options.uris ?? []).map((value) => ({ type: "url" as const, value })),
    ];
    if (names.length > 0) {
        extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
    }
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(key.keys.publicKey));
    if (issuer) {
        extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.key.keys.publicKey));
    }
    const signer = issuer?.key ?? key;
    const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serialHex,
        subject: options.subject,
        issuer: issuer ? issuer.cert.subject : options.subject,
        notBefore,
        notAfter,
        signingAlgorithm: SIGNING[signer.type].sign,
        publicKey: key.keys.publicKey,
        signingKey: signer.keys.privateKey,
        extensions,
    });
    return { certPem: cert.toString("pem") + "\n", key, serialHex, cert };
}

export function randomSerialHex(): string {
    const bytes = crypto.randomBytes(16);
    bytes[0] &= 0x7f; // positive INTEGER
    if (bytes[0] === 0) bytes[0] = 0x01;
    return bytes.toString("hex");
}

/** A root CA, optionally an intermediate under it, for quick fixtures. */
export async function makeHierarchy(opts: { name?: string; intermediate?: boolean; keyType?: FixtureKeyType; days?: number } = {}) {
    const name = opts.name ?? "Test";
    const root = await issue({ subject: `CN=${name} Root CA`, usage: "ca", keyType: opts.keyType, days: opts.days ?? 3650 });
    const intermediate = opts.intermediate
        ? await issue({ subject: `CN=${name} Intermediate CA`, usage: "ca", pathLength: 0, keyType: opts.keyType, days: (opts.days ?? 3650) - 1 }, root)
        : undefined;
    return { root, intermediate, issuer: intermediate ?? root };
}

/** Writes the PEMs of a fixture into `dir` as `<base>.crt` and `<base>.key` (0600); returns the paths. */
export function writeFixture(dir: string, base: string, cert: FixtureCert): { cert: string; key: string } {
    fs.mkdirSync(dir, { recursive: true });
    const certPath = path.join(dir, `${base}.crt`);
    const keyPath = path.join(dir, `${base}.key`);
    fs.writeFileSync(certPath, cert.certPem);
    fs.writeFileSync(keyPath, cert.key.privateKeyPem, { mode: 0o600 });
    return { cert: certPath, key: keyPath };
}

/** The first line of a PEM block with this label, e.g. pemBegin("RSA PRIVATE KEY"). */
export function pemBegin(label: string): string {
    return `-----BEGIN ${label}-----`;
}

/** Whole PEM blocks whose label matches `label` (a regular-expression source), e.g. "(?:RSA |EC )?PRIVATE KEY". */
export function pemBlocks(text: string, label: string): string[] {
    return text.match(new RegExp(`${pemBegin(`(?:${label})`)}[\\s\\S]+?-----END (?:${label})-----`, "g")) ?? [];
}

/** A syntactically PEM-shaped placeholder (not key material) for tests that only need the shape. */
export function fakePem(label: string, body: string): string {
    return `${pemBegin(label)}\n${body}\n-----END ${label}-----\n`;
}
