/**
 * The RFC 7292 appendix B key derivation (pkcs12Kdf) against published vectors and against OpenSSL.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import { pkcs12Kdf, pkcs12PasswordBytes, Pkcs12KdfHash } from "../../../../components/pki/pkcs12/pfx";

const hex = (s: string) => Buffer.from(s, "hex");

describe("pkcs12PasswordBytes (RFC 7292 B.1: BMPString + two zero bytes)", () => {
    it("encodes ASCII as UTF-16BE with a 0x0000 terminator", () => {
        expect(pkcs12PasswordBytes("smeg").toString("hex")).toBe("0073006d006500670000");
        expect(pkcs12PasswordBytes("").toString("hex")).toBe("0000");
    });
});

describe("pkcs12Kdf: published SHA-1 vectors", () => {
    // Dr Stephen Henson's PKCS#12 KDF vectors (https://www.drh-consultancy.demon.co.uk/test.txt), as used by
    // BouncyCastle's org.bouncycastle.crypto.test.PKCS12Test (bcgit/bc-java, core/src/test/java/org/
    // bouncycastle/crypto/test/PKCS12Test.java): run1 = ID 1 (key, 24 bytes), run2 = ID 2 (IV, 8 bytes),
    // run3 = ID 3 (MAC key, 20 bytes); passwords go through PKCS12PasswordToBytes (BMPString + 00 00).
    const vectors: { password: string; salt: string; iterations: number; id: 1 | 2 | 3; length: number; expected: string }[] = [
        { password: "smeg", salt: "0A58CF64530D823F", iterations: 1, id: 1, length: 24, expected: "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3" },
        { password: "smeg", salt: "0A58CF64530D823F", iterations: 1, id: 2, length: 8, expected: "79993DFE048D3B76" },
        { password: "smeg", salt: "642B99AB44FB4B1F", iterations: 1, id: 1, length: 24, expected: "F3A95FEC48D7711E985CFE67908C5AB79FA3D7C5CAA5D966" },
        { password: "smeg", salt: "642B99AB44FB4B1F", iterations: 1, id: 2, length: 8, expected: "C0A38D64A79BEA1D" },
        { password: "smeg", salt: "3D83C0E4546AC140", iterations: 1, id: 3, length: 20, expected: "8D967D88F6CAA9D714800AB3D48051D63F73A312" },
        { password: "queeg", salt: "05DEC959ACFF72F7", iterations: 1000, id: 1, length: 24, expected: "ED2034E36328830FF09DF1E1A07DD357185DAC0D4F9EB3D4" },
        { password: "queeg", salt: "05DEC959ACFF72F7", iterations: 1000, id: 2, length: 8, expected: "11DEDAD7758D4860" },
        { password: "queeg", salt: "1682C0FC5B3F7EC5", iterations: 1000, id: 1, length: 24, expected: "483DD6E919D7DE2E8E648BA8F862F3FBFBDC2BCB2C02957F" },
        { password: "queeg", salt: "1682C0FC5B3F7EC5", iterations: 1000, id: 2, length: 8, expected: "9D461D1B00355C50" },
        { password: "queeg", salt: "263216FCC2FAB31C", iterations: 1000, id: 3, length: 20, expected: "5EC4C7A80DF652294C3925B6489A7AB857C83476" },
    ];
    it.each(vectors)("$password / salt $salt / $iterations iterations / ID $id", ({ password, salt, iterations, id, length, expected }) => {
        expect(pkcs12Kdf("sha1", pkcs12PasswordBytes(password), hex(salt), iterations, id, length).toString("hex").toUpperCase()).toBe(expected);
    });

    it("keeps leading zero bytes of I_j (Go x/crypto pkcs12 TestThatPBKDFHandlesLeadingZeros)", () => {
        // golang.org/x/crypto/pkcs12/pbkdf_test.go: empty password (BMP "\x00\x00"), 2048 iterations, ID 1, 24 bytes.
        const key = pkcs12Kdf("sha1", hex("0000"), hex("f37e05b518324b4b"), 2048, 1, 24);
        expect(key.toString("hex")).toBe("00f759ff47d14dd03665d5943cb3c4a39a2555c02aed66e1");
    });
});

describe("pkcs12Kdf: SHA-256 (the modern profile's MAC key)", () => {
    it("matches the published OpenSSL PKCS12_key_gen vector", () => {
        // Crypt::OpenSSL::PKCS::Func t/base.t (CPAN; a thin wrapper over OpenSSL's PKCS12_key_gen):
        // PKCS12_key_gen('123456', salt e241f01650dbeae4, id 3, 2048 iterations, 32 bytes, sha256).
        const key = pkcs12Kdf("sha256", pkcs12PasswordBytes("123456"), hex("e241f01650dbeae4"), 2048, 3, 32);
        expect(key.toString("hex").toUpperCase()).toBe("721259F14AAD70B58839F71566B433DA1B8AD08F650F4D02FAAA0B9B095BB51D");
    });
});

describe("pkcs12Kdf: cross-check against OpenSSL 3 (openssl kdf PKCS12KDF)", () => {
    function opensslKdf(hash: Pkcs12KdfHash, password: Buffer, salt: Buffer, iterations: number, id: number, length: number): string {
        const out = execFileSync(
            "openssl",
            [
                "kdf",
                "-keylen", String(length),
                "-kdfopt", `digest:${hash.toUpperCase()}`,
                "-kdfopt", `hexpass:${password.toString("hex")}`,
                "-kdfopt", `hexsalt:${salt.toString("hex")}`,
                "-kdfopt", `iter:${iterations}`,
                "-kdfopt", `id:${id}`,
                "PKCS12KDF",
            ],
            { encoding: "utf8" },
        );
        return out.trim().replace(/:/g, "").toLowerCase();
    }

    // Cases chosen to exercise: several output blocks (length > u, so the I_j update runs), password and
    // salt longer than the block size v, both block sizes (64 for SHA-1/256, 128 for SHA-384/512), all IDs.
    const cases: { hash: Pkcs12KdfHash; passwordLength: number; saltLength: number; iterations: number; id: 1 | 2 | 3; length: number }[] = [
        { hash: "sha1", passwordLength: 24, saltLength: 16, iterations: 2048, id: 1, length: 24 },
        { hash: "sha1", passwordLength: 24, saltLength: 16, iterations: 2048, id: 2, length: 8 },
        { hash: "sha1", passwordLength: 24, saltLength: 16, iterations: 2048, id: 3, length: 20 },
        { hash: "sha1", passwordLength: 70, saltLength: 100, iterations: 3, id: 1, length: 100 },
        { hash: "sha256", passwordLength: 24, saltLength: 16, iterations: 10000, id: 3, length: 32 },
        { hash: "sha256", passwordLength: 1, saltLength: 8, iterations: 7, id: 1, length: 96 },
        { hash: "sha384", passwordLength: 40, saltLength: 20, iterations: 5, id: 2, length: 130 },
        { hash: "sha512", passwordLength: 80, saltLength: 150, iterations: 4, id: 3, length: 64 },
    ];
    it.each(cases)("$hash, password $passwordLength chars, salt $saltLength bytes, $iterations iterations, ID $id, $length bytes", (c) => {
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%+-.:=@^_~";
        const password = Array.from({ length: c.passwordLength }, () => alphabet[crypto.randomInt(alphabet.length)]).join("");
        const salt = crypto.randomBytes(c.saltLength);
        const bytes = pkcs12PasswordBytes(password);
        const ours = pkcs12Kdf(c.hash, bytes, salt, c.iterations, c.id, c.length);
        expect(ours).toHaveLength(c.length);
        expect(ours.toString("hex")).toBe(opensslKdf(c.hash, bytes, salt, c.iterations, c.id, c.length));
    });
});

describe("pkcs12Kdf: argument checks", () => {
    it("rejects a non-positive iteration count and a negative length", () => {
        expect(() => pkcs12Kdf("sha1", hex("0000"), hex("00"), 0, 1, 8)).toThrow(RangeError);
        expect(() => pkcs12Kdf("sha1", hex("0000"), hex("00"), 1, 1, -1)).toThrow(RangeError);
    });
});
