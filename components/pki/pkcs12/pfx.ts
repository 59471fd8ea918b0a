/**
 * PKCS#12 (RFC 7292) bundle builder: pure, no Pulumi.
 *
 * The ASN.1 structures come from @peculiar/asn1-pfx / asn1-schema (PFX, AuthenticatedSafe,
 * SafeContents, SafeBag, CertBag, PKCS8ShroudedKeyBag, MacData, PKCS12Attribute) and
 * @peculiar/asn1-cms (ContentInfo, EncryptedContentInfo); ciphers, PBKDF2 and HMAC come from
 * node:crypto. Hand-written here is only what no library offers:
 *   - the RFC 7292 appendix B key derivation (3DES key/IV of pbeWithSHAAnd3-KeyTripleDES-CBC and
 *     the MAC key of both profiles), see `pkcs12Kdf`;
 *   - four small parameter schemas (pkcs-12PbeParams, PBES2-params, PBKDF2-params and the PKCS#7
 *     EncryptedData envelope), declared with asn1-schema at call time.
 *
 * Serialization rule: every third-party module (and node:crypto) is `require`d inside the functions
 * and no Buffer lives at module level, so `pulumi.runtime.serializeFunction` can capture these
 * functions for the Pkcs12Bundle dynamic provider. Module-level constants are primitives only.
 */
import type { KeyObject, X509Certificate } from "crypto";
import { InputError } from "../../util/errors";
import { throwIfAny } from "../../util/errors";
import { forbiddenNameCharacter } from "../../util/names";
import { validatePkcs12FriendlyName, validatePkcs12Password, validatePkcs12Profile } from "./password";

/**
 * How a bundle is protected.
 * - `compat`: pbeWithSHAAnd3-KeyTripleDES-CBC for the key bag and the certificate bags, HMAC-SHA1 MAC,
 *   2048 iterations. Imports on macOS Keychain, iOS, Android, older Windows and Java 8, where files
 *   with OpenSSL 3's defaults (AES + HMAC-SHA256) fail.
 * - `modern`: PBES2 (PBKDF2-HMAC-SHA256 + AES-256-CBC) for the key bag and the certificate bags,
 *   HMAC-SHA256 MAC (RFC 7292 KDF with SHA-256, as OpenSSL 3 writes), 10,000 iterations.
 *   Reads in OpenSSL 3, NSS, Java 17 (tested; JDK 8u301/11.0.12 and later read SHA-256 MACs), current
 *   Windows; not on older Apple/Android stacks or Java 8 before 8u301.
 */
export type Pkcs12Profile = "compat" | "modern";

/** All profiles, the default first. */
export const PKCS12_PROFILES: readonly Pkcs12Profile[] = ["compat", "modern"];

/** The profile callers should use when the user chose none. */
export const DEFAULT_PKCS12_PROFILE: Pkcs12Profile = "compat";

/** Iteration count of the compat profile (key bag, cert bags and MAC): OpenSSL's PKCS12_DEFAULT_ITER. */
export const COMPAT_ITERATIONS = 2048;

/**
 * Iteration count of the modern profile (PBKDF2 for key and cert bags, and the MAC KDF).
 *
 * 10,000 is what the JDK (>= 12) writes by default for PKCS#12 (keystore.pkcs12.*IterationCount),
 * about five times OpenSSL 3's 2048, and keeps a bundle build well under 50 ms: the cost is dominated by
 * the RFC 7292 MAC KDF, which runs one node:crypto call per iteration (≈ 1.2-2 µs each, ≈ 12-20 ms),
 * plus two native PBKDF2 runs (≈ 3-5 ms together), so a modern bundle costs about what a compat one
 * does (7 × 2048 SHA-1 calls). More would not buy much: generated passwords carry ≈ 143 bits of
 * entropy, and a guesser attacks whichever of the MAC and the encryption is cheapest, so all three use
 * one count. bench/pkcs12.bench.ts measures it.
 */
export const MODERN_ITERATIONS = 10_000;

/**
 * Bounds for an explicit `iterations`. Build time grows linearly: roughly 8-15 µs per iteration for
 * compat (seven SHA-1 chains) and 2-4 µs for modern (one SHA-256 chain plus two PBKDF2 runs).
 */
