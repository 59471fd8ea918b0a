/**
 * End-to-end rehearsal of the main job (`pulumi up` on the dev stack): the real index.ts with
 * stacks/Pulumi.dev.yaml, under mocks with the real-crypto @pulumi/tls double, EXECUTING the local
 * install commands it declares against a real nginx; then the export command turns the recorded stack
 * output into bundles, and a client using them gets in while one without a certificate does not.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { DeploymentSimulator, localCommandExecutor, RunResult } from "../support/engine";
import { adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { freePort } from "../support/ports";
import { PROJECT_DIR, readStackFile, toProgramConfig } from "../support/stackConfig";

const describeIf = hasNginx() ? describe : describe.skip;

function curl(args: string[]) {
    const r = spawnSync("curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", ...args], { encoding: "utf8", timeout: 20_000 });
    const lines = r.stdout.split("\n");
    return { status: Number(lines.pop()), body: lines.join("\n"), stderr: r.stderr };
}

function exportBundles(args: string[]) {
    return spawnSync(process.execPath, [require.resolve("ts-node/dist/bin"), path.join(PROJECT_DIR, "scripts/export-bundles.ts"), ...args], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        timeout: 60_000,
    });
}

describeIf("rehearsal of the main job: index.ts with the dev stack against real nginx", () => {
    let dir: string;
    let port: number;
    let sim: DeploymentSimulator;
    let result: RunResult;
    let recorded: string;

    beforeAll(async () => {
        dir = makeTestDir("rehearsal");
        port = await freePort();
        const config = readStackFile("dev") as Record<string, any>;
        // The dev stack as committed, moved to a free port and a temporary install directory.
        config["mtls-nginx:site"].listen.port = port;
        config["mtls-nginx:target"].installDir = path.join(dir, "nginx");
        sim = new DeploymentSimulator({ executors: { "command:local:Command": localCommandExecutor } });
        result = await sim.run(
            () => {
                let exports: Record<string, unknown> = {};
                jest.isolateModules(() => {
                    exports = require("../../index");
                });
                return exports;
            },
            { config: toProgramConfig(config), now: new Date() },
        );
        adopt(path.join(dir, "nginx"), path.join(dir, "nginx", "current", "nginx.conf"));
        // What `pulumi stack output --json --show-secrets` would print.
        recorded = path.join(dir, "stack-output.json");
        fs.writeFileSync(recorded, JSON.stringify(result.outputs, null, 2), { mode: 0o600 });
    });

    afterAll(async () => {
        try {
            await sim?.destroy();
        } finally {
            await stopAll();
        }
    });

    it("exports the stack outputs the README promises, with bundles and passwords secret", () => {
        const o = result.outputs;
        expect(Object.keys(o).sort()).toEqual(["caCertPem", "clients", "crlNextUpdate", "curl", "nextRenewal", "releaseId", "url"]);
        expect(o.url).toBe(`https://localhost:${port}/`);
        expect(Object.keys(o.clients).sort()).toEqual(["alice", "bob"]);
        expect(o.clients.alice).toMatchObject({ commonName: "alice", fingerprintSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
        expect(Date.parse(o.nextRenewal.at)).toBeGreaterThan(Date.now());
        expect(o.curl).toContain(`https://localhost:${port}/`);
        expect(result.secretOutputs).toContain("clients");
    });

    it("the install ran the dedicated nginx: keys 0600 in the release", () => {
        const release = path.join(dir, "nginx", "releases", result.outputs.releaseId);
        expect(fs.statSync(path.join(release, "server.key")).mode & 0o777).toBe(0o600);
        expect(fs.readlinkSync(path.join(dir, "nginx", "current"))).toContain(result.outputs.releaseId);
    });

    describe("export-bundles against the recorded stack output", () => {
        let out: string;
        beforeAll(() => {
            out = path.join(dir, "bundles");
        });

        it("writes <name>.p12 and <name>.password (0600), ca.crt, Chrome policies and import steps", () => {
            const r = exportBundles(["--from", recorded, "--out", out]);
            expect(r.stderr).toBe("");
            expect(r.status).toBe(0);
            for (const name of ["alice", "bob"]) {
                expect(fs.statSync(path.join(out, `${name}.p12`)).mode & 0o777).toBe(0o600);
                expect(fs.statSync(path.join(out, `${name}.password`)).mode & 0o777).toBe(0o600);
                const policy = JSON.parse(fs.readFileSync(path.join(out, `${name}.chrome-policy.json`), "utf8"));
                expect(JSON.parse(policy.AutoSelectCertificateForUrls[0])).toEqual({ pattern: `https://localhost:${port}`, filter: { SUBJECT: { CN: name } } });
            }
            expect(fs.statSync(path.join(out, "ca.crt")).mode & 0o777).toBe(0o644);
            expect(fs.statSync(out).mode & 0o777).toBe(0o700);
            expect(fs.readFileSync(path.join(out, "IMPORT.md"), "utf8")).toMatch(/pk12util -i alice.p12/);
        });

        it("a client using an exported bundle gets 200; without a certificate it gets the 496 page", () => {
            const base = ["--resolve", `localhost:${port}:127.0.0.1`, "--cacert", path.join(out, "ca.crt")];
            for (const name of ["alice", "bob"]) {
                const password = fs.readFileSync(path.join(out, `${name}.password`), "utf8");
                const ok = curl([...base, "--cert-type", "P12", "--cert", `${path.join(out, `${name}.p12`)}:${password}`, `https://localhost:${port}/`]);
                expect(ok.stderr).toBe("");
                expect(ok.status).toBe(200);
                expect(ok.body).toMatch(/You are in/);
            }
            const none = curl([...base, `https://localhost:${port}/`]);
            expect(none.status).toBe(400);
            expect(none.body).toMatch(/certificate/i);
            expect(none.body).not.toMatch(/You are in/);
        });

        it("refuses to overwrite without --force, naming the files, and writes nothing", () => {
            const before = fs.readFileSync(path.join(out, "alice.p12"));
            fs.writeFileSync(path.join(out, "alice.password"), "changed", { mode: 0o600 });
            const r = exportBundles(["--from", recorded, "--out", out]);
            expect(r.status).toBe(1);
            expect(r.stderr).toMatch(/refusing to overwrite .*alice\.p12.*Fix: pass --force/);
            expect(fs.readFileSync(path.join(out, "alice.password"), "utf8")).toBe("changed");
            const forced = exportBundles(["--from", recorded, "--out", out, "--force"]);
            expect(forced.status).toBe(0);
            expect(fs.readFileSync(path.join(out, "alice.p12"))).toEqual(before);
            expect(fs.readFileSync(path.join(out, "alice.password"), "utf8")).toBe(result.outputs.clients.alice.password);
            expect(fs.statSync(path.join(out, "alice.password")).mode & 0o777).toBe(0o600);
        });

        it("fails clearly when the stack has no such outputs", () => {
            const empty = path.join(dir, "empty.json");
            fs.writeFileSync(empty, "{}");
            const r = exportBundles(["--from", empty, "--out", path.join(dir, "nothing")]);
            expect(r.status).toBe(1);
            expect(r.stderr).toMatch(/has no `url`, `caCertPem`, `clients` outputs.*run `pulumi up`/);
            expect(fs.existsSync(path.join(dir, "nothing"))).toBe(false);
            const hidden = path.join(dir, "hidden.json");
            fs.writeFileSync(hidden, JSON.stringify({ ...result.outputs, clients: { alice: { ...result.outputs.clients.alice, pkcs12Base64: "[secret]", password: "[secret]" } } }));
            expect(exportBundles(["--from", hidden, "--out", path.join(dir, "nothing")]).stderr).toMatch(/secrets are hidden: add --show-secrets/);
        });
    });
});
