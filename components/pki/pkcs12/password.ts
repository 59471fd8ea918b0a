/**
 * PKCS#12 passwords, profiles and friendly names: generation and validation (pure, no Pulumi).
 *
 * Everything here is self-contained (node:crypto is required inside the functions) so the
 * Pkcs12Bundle dynamic provider can call it after `pulumi.runtime.serializeFunction`.
 */
import { InputError, showValue } from "../../util/errors";
import { forbiddenNameCharacter, NAME_CHARACTER_FIX } from "../../util/names";
import type { Pkcs12Profile } from "./pfx";

/** The profiles `buildPkcs12` understands (kept here as well so this module does not load pfx.ts). */
const PROFILES: readonly Pkcs12Profile[] = ["compat", "modern"];

/** Length of a generated password: 24 symbols of a 62-letter alphabet, log2(62) * 24 ≈ 142.9 bits. */
export const GENERATED_PASSWORD_LENGTH = 24;

/** Letters and digits only: printable ASCII (keytool rejects anything else) that needs no shell quoting. */
const PASSWORD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A fresh random PKCS#12 password: 24 alphanumerics from the OS CSPRNG, chosen without modulo bias
 * (`crypto.randomInt`), ≈ 143 bits of entropy. Safe to paste into a shell, a Java keystore prompt
 * or the macOS/iOS/Android import dialogs.
 */
export function generatePkcs12Password(): string {
    const crypto = require("crypto") as typeof import("crypto");
    let out = "";
    for (let i = 0; i < GENERATED_PASSWORD_LENGTH; i++) {
        out += PASSWORD_ALPHABET[crypto.randomInt(PASSWORD_ALPHABET.length)];
    }
    return out;
}

/** Printable ASCII (space through tilde). */
function isPrintableAscii(value: string): boolean {
    return /^[\x20-\x7e]*$/.test(value);
}

/**
 * Throws `InputError` unless `value` is a usable PKCS#12 password: a non-empty string of printable
 * ASCII (U+0020..U+007E). Java's keytool rejects non-ASCII PKCS#12 passwords, and the PKCS#12 KDF
 * (BMPString) and PBKDF2 (UTF-8) would encode other characters differently; an empty password makes
 * most importers skip the MAC check or refuse the file.
 */
export function validatePkcs12Password(value: unknown, input: string): void {
    if (typeof value !== "string") {
        throw new InputError(input, `must be a string, got ${describeValue(value)}`, "pass the password as a string, or omit it to have a random one generated");
    }
    if (value.length === 0) {
        throw new InputError(input, "is empty; importers (macOS Keychain, Windows, keytool) refuse or mishandle PKCS#12 files without a password", "pass a non-empty password, or omit it to have a random one generated");
    }
    if (!isPrintableAscii(value)) {
        const bad = [...value].find((ch) => !isPrintableAscii(ch)) ?? "";
        const code = bad.codePointAt(0) ?? 0;
        throw new InputError(
            input,
            `contains the character U+${code.toString(16).toUpperCase().padStart(4, "0")}, which is not printable ASCII; Java keytool rejects such PKCS#12 passwords and other tools encode them differently`,
            "use only printable ASCII characters (space to ~), e.g. letters and digits, or omit the password to have a random one generated",
        );
    }
}

/** Returns `value` as a profile, or throws `InputError` listing the valid profiles. */
export function validatePkcs12Profile(value: unknown, input: string): Pkcs12Profile {
    if (typeof value !== "string" || !(PROFILES as readonly string[]).includes(value)) {
        throw new InputError(
            input,
            `${describeValue(value)} is not a PKCS#12 profile`,
            `use one of ${PROFILES.map((p) => JSON.stringify(p)).join(", ")} ("compat": 3DES + HMAC-SHA1, imports everywhere incl. macOS, iOS, Android, Java 8; "modern": AES-256 + HMAC-SHA256)`,
        );
    }
    return value as Pkcs12Profile;
}

/**
 * Returns `value`, or throws `InputError` unless it can be a PKCS#12 friendlyName: a non-empty string of at most
 * 256 characters without control or format characters (util/names.ts) or characters outside the Basic Multilingual Plane
 * (the attribute is a BMPString; NSS and keytool use it as nickname/alias).
 */
export function validatePkcs12FriendlyName(value: unknown, input: string): string {
    if (typeof value !== "string" || value.length === 0) {
        throw new InputError(input, `must be a non-empty string, got ${describeValue(value)}`, "pass a name such as the certificate's common name");
    }
    if (value.length > 256) {
        throw new InputError(input, `is ${value.length} characters long`, "use at most 256 characters");
    }
    const bad = forbiddenNameCharacter(value);
    if (bad) {
        throw new InputError(input, `${showValue(value)} contains ${bad}`, NAME_CHARACTER_FIX);
    }
    if (/[\ud800-\udfff]/.test(value)) {
        throw new InputError(input, "contains a character outside the Basic Multilingual Plane (e.g. an emoji), which a BMPString cannot hold", "use characters up to U+FFFF only");
    }
    return value;
}

function describeValue(value: unknown): string {
    if (value === undefined) return "undefined";
    if (value === null) return "null";
    if (typeof value === "string") return showValue(value);
    return typeof value;
}