export const PKCS12_MIN_ITERATIONS = 2048;
export const PKCS12_MAX_ITERATIONS = 1_000_000;

/** Salt length (bytes) for every PBE and the MAC: 128 bits, as NIST SP 800-132 asks. */
export const PKCS12_SALT_LENGTH = 16;

// Object identifiers (RFC 7292, RFC 8018, RFC 5652, NIST CSOR).
const OID_DATA = "1.2.840.113549.1.7.1";
const OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6";
const OID_PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3";
const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_PBKDF2 = "1.2.840.113549.1.5.12";
const OID_HMAC_SHA256 = "1.2.840.113549.2.9";
const OID_AES256_CBC = "2.16.840.1.101.3.4.1.42";
const OID_SHA1 = "1.3.14.3.2.26";
const OID_SHA256 = "2.16.840.1.101.3.4.2.1";
const OID_FRIENDLY_NAME = "1.2.840.113549.1.9.20";
const OID_LOCAL_KEY_ID = "1.2.840.113549.1.9.21";
const OID_PKCS8_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2";
const OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3";
const OID_X509_CERTIFICATE = "1.2.840.113549.1.9.22.1";

/** Input of `buildPkcs12`. */
export interface Pkcs12Input {
    /** The leaf's private key: PKCS#1 ("RSA PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") PEM, unencrypted. */
    privateKeyPem: string;
    /** The leaf certificate (one PEM certificate). */
    certificatePem: string;
    /** CA certificates to include, one PEM certificate each, the leaf's issuer first, then its issuer, and so on. */
    chainPems?: string[];
    /** Password protecting the key, the certificates and the MAC: non-empty printable ASCII. */
    password: string;
    /** Protection profile, see `Pkcs12Profile`. */
    profile: Pkcs12Profile;
    /** friendlyName of the key and the leaf certificate (keytool alias, NSS nickname, Keychain label). */
    friendlyName: string;
    /** Iteration count for the PBEs and the MAC. Default: 2048 (compat), 10,000 (modern). */
    iterations?: number;
}

/** Hash functions the RFC 7292 KDF is used with here. */
export type Pkcs12KdfHash = "sha1" | "sha256" | "sha384" | "sha512";

/** RFC 7292 B.3: the password as a BMPString (UTF-16BE) followed by two zero bytes. */
export function pkcs12PasswordBytes(password: string): Buffer {
    const out = Buffer.alloc(password.length * 2 + 2);
    for (let i = 0; i < password.length; i++) {
        out.writeUInt16BE(password.charCodeAt(i), i * 2);
    }
    return out;
}

/**
 * The RFC 7292 appendix B.2 key derivation ("PKCS#12 KDF").
 *
 * @param hash      the hash H (u = digest length, v = block length: 64 bytes for SHA-1/SHA-256, 128 for SHA-384/512)
 * @param password  the password bytes, already formatted (see `pkcs12PasswordBytes`; may be empty)
 * @param salt      the salt bytes
 * @param iterations r, the number of times H is applied (>= 1)
 * @param id        1 = key material, 2 = IV, 3 = MAC key
 * @param length    n, the number of bytes to produce
 */
