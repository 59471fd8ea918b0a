/**
 * What a reading of the engine's and providers' sources predicted, checked on the real engine:
 * - a replacementTrigger added to an existing resource (keyRotation "never" -> "always") does not replace
 *   it: the key rotates at the next renewal, not at once;
 * - terraform-provider-tls replaces a certificate whose max_path_length goes from unset to 0 (why
 *   @pulumi/tls below 5.3, which drops the argument, is outside our peer range);
 * - with PULUMI_ENABLE_LEGACY_DIFF the engine never asks our providers' Diff, so a due renewal does not
 *   happen; the components warn.
 */
import * as fs from "fs";
import { parse, stringify } from "yaml";
import { hasNginx } from "../support/nginx";
import { freePort } from "../support/ports";
import { changedSteps, describeEngine, EngineProject, idsByName } from "../support/realEngine";

const HOUR = 3600_000;

describeEngine("engine behaviour the components rely on", () => {
    let project: EngineProject;

    beforeAll(async () => {
        if (!hasNginx()) throw new Error("nginx is required (apt-get install nginx)");
        project = new EngineProject("findings", {
            extraFiles: {
                "maxpath/Pulumi.yaml": "name: maxpath\nruntime: nodejs\nmain: index.js\n",
                "maxpath/package.json": '{ "name": "maxpath", "private": true }\n',
                "maxpath/index.js": `
const pulumi = require("@pulumi/pulumi");
const tls = require("@pulumi/tls");
const config = new pulumi.Config();
const key = (n) => new tls.PrivateKey(n, { algorithm: "ECDSA", ecdsaCurve: "P256" });
const rootKey = key("root-key");
const root = new tls.SelfSignedCert("root", { privateKeyPem: rootKey.privateKeyPem, subject: { commonName: "Root" }, validityPeriodHours: 1000, isCaCertificate: true, allowedUses: ["cert_signing", "crl_signing"] });
const csr = new tls.CertRequest("intermediate-csr", { privateKeyPem: key("intermediate-key").privateKeyPem, subject: { commonName: "Intermediate" } });
const maxPathLength = config.getNumber("maxPathLength");
new tls.LocallySignedCert("intermediate", { certRequestPem: csr.certRequestPem, caCertPem: root.certPem, caPrivateKeyPem: rootKey.privateKeyPem, validityPeriodHours: 500, isCaCertificate: true, allowedUses: ["cert_signing"], ...(maxPathLength === undefined ? {} : { maxPathLength }) });
`,
            },
        });
        fs.symlinkSync("../node_modules", `${project.dir}/maxpath/node_modules`);
        await project.pulumi(["stack", "select", "--create", "dev"]);
        await project.setConfig("site.listen.port", await freePort());
    });

    afterAll(async () => {
        await project?.cleanup();
    });

    it("keyRotation never -> always adds a replacementTrigger to alice's key: nothing is replaced now, the key rotates at the next renewal", async () => {
        const file = project.stackFile("dev");
        const setRotation = (value: "never" | "always") => {
            const doc = parse(fs.readFileSync(file, "utf8"));
            doc.config["mtls-nginx:clients"][0].renewal = { keyRotation: value };
            fs.writeFileSync(file, stringify(doc));
        };
        setRotation("never");
        await project.pulumi(["up", "--yes"]);
        const before = idsByName((await project.exportState()).resources);

        // The schedule's policy changes (an update in place); the key, which now names the schedule's id as its
        // replacementTrigger, is not replaced: the engine does not fire a trigger that had no stored value.
        setRotation("always");
        expect(changedSteps(await project.previewSteps())).toEqual(["mtls-client-alice-renewal: update"]);
        await project.pulumi(["up", "--yes"]);
        expect(idsByName((await project.exportState()).resources)).toEqual(before);
        await project.pulumi(["preview", "--expect-no-changes"]);

        // At alice's renewAt, the schedule is replaced and, now that it names the schedule, the key with it.
        const outputs = await project.outputs();
        const env = { MTLS_NGINX_CLOCK: new Date(Date.parse(outputs.clients.alice.renewAt) + HOUR).toISOString() };
        const due = changedSteps(await project.previewSteps({ env })).filter((s) => s.startsWith("mtls-client-alice-"));
        expect(due).toEqual(["mtls-client-alice-cert: replace", "mtls-client-alice-csr: replace", "mtls-client-alice-key: replace", "mtls-client-alice-pkcs12: update", "mtls-client-alice-renewal: replace"]);
    });

    it("with PULUMI_ENABLE_LEGACY_DIFF a due renewal does not happen (the engine skips Diff); the preview warns", async () => {
        const outputs = await project.outputs();
        const env = { MTLS_NGINX_CLOCK: new Date(Date.parse(outputs.nextRenewal.at) + HOUR).toISOString() };
        expect(changedSteps(await project.previewSteps({ env }))).toContain("mtls-server-renewal: replace");
        const legacy = await project.pulumi(["preview"], { env: { ...env, PULUMI_ENABLE_LEGACY_DIFF: "true" } });
        expect(legacy.stdout).toMatch(/Resources:\s+\d+ unchanged\s*$/);
        expect(legacy.stdout).toMatch(/PULUMI_ENABLE_LEGACY_DIFF=true: the engine does not ask providers whether anything changed/);
    });

    it("terraform-provider-tls replaces a certificate whose maxPathLength goes from unset to 0", async () => {
        const run = (args: string[]) => project.pulumi(["--cwd", `${project.dir}/maxpath`, ...args]);
        await run(["stack", "select", "--create", "maxpath"]);
        await run(["up", "--yes"]);
        await run(["config", "set", "maxPathLength", "0"]);
        const preview = await run(["preview", "--json"]);
        const steps = (JSON.parse(preview.stdout).steps as { urn: string; op: string; replaceReasons?: string[] }[]).filter((s) => s.op !== "same");
        expect(steps.map((s) => [s.urn.split("::").pop(), s.op])).toEqual([["intermediate", "replace"]]);
        expect(steps[0].replaceReasons).toEqual(["maxPathLength"]);
        await run(["destroy", "--yes"]);
    });

    it("our intermediate CA always states maxPathLength 0 (so no @pulumi/tls upgrade within the peer range changes it)", async () => {
        const state = await project.exportState();
        const intermediate = state.resources.find((r) => r.urn.endsWith("::mtls-ca-intermediate-cert"))!;
        expect(intermediate.inputs!.maxPathLength).toBe(0);
        const pkg = JSON.parse(fs.readFileSync(`${project.dir}/package.json`, "utf8"));
        expect(pkg.peerDependencies["@pulumi/tls"]).toBe(">=5.3.0 <6.0.0");
    });
});
