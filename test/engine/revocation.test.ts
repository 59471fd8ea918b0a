/**
 * Revocation under the real engine: a client removed from the stack config is refused by nginx after one
 * `pulumi up` (its old bundle gets 400) while the others still get in; and with the clock moved past the
 * CRLs' refresh time, `pulumi up` re-signs them (new CRL number, later nextUpdate), dated at the real time
 * so nginx keeps admitting clients.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { curlGet, writeFile } from "../support/clients";
import { hasNginx } from "../support/nginx";
import { freePort } from "../support/ports";
import { changedSteps, describeEngine, EngineProject, pemFromP12 } from "../support/realEngine";

const DAY = 24 * 3600_000;

/** Each CRL of a PEM file as `openssl crl -text` prints it. */
function crlTexts(file: string): string[] {
    return crlBlocks(file).map((pem) => execFileSync("openssl", ["crl", "-noout", "-text"], { input: pem, encoding: "utf8" }));
}

function crlBlocks(file: string): string[] {
    return fs.readFileSync(file, "utf8").match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----\n?/g) ?? [];
}

/** CRL number and nextUpdate of every CRL in a PEM file (openssl's reading). */
function crlFacts(file: string): { number: number; nextUpdate: number }[] {
    return crlBlocks(file).map((pem) => {
        const out = execFileSync("openssl", ["crl", "-noout", "-crlnumber", "-nextupdate"], { input: pem, encoding: "utf8" });
        return { number: parseInt(/crlNumber=0x([0-9A-F]+)/i.exec(out)![1], 16), nextUpdate: Date.parse(/nextUpdate=(.+)/.exec(out)![1]) };
    });
}

describeEngine("revocation: a removed client is refused; CRLs are re-signed before they expire", () => {
    let project: EngineProject;
    let port: number;
    let caFile: string;
    const credentials: Record<string, { cert: string; key: string }> = {};

    function get(name: string) {
        return curlGet({ port, serverName: "localhost", caFile }, { kind: "pem", cert: credentials[name].cert, key: credentials[name].key });
    }

    function servedCrlFile(): string {
        return path.join(project.dir, ".dev", "nginx", "current", "crl.pem");
    }

    beforeAll(async () => {
        if (!hasNginx()) throw new Error("nginx is required (apt-get install nginx)");
        project = new EngineProject("revocation");
        port = await freePort();
        await project.pulumi(["stack", "select", "--create", "dev"]);
        await project.setConfig("site.listen.port", port);
        await project.pulumi(["up", "--yes"]);
        const outputs = await project.outputs(true);
        caFile = writeFile(project.root, "ca.crt", outputs.caCertPem);
        for (const name of ["alice", "bob"]) {
            const pem = pemFromP12(project.root, outputs.clients[name].pkcs12Base64, outputs.clients[name].password);
            credentials[name] = { cert: writeFile(project.root, `${name}.crt`, pem.certPem), key: writeFile(project.root, `${name}.key`, pem.keyPem, 0o600) };
        }
    });

    afterAll(async () => {
        await project?.cleanup();
    });

    it("before: both clients get 200", () => {
        expect([get("alice").status, get("bob").status]).toEqual([200, 200]);
    });

    it("bob removed from the stack config: one pulumi up, then bob's old bundle gets 400 (revoked) and alice 200", async () => {
        const file = project.stackFile("dev");
        const doc = parse(fs.readFileSync(file, "utf8"));
        doc.config["mtls-nginx:clients"] = doc.config["mtls-nginx:clients"].filter((c: { name: string }) => c.name !== "bob");
        fs.writeFileSync(file, stringify(doc));

        const plan = changedSteps(await project.previewSteps());
        expect(plan).toEqual(
            ["mtls-client-bob: delete", ...["cert", "csr", "key", "pkcs12", "renewal"].map((r) => `mtls-client-bob-${r}: delete`), "mtls-revocation-issuing: update", "mtls-site-install: replace", "mtls-site-served: update"].sort(),
        );
        await project.pulumi(["up", "--yes"]);
        const refused = get("bob");
        expect(refused.status).toBe(400);
        expect(refused.body).toMatch(/not accepted/i);
        expect(get("alice").status).toBe(200);
        const outputs = await project.outputs();
        expect(Object.keys(outputs.clients)).toEqual(["alice"]);
        // The issuing (intermediate) CA's CRL lists bob's certificate; the root's lists nothing.
        const bobSerial = execFileSync("openssl", ["x509", "-noout", "-serial"], { input: fs.readFileSync(credentials.bob.cert), encoding: "utf8" }).trim().split("=")[1];
        const [rootCrl, issuingCrl] = crlTexts(servedCrlFile());
        expect(rootCrl).toMatch(/No Revoked Certificates/);
        expect(issuingCrl.replace(/\s+/g, "")).toContain(`SerialNumber:${bobSerial}`);
        expect(issuingCrl).toMatch(/Cessation Of Operation/);
    });

    it("with the clock past the CRLs' refresh time, pulumi up re-signs them; nginx, reloaded, still admits alice and refuses bob", async () => {
        const before = crlFacts(servedCrlFile());
        const { crlNextUpdate } = await project.outputs();
        // Half of the 7-day validity has passed one day before nextUpdate.
        const env = { MTLS_NGINX_CLOCK: new Date(Date.parse(crlNextUpdate) - DAY).toISOString() };
        expect(changedSteps(await project.previewSteps({ env }))).toEqual(["mtls-revocation-issuing: update", "mtls-revocation-root: update", "mtls-site-install: replace", "mtls-site-served: update"]);
        await project.pulumi(["up", "--yes"], { env });
        const after = crlFacts(servedCrlFile());
        expect(after.map((c) => c.number)).toEqual(before.map((c) => c.number + 1));
        for (const [i, crl] of after.entries()) expect(crl.nextUpdate).toBeGreaterThan(before[i].nextUpdate);
        // Dated at the real time, so nginx accepts it (a CRL from the future would refuse everyone).
        expect([get("alice").status, get("bob").status]).toEqual([200, 400]);
        await project.pulumi(["preview", "--expect-no-changes"]);
    });
});