export function pkcs12Kdf(hash: Pkcs12KdfHash, password: Uint8Array, salt: Uint8Array, iterations: number, id: 1 | 2 | 3, length: number): Buffer {
    const crypto = require("crypto") as typeof import("crypto");
    if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`pkcs12Kdf: iterations must be a positive integer, got ${iterations}`);
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`pkcs12Kdf: length must be a non-negative integer, got ${length}`);
    const u = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[hash];
    const v = hash === "sha384" || hash === "sha512" ? 128 : 64;
    if (u === undefined) throw new RangeError(`pkcs12Kdf: unsupported hash ${String(hash)}`);
    // crypto.hash (Node >= 20.12) is a one-shot digest, about twice as fast as createHash in this loop.
    const digest: (data: Uint8Array) => Buffer =
        typeof crypto.hash === "function"
            ? (data) => crypto.hash(hash, data, "buffer") as unknown as Buffer
            : (data) => crypto.createHash(hash).update(data).digest();

    // 1. D = v copies of ID. 2./3. S and P: salt and password repeated to a multiple of v bytes.
    const diversifier = Buffer.alloc(v, id);
    const stretch = (bytes: Uint8Array): Buffer => {
        const out = Buffer.alloc(bytes.length === 0 ? 0 : v * Math.ceil(bytes.length / v));
        for (let i = 0; i < out.length; i++) out[i] = bytes[i % bytes.length];
        return out;
    };
    // 4. I = S || P.
    const I = Buffer.concat([stretch(salt), stretch(password)]);
    // 5. c = ceil(n / u).
    const c = Math.ceil(length / u);
    const blocks: Buffer[] = [];
    const B = Buffer.alloc(v);
    for (let i = 0; i < c; i++) {
        // 6a. A_i = H^r(D || I).
        let A: Buffer = crypto.createHash(hash).update(diversifier).update(I).digest();
        for (let r = 1; r < iterations; r++) A = digest(A);
        blocks.push(A);
        if (i === c - 1) break;
        // 6b. B = A_i repeated to v bytes. 6c. I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block I_j of I.
        for (let k = 0; k < v; k++) B[k] = A[k % u];
        for (let j = 0; j < I.length; j += v) {
            let carry = 1;
            for (let k = v - 1; k >= 0; k--) {
                const sum = I[j + k] + B[k] + carry;
                I[j + k] = sum & 0xff;
                carry = sum >>> 8;
            }
        }
    }
    // 7. The first n bytes of A_1 || A_2 || ... || A_c.
    return Buffer.concat(blocks).subarray(0, length);
}

/**
 * All PEM certificates in `text`, in order (text outside the blocks is ignored). A scan with indexOf, linear
 * in the text: a lazy regex (`BEGIN[\s\S]*?END`, global) rescans the rest of the text from every BEGIN
 * without an END, quadratic time (12 s for a megabyte of BEGIN lines).
 */
export function splitPemCertificates(text: string): string[] {
    const begin = "-----BEGIN CERTIFICATE-----";
    const end = "-----END CERTIFICATE-----";
    const blocks: string[] = [];
    for (let from = 0; ; ) {
        const start = text.indexOf(begin, from);
        const stop = start < 0 ? -1 : text.indexOf(end, start + begin.length);
        if (stop < 0) return blocks;
        from = stop + end.length;
        blocks.push(text.slice(start, from) + "\n");
    }
}

/** Longest default friendlyName: a CN's upper bound (RFC 5280 ub-common-name), one line in a certificate picker. */
export const DEFAULT_FRIENDLY_NAME_MAX_CHARS = 64;

/**
 * The default friendlyName for a certificate: the decoded value of its subject's most specific CN, read from
 * the certificate's ASN.1 (an RFC 2253 string would leak its escapes: `Doe\, Jane`, `a + UID=b`); without a
 * usable CN, the most specific other subject attribute with a text value; else "certificate". Always a valid
 * friendlyName (see {@link usableFriendlyName}). Throws an InputError naming `certificatePem` when the PEM
 * is not a certificate.
 */
export function defaultFriendlyName(certificatePem: string): string {
    const crypto = require("crypto") as typeof import("crypto");
    const { AsnConvert } = require("@peculiar/asn1-schema") as typeof import("@peculiar/asn1-schema");
    const { Certificate } = require("@peculiar/asn1-x509") as typeof import("@peculiar/asn1-x509");
    let der: Buffer;
    try {
        der = new crypto.X509Certificate(certificatePem).raw;
    } catch (e) {
        throw new InputError("certificatePem", `is not a PEM certificate (${(e as Error).message})`, "pass the certificate exactly as issued, one -----BEGIN CERTIFICATE----- block");
    }
    // DER order runs from the least to the most specific RDN.
    const attributes = AsnConvert.parse(der, Certificate).tbsCertificate.subject.flatMap((rdn) => [...rdn]).reverse();
    const text = (value: { anyValue?: ArrayBuffer; toString(): string }) => (value.anyValue ? "" : value.toString());
    const COMMON_NAME = "2.5.4.3";
    const candidates = [...attributes.filter((a) => a.type === COMMON_NAME), ...attributes.filter((a) => a.type !== COMMON_NAME)];
    for (const attribute of candidates) {
        const name = usableFriendlyName(text(attribute.value));
        if (name !== "") return name;
    }
    return "certificate";
}

