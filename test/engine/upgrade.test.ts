/**
 * Upgrade safety under the real engine: a new release of this package changes the code of its dynamic
 * providers (RenewalSchedule, Pkcs12Bundle, RevocationList). That must replace no key or certificate.
 *
 * 1. From source (the program imports components/ by path): the serializer captures the providers' code, and
 *    everything it uses, in each resource's `__provider`; changing that code changes `__provider`, which our
 *    diffs ignore. After an up, the engine stores the new `__provider` even for unchanged resources.
 * 2. Installed as a package (npm pack, npm install into a consumer program): `__provider` holds the
 *    provider methods' code, but what they use from the package is `require("pulumi-mtls-nginx/bin/...")`,
 *    so after an upgrade a stored (old) `__provider` runs the old methods on the NEW release's modules.
 *    The older release here is a real one: this repository at commit PREVIOUS_RELEASE, packed and installed,
 *    then upgraded to the working tree's package.
 *
 * Decision: safe. The engine runs a stored `__provider` only to delete or read a resource (diff, create and
 * update use the program's current one); our providers have no read, and their delete does nothing, so
 * old methods never call into changed modules. What must hold is that the modules stored providers
 * require keep existing: PROVIDER_MODULES lists them, and a release that moves one fails this test.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { curlGet, writeFile } from "../support/clients";
import { hasNginx, makeTestDir } from "../support/nginx";
import { freePort } from "../support/ports";
import { changedSteps, describeEngine, EngineProject, idsByName, killNginxUnder, pemFromP12, urnName } from "../support/realEngine";
import { PROJECT_DIR } from "../support/stackConfig";

/** The commit packed as "the previous release" (the last one before the real-engine work). */
const PREVIOUS_RELEASE = "cde857d";

/**
 * The package modules the current release's stored `__provider`s name with require(): a later release must
 * keep each of them, with its exports, or every stack created with this one fails to load its providers.
 */
export const PROVIDER_MODULES = [
    "pulumi-mtls-nginx/bin/components/pki/pkcs12/password.js",
    "pulumi-mtls-nginx/bin/components/pki/pkcs12/pfx.js",
    "pulumi-mtls-nginx/bin/components/pki/pkcs12/provider.js",
    "pulumi-mtls-nginx/bin/components/renewal/policy.js",
    "pulumi-mtls-nginx/bin/components/revocation/crl.js",
    "pulumi-mtls-nginx/bin/components/revocation/ledger.js",
    "pulumi-mtls-nginx/bin/components/util/errors.js",
];

/** The package modules a stored `__provider` requires. */
function requiredModules(provider: string): string[] {
    return [...provider.matchAll(/require\("(pulumi-mtls-nginx\/[^"]+)"\)/g)].map((m) => m[1]);
}

/** Loads a stored `__provider` as the dynamic-provider host does, resolving require() from `programDir`. */
function loadStoredProvider(text: string, programDir: string): Record<string, unknown> {
    const { createRequire } = require("module") as typeof import("module");
    const mod: { exports: any } = { exports: {} };
    new Function("exports", "require", "module", text)(mod.exports, createRequire(path.join(programDir, "index.js")), mod);
    return mod.exports.handler();
}

const DYNAMIC = /^pulumi-nodejs:dynamic/;
/** Kinds whose replacement means a new key or certificate. */
const KEYS_AND_CERTS = /^tls:index|RenewalSchedule$/;

function sh(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
    return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
}

/** Builds (that commit's own `npm run build`) and packs the package from `dir`, a copy of the repository, as `version`. */
function pack(dir: string, version: string, out: string): string {
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(dir, "node_modules"));
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    pkg.version = version;
    delete pkg.scripts.prepack; // built just below
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify(pkg, null, 2));
    sh(dir, "npm", ["run", "build", "--silent"]);
    const name = sh(dir, "npm", ["pack", "--silent", "--pack-destination", out]).trim().split("\n").pop()!;
    return path.join(out, name);
}

const CONSUMER_PROGRAM = `
// A program of a team that uses pulumi-mtls-nginx from npm.
const path = require("path");
const pulumi = require("@pulumi/pulumi");
const { MtlsNginx } = require("pulumi-mtls-nginx");
const config = new pulumi.Config();
const site = new MtlsNginx("app", {
    ca: { commonName: "Consumer Root CA", intermediate: true },
    server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] },
    clients: [{ name: "alice" }, { name: "bob", keyAlgorithm: "RSA-2048" }],
    site: { listen: { address: "127.0.0.1", port: config.requireNumber("port") }, mode: { kind: "static" } },
    target: { kind: "local", installDir: path.join(__dirname, "site"), nginx: { kind: "dedicated" } },
});
exports.caCertPem = site.caCertPem;
exports.alice = pulumi.secret({ p12: site.clients.alice.pkcs12Base64, password: site.clients.alice.pkcs12Password });
exports.releaseId = site.site.releaseId;
`;

