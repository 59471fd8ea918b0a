import { privateKeyArgs, validateKeyAlgorithm } from "../../../components/pki/keyAlgorithm";
import {
    isDnsName,
    validateCommonName,
    validateCountry,
    validateDnField,
    validateDnsNames,
    validateEmail,
    validateIpAddresses,
    validateResourceName,
    validateUniqueNames,
    validateUris,
} from "../../../components/pki/validation";

describe("key algorithms", () => {
    it("defaults to ECDSA P-256 and maps every algorithm to explicit tls.PrivateKey args", () => {
        expect(validateKeyAlgorithm(undefined, "k")).toBe("ECDSA-P256");
        expect(privateKeyArgs("ECDSA-P256")).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
        expect(privateKeyArgs("ECDSA-P384")).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P384" });
        expect(privateKeyArgs("RSA-3072")).toEqual({ algorithm: "RSA", rsaBits: 3072 });
    });
    it.each(["ECDSA-P224", "RSA-1024", "RSA-8192", "RSA-16384", "ed25519", "rsa-2048", 2048])("rejects %j listing the valid ones", (value) => {
        expect(() => validateKeyAlgorithm(value, "clients[0].keyAlgorithm")).toThrow(
            /^clients\[0\]\.keyAlgorithm: unknown key algorithm .*Fix: use one of ECDSA-P256, ECDSA-P384, RSA-2048, RSA-3072, RSA-4096/,
        );
    });
});

describe("subject fields", () => {
    it("accepts a CN of exactly 64 characters and rejects 65", () => {
        expect(validateCommonName("a".repeat(64), "cn")).toHaveLength(64);
        expect(() => validateCommonName("a".repeat(65), "clients[1].commonName")).toThrow(/clients\[1\]\.commonName: .*65 characters long; RFC 5280 allows at most 64/);
    });
    it.each(["", "   ", undefined, 7])("rejects an empty or missing CN (%j)", (value) => {
        expect(() => validateCommonName(value, "ca.commonName")).toThrow(/ca\.commonName: the common name is empty/);
    });
    it("rejects control characters and untrimmed values", () => {
        expect(() => validateDnField("Ops\nTeam", "ou", "organizational unit")).toThrow(/contains U\+000A, a control character/);
        expect(() => validateDnField(" Ops", "ou")).toThrow(/leading or trailing spaces/);
    });
    it("checks country codes", () => {
        expect(validateCountry("DE", "c")).toBe("DE");
        expect(() => validateCountry("Germany", "ca.country")).toThrow(/ca\.country: "Germany" is not a two-letter country code/);
    });
});

describe("names", () => {
    it("accepts resource-safe names and rejects others", () => {
        expect(validateResourceName("alice-laptop.2", "n")).toBe("alice-laptop.2");
        for (const bad of ["", "Alice", "-a", "a b", "a/b", "x".repeat(64), "a;b"]) {
            expect(() => validateResourceName(bad, "clients[0].name")).toThrow(/clients\[0\]\.name: .* is not a valid name/);
        }
    });
    it("reports duplicates at the second occurrence", () => {
        expect(() => validateUniqueNames(["alice", "bob", "alice"], (i) => `clients[${i}].name`)).toThrow(/clients\[2\]\.name: duplicate name "alice" \(also at index 0\)/);
    });
});

describe("SANs", () => {
    it("DNS names per RFC 1123 with a leading wildcard", () => {
        for (const ok of ["localhost", "mtls.example.com", "*.example.com", "a-b.c1.example"]) expect(isDnsName(ok)).toBe(true);
        for (const bad of ["-a.com", "a..com", "*.com", "a.*.com", "exa mple.com", "a_b.com", "x".repeat(64) + ".com", ""]) expect(isDnsName(bad)).toBe(false);
        expect(validateDnsNames(["MTLS.Example.com"], "d")).toEqual(["mtls.example.com"]);
        expect(() => validateDnsNames(["ok.com", "bad name"], "server.dnsNames")).toThrow(/server\.dnsNames\[1\]: "bad name" is not a DNS name/);
    });
    it("IPs, e-mails and URIs", () => {
        expect(validateIpAddresses(["127.0.0.1", "::1"], "ip")).toEqual(["127.0.0.1", "::1"]);
        expect(() => validateIpAddresses(["256.0.0.1"], "server.ipAddresses")).toThrow(/server\.ipAddresses\[0\]/);
        expect(validateEmail("alice@example.com", "e")).toBe("alice@example.com");
        expect(() => validateEmail("alice", "clients[0].emailAddress")).toThrow(/not an e-mail address/);
        expect(validateUris(["spiffe://example.org/alice"], "u")).toEqual(["spiffe://example.org/alice"]);
        expect(() => validateUris(["not a uri"], "clients[0].uris")).toThrow(/clients\[0\]\.uris\[0\]: .* is not an absolute URI/);
    });
});