/**
 * `text` as a friendlyName every importer takes: without the characters the name rule refuses (util/names.ts)
 * or a BMPString cannot hold (outside the Basic Multilingual Plane, e.g. emoji), the blanks their removal
 * left tidied, at most {@link DEFAULT_FRIENDLY_NAME_MAX_CHARS} characters. "" when nothing is left.
 */
export function usableFriendlyName(text: string): string {
    const chars = Array.from(text);
    const kept = chars.filter((ch) => ch.length === 1 && forbiddenNameCharacter(ch) === undefined);
    const joined = kept.length === chars.length ? text : kept.join("").replace(/ {2,}/g, " ");
    return joined.trim().slice(0, DEFAULT_FRIENDLY_NAME_MAX_CHARS).trim();
}

/** Builds a DER PKCS#12 file holding the key, the leaf certificate and the chain. See `Pkcs12Input`. */
export function buildPkcs12(input: Pkcs12Input): Buffer {
    const crypto = require("crypto") as typeof import("crypto");

    // --- validate ----------------------------------------------------------------------------------
    const errors: InputError[] = [];
    const collect = (fn: () => void) => {
        try {
            fn();
        } catch (e) {
            if (e instanceof InputError) errors.push(e);
            else throw e;
        }
    };
    collect(() => validatePkcs12Profile(input.profile, "profile"));
    collect(() => validatePkcs12Password(input.password, "password"));
    collect(() => validatePkcs12FriendlyName(input.friendlyName, "friendlyName"));
    const iterations = input.iterations ?? (input.profile === "modern" ? MODERN_ITERATIONS : COMPAT_ITERATIONS);
    collect(() => {
        if (!Number.isInteger(iterations) || iterations < PKCS12_MIN_ITERATIONS || iterations > PKCS12_MAX_ITERATIONS) {
            throw new InputError("iterations", `${iterations} is not an integer between ${PKCS12_MIN_ITERATIONS} and ${PKCS12_MAX_ITERATIONS}`, "omit it for the profile's default, or pass an integer in that range");
        }
    });
    let key: KeyObject | undefined;
    collect(() => (key = parsePrivateKey(input.privateKeyPem, "privateKeyPem")));
    let leaf: X509Certificate | undefined;
    collect(() => (leaf = parseCertificate(input.certificatePem, "certificatePem")));
    const chain: X509Certificate[] = [];
    (input.chainPems ?? []).forEach((pem, i) => collect(() => chain.push(parseCertificate(pem, `chainPems[${i}]`))));
    throwIfAny(errors);
    if (!key || !leaf) throw new Error("unreachable: key and certificate were validated");

    if (!leaf.checkPrivateKey(key)) {
        throw new InputError(
            "privateKeyPem",
            `does not match the public key of certificatePem (subject ${oneLine(leaf.subject)}, serial ${leaf.serialNumber})`,
            "pass the private key the certificate was issued for (after a key rotation, pass the new key and the certificate issued for it together)",
        );
    }
    let previous = leaf;
    chain.forEach((ca, i) => {
        if (!previous.checkIssued(ca) || !previous.verify(ca.publicKey)) {
            throw new InputError(
                `chainPems[${i}]`,
                `(${oneLine(ca.subject)}) did not issue ${i === 0 ? "the leaf certificate" : `chainPems[${i - 1}]`} (${oneLine(previous.subject)}, issuer ${oneLine(previous.issuer)})`,
                "list the CA certificates leaf's issuer first, then its issuer, and so on, without the leaf itself",
            );
        }
        previous = ca;
    });

    // --- build -------------------------------------------------------------------------------------
    const { AsnBmpStringConverter, AsnConvert, OctetString } = require("@peculiar/asn1-schema") as typeof import("@peculiar/asn1-schema");
    const pfxLib = require("@peculiar/asn1-pfx") as typeof import("@peculiar/asn1-pfx");
    const { EncryptedData: Pkcs8EncryptedData } = require("@peculiar/asn1-pkcs8") as typeof import("@peculiar/asn1-pkcs8");
    const { AlgorithmIdentifier } = require("@peculiar/asn1-x509") as typeof import("@peculiar/asn1-x509");
    const cms = require("@peculiar/asn1-cms") as typeof import("@peculiar/asn1-cms");
    const schemas = pkcs12ParameterSchemas();

    const profile = input.profile;
    const password = input.password;
    const der = (value: unknown): ArrayBuffer => AsnConvert.serialize(value);
    const octets = (bytes: Uint8Array): ArrayBuffer => der(new OctetString(bytes));

    /** Encrypts `plaintext` with the profile's password-based scheme; fresh salt (and IV) each call. */
    const encrypt = (plaintext: Uint8Array): { algorithm: InstanceType<typeof AlgorithmIdentifier>; ciphertext: Buffer } => {
        const salt = crypto.randomBytes(PKCS12_SALT_LENGTH);
        if (profile === "compat") {
            const bmp = pkcs12PasswordBytes(password);
            const cipherKey = pkcs12Kdf("sha1", bmp, salt, iterations, 1, 24);
            const iv = pkcs12Kdf("sha1", bmp, salt, iterations, 2, 8);
            const cipher = crypto.createCipheriv("des-ede3-cbc", cipherKey, iv);
            const params = new schemas.Pkcs12PbeParams();
            params.salt = new OctetString(salt);
            params.iterations = iterations;
            return {
                algorithm: new AlgorithmIdentifier({ algorithm: OID_PBE_SHA1_3DES, parameters: der(params) }),
                ciphertext: Buffer.concat([cipher.update(plaintext), cipher.final()]),
            };
        }
        const iv = crypto.randomBytes(16);
        const cipherKey = crypto.pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
        const cipher = crypto.createCipheriv("aes-256-cbc", cipherKey, iv);
        const kdfParams = new schemas.Pbkdf2Params();
        kdfParams.salt = new OctetString(salt);
        kdfParams.iterationCount = iterations;
        kdfParams.prf = new AlgorithmIdentifier({ algorithm: OID_HMAC_SHA256, parameters: derNull() });
        const pbes2 = new schemas.Pbes2Params();
        pbes2.keyDerivationFunc = new AlgorithmIdentifier({ algorithm: OID_PBKDF2, parameters: der(kdfParams) });
        pbes2.encryptionScheme = new AlgorithmIdentifier({ algorithm: OID_AES256_CBC, parameters: octets(iv) });
        return {
            algorithm: new AlgorithmIdentifier({ algorithm: OID_PBES2, parameters: der(pbes2) }),
            ciphertext: Buffer.concat([cipher.update(plaintext), cipher.final()]),
        };
    };

    // friendlyName and localKeyId (SHA-1 of the leaf certificate DER, the OpenSSL convention) tie the key
    // bag to the leaf cert bag. Sorted by encoding so the SET OF is DER.
    const leafDer = leaf.raw;
    const attribute = (attrId: string, value: ArrayBuffer) => {
        // PKCS12Attribute's constructor ignores its argument (asn1-pfx 2.x), so set the fields.
        const attr = new pfxLib.PKCS12Attribute();
        attr.attrId = attrId;
        attr.attrValues = [value];
        return attr;
    };
    const bagAttributes = [
        attribute(OID_FRIENDLY_NAME, der(AsnBmpStringConverter.toASN(input.friendlyName))),
        attribute(OID_LOCAL_KEY_ID, octets(crypto.createHash("sha1").update(leafDer).digest())),
    ]
        .map((attr) => ({ attr, encoding: Buffer.from(der(attr)) }))
        .sort((a, b) => Buffer.compare(a.encoding, b.encoding))
        .map(({ attr }) => attr);

    // Certificates: the leaf (with attributes) then the chain, in one SafeContents, encrypted (PKCS#7 EncryptedData).
    const certBag = (certDer: Buffer, attributes?: InstanceType<typeof pfxLib.PKCS12Attribute>[]) =>
        new pfxLib.SafeBag({
            bagId: OID_CERT_BAG,
            bagValue: der(new pfxLib.CertBag({ certId: OID_X509_CERTIFICATE, certValue: octets(certDer) })),
            bagAttributes: attributes,
        });
    const certSafe = new pfxLib.SafeContents([certBag(leafDer, bagAttributes), ...chain.map((ca) => certBag(ca.raw))]);
    const certEncryption = encrypt(new Uint8Array(der(certSafe)));
    const encryptedData = new schemas.Pkcs7EncryptedData();
    encryptedData.version = 0;
    encryptedData.encryptedContentInfo = new cms.EncryptedContentInfo({
        contentType: OID_DATA,
        contentEncryptionAlgorithm: certEncryption.algorithm,
        encryptedContent: new cms.EncryptedContent({ value: new OctetString(certEncryption.ciphertext) }),
    });
    const certContentInfo = new cms.ContentInfo({ contentType: OID_ENCRYPTED_DATA, content: der(encryptedData) });

    // The key: PKCS#8 PrivateKeyInfo, encrypted into a PKCS8ShroudedKeyBag, in a plain Data SafeContents.
    const pkcs8 = key.export({ type: "pkcs8", format: "der" });
    const keyEncryption = encrypt(pkcs8);
    pkcs8.fill(0); // do not leave the plaintext key lying around in this buffer
    const shrouded = new pfxLib.PKCS8ShroudedKeyBag({
        encryptionAlgorithm: keyEncryption.algorithm,
        encryptedData: new Pkcs8EncryptedData(keyEncryption.ciphertext),
    });
    const keySafe = new pfxLib.SafeContents([new pfxLib.SafeBag({ bagId: OID_PKCS8_SHROUDED_KEY_BAG, bagValue: der(shrouded), bagAttributes })]);
    const keyContentInfo = new cms.ContentInfo({ contentType: OID_DATA, content: octets(new Uint8Array(der(keySafe))) });

    // AuthenticatedSafe: certificates first, then the key (the order OpenSSL writes).
    const authSafe = Buffer.from(der(new pfxLib.AuthenticatedSafe([certContentInfo, keyContentInfo])));

    // MAC over the AuthenticatedSafe octets; the key comes from the RFC 7292 KDF (ID 3) with the MAC's hash.
    const macHash = profile === "compat" ? "sha1" : "sha256";
    const macSalt = crypto.randomBytes(PKCS12_SALT_LENGTH);
    const macKey = pkcs12Kdf(macHash, pkcs12PasswordBytes(password), macSalt, iterations, 3, macHash === "sha1" ? 20 : 32);
    const mac = crypto.createHmac(macHash, macKey).update(authSafe).digest();

    const pfx = new pfxLib.PFX();
    pfx.version = 3;
    pfx.authSafe = new cms.ContentInfo({ contentType: OID_DATA, content: octets(authSafe) });
    pfx.macData = new pfxLib.MacData();
    pfx.macData.mac.digestAlgorithm = new AlgorithmIdentifier({ algorithm: macHash === "sha1" ? OID_SHA1 : OID_SHA256, parameters: derNull() });
    pfx.macData.mac.digest = new OctetString(mac);
    pfx.macData.macSalt = new OctetString(macSalt);
    pfx.macData.iterations = iterations;
    return Buffer.from(der(pfx));
}

