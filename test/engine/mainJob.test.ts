/**
 * The README's main job under the real Pulumi engine: the commands at the top of the README, run verbatim
 * in a temporary copy of the program (its own HOME, so `pulumi login --local` is private to it), with one
 * allowed change: the dev stack's port is moved to a free one. Then `npm run export-bundles`, curl with
 * each bundle and without, headless Chromium with an exported bundle, and the nightly no-op run.
 */
import * as fs from "fs";
import * as path from "path";
import { curlGet } from "../support/clients";
import { browserUnavailable, dumpDom, installManagedPolicy, makeNssHome, withBrowserLock } from "../support/chromium";
import { hasNginx } from "../support/nginx";
import { freePort } from "../support/ports";
import { describeEngine, EngineProject } from "../support/realEngine";
import { PROJECT_DIR } from "../support/stackConfig";

/** The README's main-job line, split into its commands (the same text users paste). */
export function readmeMainJob(): string[] {
    const readme = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");
    const line = readme.split("\n").find((l) => l.includes("pulumi up --yes") && l.includes("pulumi login --local"));
    if (!line) throw new Error("README.md has no main-job line with `pulumi login --local` and `pulumi up --yes`");
    return line.split("&&").map((part) => part.trim());
}

describeEngine("the README's main job, verbatim", () => {
    let project: EngineProject;
    let port: number;
    let bundles: string;

    beforeAll(async () => {
        if (!hasNginx()) throw new Error("nginx is required (apt-get install nginx)");
        project = new EngineProject("main-job", { loginLocal: true });
        port = await freePort();
        bundles = path.join(project.dir, "bundles");
    });

    afterAll(async () => {
        await project?.cleanup();
    });

    it("runs the README's commands: login, stack select, then pulumi up (port moved to a free one)", async () => {
        const commands = readmeMainJob();
        // `npm ci` would rebuild node_modules, which this copy links to the project's: everything else runs as written.
        // The engine step runs as written: the harness's engine is on PATH, so it finds `pulumi` and builds nothing.
        const setUp = commands.filter((c) => !c.startsWith("npm ci") && !c.includes("pulumi up"));
        expect(setUp).toEqual([
            '{ command -v pulumi >/dev/null || eval "$(scripts/engine/install.sh --env)"; }',
            "export PULUMI_CONFIG_PASSPHRASE=dev",
            "pulumi login --local",
            "pulumi stack select --create dev",
        ]);
        const up = commands.find((c) => c.includes("pulumi up"))!;
        expect(up).toBe("pulumi up --yes");
        await project.sh(setUp.join(" && "));
        await project.setConfig("site.listen.port", port);
        const r = await project.sh(`export PULUMI_CONFIG_PASSPHRASE=dev && ${up}`);
        console.log(`first pulumi up of the dev stack: ${r.ms} ms`);
        expect(r.stdout).toMatch(/\+ \d+ created/);
        // `login --local` wrote into the test's own backend (mounted over ~/.pulumi), not the user's.
        expect(fs.readdirSync(path.join(project.backend, "stacks"))).toEqual(["mtls-nginx"]);
    });

    it("npm run export-bundles writes the bundles; curl gets 200 with each, 400 and the page without", async () => {
        await project.sh("npm run export-bundles", { env: { npm_config_update_notifier: "false" } });
        const target = { port, serverName: "localhost", caFile: path.join(bundles, "ca.crt") };
        for (const name of ["alice", "bob"]) {
            const password = fs.readFileSync(path.join(bundles, `${name}.password`), "utf8");
            const answer = curlGet(target, { kind: "p12", file: path.join(bundles, `${name}.p12`), password });
            expect({ name, status: answer.status, stderr: answer.stderr }).toEqual({ name, status: 200, stderr: "" });
        }
        const none = curlGet(target, { kind: "none" });
        expect(none.status).toBe(400);
        expect(none.body).toMatch(/client certificate/i);
    });

    const noBrowser = browserUnavailable();
    (noBrowser ? it.skip : it)(`headless Chromium with alice's exported bundle loads the page${noBrowser ? ` [skipped: ${noBrowser}]` : ""}`, async () => {
        await withBrowserLock(async () => {
            const home = path.join(project.root, "browser-home");
            makeNssHome(home, {
                caFile: path.join(bundles, "ca.crt"),
                pkcs12: [{ file: path.join(bundles, "alice.p12"), passwordFile: path.join(bundles, "alice.password") }],
            });
            const policy = installManagedPolicy(fs.readFileSync(path.join(bundles, "alice.chrome-policy.json"), "utf8"), "mtls-nginx-engine");
            try {
                const page = await dumpDom(`https://localhost:${port}/`, {
                    home,
                    userDataDir: path.join(project.root, "browser-profile"),
                    timeoutMs: 45_000,
                    hostMap: { localhost: "127.0.0.1" },
                });
                expect(page.timedOut).toBe(false);
                expect(page.dom).toMatch(/You are in/);
            } finally {
                policy.remove();
            }
        });
    });

    it("the nightly run is a no-op: preview and up with --expect-no-changes both pass", async () => {
        const preview = await project.pulumi(["preview", "--expect-no-changes"]);
        const up = await project.pulumi(["up", "--yes", "--expect-no-changes"]);
        console.log(`no-op nightly run, dev stack: pulumi preview ${preview.ms} ms, pulumi up ${up.ms} ms`);
        expect(up.stdout).toMatch(/\d+ unchanged/);
        expect(up.stdout).not.toMatch(/[+~-] \d+ (created|updated|deleted|replaced)/);
    });
});
