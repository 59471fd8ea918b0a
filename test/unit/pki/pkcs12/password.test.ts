import { InputError } from "../../../../components/util/errors";
import {
    GENERATED_PASSWORD_LENGTH,
    generatePkcs12Password,
    validatePkcs12FriendlyName,
    validatePkcs12Password,
    validatePkcs12Profile,
} from "../../../../components/pki/pkcs12/password";
import { PKCS12_PROFILES } from "../../../../components/pki/pkcs12/pfx";

function thrown(fn: () => unknown): InputError {
    try {
        fn();
    } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return e as InputError;
    }
    throw new Error("expected an InputError, nothing was thrown");
}

describe("generatePkcs12Password", () => {
    it("returns 24 alphanumerics (>= 128 bits: 24 * log2(62) ≈ 142.9)", () => {
        expect(GENERATED_PASSWORD_LENGTH * Math.log2(62)).toBeGreaterThanOrEqual(128);
        for (let i = 0; i < 200; i++) {
            const p = generatePkcs12Password();
            expect(p).toMatch(/^[A-Za-z0-9]{24}$/);
            expect(() => validatePkcs12Password(p, "password")).not.toThrow();
        }
    });

    it("draws every symbol of the alphabet roughly uniformly and never repeats a password", () => {
        const counts = new Map<string, number>();
        const seen = new Set<string>();
        const n = 2000;
        for (let i = 0; i < n; i++) {
            const p = generatePkcs12Password();
            seen.add(p);
            for (const ch of p) counts.set(ch, (counts.get(ch) ?? 0) + 1);
        }
        expect(seen.size).toBe(n);
        expect(counts.size).toBe(62);
        // 48,000 symbols over 62 letters: ~774 each; a biased generator (e.g. byte % 62) or a short
        // alphabet would leave some far outside this generous band.
        const expected = (n * 24) / 62;
        for (const count of counts.values()) {
            expect(count).toBeGreaterThan(expected * 0.75);
            expect(count).toBeLessThan(expected * 1.25);
        }
    });
});

describe("validatePkcs12Password", () => {
    it("accepts printable ASCII including spaces and punctuation", () => {
        expect(() => validatePkcs12Password("correct horse battery staple!~", "clients[0].pkcs12.password")).not.toThrow();
    });

    it("rejects empty, non-string and non-ASCII passwords, naming the input and the fix without echoing the password", () => {
        const empty = thrown(() => validatePkcs12Password("", "clients[0].pkcs12.password"));
        expect(empty.input).toBe("clients[0].pkcs12.password");
        expect(empty.message).toMatch(/^clients\[0\]\.pkcs12\.password: is empty.*Fix: /);

        const notString = thrown(() => validatePkcs12Password(1234, "password"));
        expect(notString.message).toMatch(/must be a string, got number/);

        const secret = "pässwörd-Geheimnis";
        const nonAscii = thrown(() => validatePkcs12Password(secret, "password"));
        expect(nonAscii.message).toMatch(/U\+00E4.*not printable ASCII/);
        expect(nonAscii.message).toMatch(/Fix: use only printable ASCII/);
        expect(nonAscii.message).not.toContain("Geheimnis");

        expect(thrown(() => validatePkcs12Password("tab\there", "password")).message).toMatch(/U\+0009/);
    });
});

describe("validatePkcs12Profile", () => {
    it("returns valid profiles", () => {
        for (const profile of PKCS12_PROFILES) expect(validatePkcs12Profile(profile, "profile")).toBe(profile);
    });

    it("rejects anything else and lists the valid profiles", () => {
        const e = thrown(() => validatePkcs12Profile("legacy", "clients[1].pkcs12.profile"));
        expect(e.input).toBe("clients[1].pkcs12.profile");
        expect(e.message).toContain('"legacy" is not a PKCS#12 profile');
        for (const profile of PKCS12_PROFILES) expect(e.message).toContain(`"${profile}"`);
        expect(thrown(() => validatePkcs12Profile(undefined, "profile")).message).toContain("undefined is not a PKCS#12 profile");
    });
});

describe("validatePkcs12FriendlyName", () => {
    it("accepts names with non-ASCII BMP characters", () => {
        expect(validatePkcs12FriendlyName("Zoë Müller – 東京", "friendlyName")).toBe("Zoë Müller – 東京");
    });

    it("rejects empty names, control characters and characters outside the BMP", () => {
        expect(thrown(() => validatePkcs12FriendlyName("", "friendlyName")).message).toMatch(/non-empty string/);
        expect(thrown(() => validatePkcs12FriendlyName("a\nb", "friendlyName")).message).toMatch(/control character/);
        expect(thrown(() => validatePkcs12FriendlyName("laptop 💻", "friendlyName")).message).toMatch(/Basic Multilingual Plane/);
        expect(thrown(() => validatePkcs12FriendlyName("x".repeat(257), "friendlyName")).message).toMatch(/257 characters/);
    });
});