/** DER NULL (05 00), the parameters of the digest and HMAC algorithm identifiers. */
function derNull(): ArrayBuffer {
    return new Uint8Array([0x05, 0x00]).buffer;
}

function oneLine(name: string): string {
    return name.replace(/\n/g, ", ");
}

function parsePrivateKey(pem: unknown, input: string): KeyObject {
    const crypto = require("crypto") as typeof import("crypto");
    if (typeof pem !== "string" || !/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(pem)) {
        throw new InputError(input, "is not an unencrypted PEM private key", 'pass a PKCS#1 ("RSA PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") PEM, e.g. tls.PrivateKey.privateKeyPem');
    }
    let key: KeyObject;
    try {
        key = crypto.createPrivateKey({ key: pem, format: "pem" });
    } catch (e) {
        throw new InputError(input, `could not be parsed as a private key (${(e as Error).message})`, "pass the PEM exactly as written by the key generator, including the BEGIN/END lines");
    }
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const supported = key.asymmetricKeyType === "rsa" || (key.asymmetricKeyType === "ec" && (curve === "prime256v1" || curve === "secp384r1" || curve === "secp521r1"));
    if (!supported) {
        throw new InputError(input, `is a ${key.asymmetricKeyType}${curve ? ` (${curve})` : ""} key, which PKCS#12 importers do not handle consistently`, "use an RSA key or an ECDSA key on P-256 or P-384");
    }
    return key;
}

