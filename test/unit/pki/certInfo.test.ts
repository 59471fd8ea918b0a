import { execFileSync } from "child_process";
import { certificateFacts, colonHex, joinPem, splitCertificates } from "../../../components/pki/certInfo";
import { issue, makeHierarchy } from "../../support/x509";

describe("certificateFacts", () => {
    it("reads serial, fingerprints and validity as openssl does", async () => {
        const { issuer } = await makeHierarchy();
        // A leading zero nibble stays: nginx's $ssl_client_serial prints whole bytes (0FAB12).
        const leaf = await issue({ subject: "CN=alice, O=Example", usage: "client", serialHex: "0fab12" }, issuer);
        const facts = certificateFacts(leaf.certPem);
        const openssl = (args: string[]) => execFileSync("openssl", ["x509", "-noout", ...args], { input: leaf.certPem }).toString().trim();
        expect(facts.serialHex).toBe("0FAB12");
        expect(facts.serialHex).toBe(openssl(["-serial"]).replace("serial=", ""));
        expect(colonHex(facts.fingerprintSha256)).toBe(openssl(["-fingerprint", "-sha256"]).split("=")[1]);
        expect(colonHex(facts.fingerprintSha1)).toBe(openssl(["-fingerprint", "-sha1"]).split("=")[1]);
        expect(facts.notAfter).toBe(new Date(openssl(["-enddate"]).split("=")[1]).toISOString());
        expect(facts.subject).toBe("CN=alice, O=Example");
        expect(facts.isCa).toBe(false);
    });

    it("splits and joins PEM bundles", async () => {
        const { root, intermediate } = await makeHierarchy({ intermediate: true });
        const bundle = joinPem([intermediate!.certPem, "", undefined, root.certPem]);
        expect(splitCertificates(bundle)).toHaveLength(2);
        expect(certificateFacts(bundle).subject).toBe("CN=Test Intermediate CA");
        expect(() => certificateFacts("nothing here")).toThrow(/no PEM certificate/);
    });
});