describeEngine("upgrade safety: new provider code replaces no key or certificate", () => {
    beforeAll(() => {
        if (!hasNginx()) throw new Error("nginx is required (apt-get install nginx)");
    });

    describe("from source: provider code captured in __provider", () => {
        let project: EngineProject;

        afterAll(async () => {
            await project?.cleanup();
        });

        it("a release that changes every provider's code: preview and up replace nothing, change no key or certificate", async () => {
            project = new EngineProject("upgrade-source");
            await project.pulumi(["stack", "select", "--create", "dev"]);
            await project.setConfig("site.listen.port", await freePort());
            await project.pulumi(["up", "--yes"]);
            const before = await project.exportState();
            // "The next release": a change inside each provider's methods, so the captured code differs.
            for (const file of ["components/renewal/provider.ts", "components/pki/pkcs12/provider.ts", "components/revocation/provider.ts"]) {
                const full = path.join(project.dir, file);
                const text = fs.readFileSync(full, "utf8");
                const changed = text.replace(/(async (diff|check)\([^)]*\)[^{]*\{)/g, '$1\n        void "release 0.1.1";');
                expect(changed).not.toBe(text);
                fs.writeFileSync(full, changed);
            }
            const plan = await project.previewSteps();
            expect(changedSteps(plan)).toEqual([]);
            await project.pulumi(["up", "--yes", "--expect-no-changes"]);
            const after = await project.exportState();
            expect(idsByName(after.resources)).toEqual(idsByName(before.resources));
            // What the engine keeps in the state for an unchanged resource: the __provider it was created with.
            const storedAfter = after.resources.filter((r) => DYNAMIC.test(r.type)).map((r) => String(r.inputs!.__provider));
            console.log(`source mode: after an unchanged up, stored __provider holds the new code in ${storedAfter.filter((p) => p.includes("release 0.1.1")).length} of ${storedAfter.length} dynamic resources`);
        });
    });

    describe(`installed as a package: release ${PREVIOUS_RELEASE} (packed from git) upgraded to the working tree's`, () => {
        let root: string;
        let consumer: string;
        let project: EngineProject;
        let previous: string;
        let current: string;
        let port: number;
        let oldProviders: string[] = [];

        beforeAll(async () => {
            root = makeTestDir("upgrade-package");
            const older = path.join(root, "previous");
            fs.mkdirSync(older);
            try {
                execFileSync("sh", ["-c", `git -C '${PROJECT_DIR}' archive ${PREVIOUS_RELEASE} | tar -x -C '${older}'`], { stdio: "pipe" });
            } catch (e) {
                throw new Error(`commit ${PREVIOUS_RELEASE} (the previous release) is not in this clone: fetch the full history (git fetch --unshallow). ${(e as Error).message}`);
            }
            previous = pack(older, "0.0.9", root);
            // The working tree as it is (tracked and new files, not ignored ones): what the next release would pack.
            const newer = path.join(root, "current");
            const files = sh(PROJECT_DIR, "git", ["ls-files", "-co", "--exclude-standard", "-z"]).split("\0").filter((f) => f && fs.existsSync(path.join(PROJECT_DIR, f)));
            for (const f of files) fs.cpSync(path.join(PROJECT_DIR, f), path.join(newer, f), { recursive: true });
            current = pack(newer, "0.1.0", root);

            project = new EngineProject("upgrade-consumer", { extraFiles: { "consumer/index.js": CONSUMER_PROGRAM, "consumer/Pulumi.yaml": "name: consumer\nruntime: nodejs\nmain: index.js\n", "consumer/package.json": '{ "name": "consumer", "private": true }\n' } });
            consumer = path.join(project.dir, "consumer");
            fs.cpSync(path.join(PROJECT_DIR, "node_modules"), path.join(consumer, "node_modules"), { recursive: true, verbatimSymlinks: true });
            sh(consumer, "npm", ["install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", previous]);
            port = await freePort();
        });

        afterAll(async () => {
            try {
                await killNginxUnder(root);
                await project?.cleanup({ destroy: false });
            } finally {
                if (root) fs.rmSync(root, { recursive: true, force: true });
            }
        });

        const consumerPulumi = (args: string[], opts: { allowFailure?: boolean } = {}) => project.pulumi(["--cwd", consumer, ...args], opts);

        it("the previous release installs the site; its stored __providers require the package's modules by path", async () => {
            await consumerPulumi(["stack", "select", "--create", "dev"]);
            await consumerPulumi(["config", "set", "port", String(port)]);
            await consumerPulumi(["up", "--yes"]);
            const state = await project.pulumi(["--cwd", consumer, "stack", "export"]);
            const resources = JSON.parse(state.stdout).deployment.resources as { type: string; inputs?: Record<string, unknown> }[];
            oldProviders = resources.filter((r) => DYNAMIC.test(r.type)).map((r) => String(r.inputs!.__provider));
            expect(oldProviders.length).toBeGreaterThanOrEqual(7);
            for (const p of oldProviders) expect(requiredModules(p).length).toBeGreaterThan(0);
            console.log(`previous release: stored __provider texts of ${Math.min(...oldProviders.map((p) => p.length))}-${Math.max(...oldProviders.map((p) => p.length))} characters, requiring ${[...new Set(oldProviders.flatMap(requiredModules))].join(", ")}`);
        });

        it("upgraded to the current release: the previous release's stored __providers load, and run the new code on the old state", async () => {
            sh(consumer, "npm", ["install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", current]);
            expect(JSON.parse(fs.readFileSync(path.join(consumer, "node_modules/pulumi-mtls-nginx/package.json"), "utf8")).version).toBe("0.1.0");
            const state = JSON.parse((await project.pulumi(["--cwd", consumer, "stack", "export", "--show-secrets"])).stdout).deployment.resources as { type: string; inputs: any; outputs: any; id: string }[];
            for (const r of state.filter((x) => DYNAMIC.test(x.type))) {
                const provider = loadStoredProvider(r.inputs.__provider, consumer) as {
                    diff: (id: string, olds: any, news: any) => Promise<{ changes?: boolean; replaces?: string[] }>;
                    delete?: (id: string, olds: any) => Promise<void>;
                };
                // The stored inputs as news, the stored outputs as olds: what the engine asks on the next preview.
                const unwrap = (v: any): any => (v && typeof v === "object" && "4dabf18193072939515e22adb298388d" in v ? JSON.parse(v.plaintext) : Array.isArray(v) ? v.map(unwrap) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)])) : v);
                const result = await provider.diff(r.id, unwrap(r.outputs), unwrap(r.inputs));
                expect({ type: r.type, replaces: result.replaces ?? [] }).toEqual({ type: r.type, replaces: [] });
                // The engine runs a stored __provider for deletes: the old code, with today's modules, must run.
                await provider.delete?.(r.id, unwrap(r.outputs));
            }
        });

        it("after the upgrade, preview and up replace no key or certificate; the site serves; destroy (new code deleting old resources) succeeds", async () => {
            const before = JSON.parse((await project.pulumi(["--cwd", consumer, "stack", "export"])).stdout).deployment.resources as { urn: string; type: string; id?: string; custom?: boolean }[];
            const previewRun = await project.pulumi(["--cwd", consumer, "preview", "--json"]);
            const steps = (JSON.parse(previewRun.stdout).steps ?? []) as { urn: string; op: string }[];
            const changed = steps.filter((s) => s.op !== "same");
            console.log(`upgrade ${PREVIOUS_RELEASE} -> working tree, plan:\n  ${changed.map((s) => `${urnName(s.urn)}: ${s.op}`).join("\n  ") || "(no changes)"}`);
            const keyOrCert = changed.filter((s) => KEYS_AND_CERTS.test(s.urn.split("::")[2]) && s.op !== "update");
            expect(keyOrCert.map((s) => `${urnName(s.urn)}: ${s.op}`)).toEqual([]);
            await consumerPulumi(["up", "--yes"]);
            const after = JSON.parse((await project.pulumi(["--cwd", consumer, "stack", "export"])).stdout).deployment.resources as typeof before;
            const ids = (list: typeof before) => new Map(list.filter((r) => r.custom && KEYS_AND_CERTS.test(r.type)).map((r) => [r.urn, r.id]));
            expect(ids(after)).toEqual(ids(before));
            // The current release's stored __providers name exactly the modules a later release must keep.
            const stored = (after as { type: string; inputs?: { __provider?: string } }[]).filter((r) => DYNAMIC.test(r.type)).map((r) => String(r.inputs!.__provider));
            expect([...new Set(stored.flatMap(requiredModules))].sort()).toEqual(PROVIDER_MODULES);

            const outputs = JSON.parse((await project.pulumi(["--cwd", consumer, "stack", "output", "--json", "--show-secrets"])).stdout);
            const pem = pemFromP12(project.root, outputs.alice.p12, outputs.alice.password);
            const caFile = writeFile(project.root, "consumer-ca.crt", outputs.caCertPem);
            const cert = writeFile(project.root, "alice.crt", pem.certPem);
            const key = writeFile(project.root, "alice.key", pem.keyPem, 0o600);
            expect(curlGet({ port, caFile }, { kind: "pem", cert, key }).status).toBe(200);

            await consumerPulumi(["destroy", "--yes"]);
            expect(fs.existsSync(path.join(consumer, "site", "releases"))).toBe(false);
        });
    });
});