function parseCertificate(pem: unknown, input: string): X509Certificate {
    const crypto = require("crypto") as typeof import("crypto");
    const blocks = typeof pem === "string" ? splitPemCertificates(pem) : [];
    if (blocks.length !== 1) {
        throw new InputError(input, blocks.length === 0 ? "holds no PEM certificate" : `holds ${blocks.length} PEM certificates where one is expected`, "pass exactly one -----BEGIN CERTIFICATE----- block");
    }
    try {
        return new crypto.X509Certificate(blocks[0]);
    } catch (e) {
        throw new InputError(input, `could not be parsed as an X.509 certificate (${(e as Error).message})`, "pass the PEM exactly as issued");
    }
}

/**
 * Parameter schemas no installed library defines, declared with asn1-schema at call time (a
 * module-level class with ASN.1 metadata would not survive serializeFunction):
 *
 *   pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }               -- RFC 7292 C
 *   PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER,
 *                                keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 } -- RFC 8018 A.2
 *   PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier } -- RFC 8018 A.4
 *   EncryptedData ::= SEQUENCE { version INTEGER, encryptedContentInfo EncryptedContentInfo } -- PKCS#7 (RFC 2315 13)
 */
function pkcs12ParameterSchemas() {
    const { AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } = require("@peculiar/asn1-schema") as typeof import("@peculiar/asn1-schema");
    const { AlgorithmIdentifier } = require("@peculiar/asn1-x509") as typeof import("@peculiar/asn1-x509");
    const { EncryptedContentInfo } = require("@peculiar/asn1-cms") as typeof import("@peculiar/asn1-cms");
    type OctetStringT = InstanceType<typeof OctetString>;
    type AlgorithmIdentifierT = InstanceType<typeof AlgorithmIdentifier>;

    const sequence = <T extends new () => object>(cls: T, fields: Record<string, Parameters<typeof AsnProp>[0]>): T => {
        AsnType({ type: AsnTypeTypes.Sequence })(cls);
        for (const [name, options] of Object.entries(fields)) AsnProp(options)(cls.prototype, name);
        return cls;
    };

    class Pkcs12PbeParams {
        salt: OctetStringT = new OctetString();
        iterations = 0;
    }
    class Pbkdf2Params {
        salt: OctetStringT = new OctetString();
        iterationCount = 0;
        keyLength?: number;
        prf?: AlgorithmIdentifierT;
    }
    class Pbes2Params {
        keyDerivationFunc: AlgorithmIdentifierT = new AlgorithmIdentifier();
        encryptionScheme: AlgorithmIdentifierT = new AlgorithmIdentifier();
    }
    class Pkcs7EncryptedData {
        version = 0;
        encryptedContentInfo: InstanceType<typeof EncryptedContentInfo> = new EncryptedContentInfo();
    }
    return {
        Pkcs12PbeParams: sequence(Pkcs12PbeParams, { salt: { type: OctetString }, iterations: { type: AsnPropTypes.Integer } }),
        Pbkdf2Params: sequence(Pbkdf2Params, {
            salt: { type: OctetString },
            iterationCount: { type: AsnPropTypes.Integer },
            keyLength: { type: AsnPropTypes.Integer, optional: true },
            prf: { type: AlgorithmIdentifier, optional: true },
        }),
        Pbes2Params: sequence(Pbes2Params, { keyDerivationFunc: { type: AlgorithmIdentifier }, encryptionScheme: { type: AlgorithmIdentifier } }),
        Pkcs7EncryptedData: sequence(Pkcs7EncryptedData, { version: { type: AsnPropTypes.Integer }, encryptedContentInfo: { type: EncryptedContentInfo } }),
    };
}
