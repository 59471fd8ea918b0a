import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chromePolicy, ExportError, exportFiles, parseStackOutputs, writeBundles } from "../../../scripts/exportBundles";

const outputs = {
    url: "https://localhost:8443/",
    caCertPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    clients: {
        alice: { commonName: "Alice Example", pkcs12Base64: Buffer.from("p12-alice").toString("base64"), password: "pw-alice" },
        bob: { pkcs12Base64: Buffer.from("p12-bob").toString("base64"), password: "pw-bob" },
    },
};

describe("parseStackOutputs", () => {
    it("accepts the program's outputs", () => {
        expect(parseStackOutputs(JSON.stringify(outputs), "x").clients.alice.password).toBe("pw-alice");
    });
    it.each([
        ["not JSON", "{", /x is not JSON/],
        ["no outputs", "null", /holds no stack outputs.*pulumi up/],
        ["another project's stack", JSON.stringify({ bucket: "b" }), /has no `url`, `caCertPem`, `clients` outputs: is this a stack of pulumi-mtls-nginx/],
        ["hidden secrets", JSON.stringify({ ...outputs, clients: "[secret]" }), /`clients` is hidden as \[secret\]\. Fix: add --show-secrets/],
        ["a client without a bundle", JSON.stringify({ ...outputs, clients: { carol: { password: "p" } } }), /client carol has no PKCS#12 bundle or password/],
        ["an unsafe client name", JSON.stringify({ ...outputs, clients: { "../etc": outputs.clients.bob } }), /client name "..\/etc" is not a safe file name/],
    ])("rejects %s", (_label, json, message) => {
        expect(() => parseStackOutputs(json, "x")).toThrow(ExportError);
        expect(() => parseStackOutputs(json, "x")).toThrow(message);
    });
});

describe("chromePolicy", () => {
    it("is an AutoSelectCertificateForUrls policy for the origin, filtered on the client's CN", () => {
        const policy = JSON.parse(chromePolicy("https://localhost:8443/some/path", "Alice Example"));
        expect(policy.AutoSelectCertificateForUrls).toHaveLength(1);
        expect(JSON.parse(policy.AutoSelectCertificateForUrls[0])).toEqual({ pattern: "https://localhost:8443", filter: { SUBJECT: { CN: "Alice Example" } } });
    });
});

describe("exportFiles / writeBundles", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "export-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("writes secrets 0600 from the start and public files 0644", () => {
        const out = path.join(dir, "bundles");
        writeBundles(exportFiles(outputs, out), out, false);
        expect(fs.readFileSync(path.join(out, "alice.p12"), "utf8")).toBe("p12-alice");
        expect(fs.statSync(path.join(out, "alice.p12")).mode & 0o777).toBe(0o600);
        expect(fs.statSync(path.join(out, "bob.password")).mode & 0o777).toBe(0o600);
        expect(fs.statSync(path.join(out, "ca.crt")).mode & 0o777).toBe(0o644);
        expect(fs.readFileSync(path.join(out, "alice.chrome-policy.json"), "utf8")).toContain("Alice Example");
        expect(fs.readFileSync(path.join(out, "bob.chrome-policy.json"), "utf8")).toContain('\\"CN\\":\\"bob\\"');
    });

    it("exports only the clients asked for, and names an unknown one", () => {
        expect(exportFiles(outputs, dir, ["bob"]).map((f) => path.basename(f.path))).toEqual(["ca.crt", "bob.p12", "bob.password", "bob.chrome-policy.json", "IMPORT.md"]);
        expect(() => exportFiles(outputs, dir, ["carol"])).toThrow(/no client named "carol" .*have: alice, bob/);
    });

    it("refuses to overwrite anything unless forced, before writing any file", () => {
        fs.writeFileSync(path.join(dir, "bob.password"), "mine");
        expect(() => writeBundles(exportFiles(outputs, dir), dir, false)).toThrow(/refusing to overwrite .*bob\.password\. Fix: pass --force/);
        expect(fs.existsSync(path.join(dir, "alice.p12"))).toBe(false);
        writeBundles(exportFiles(outputs, dir), dir, true);
        expect(fs.readFileSync(path.join(dir, "bob.password"), "utf8")).toBe("pw-bob");
    });
});
