/**
 * The stack's life cycle under the real engine: bad stack config fails the preview naming the key and
 * creates nothing; a site deleted by hand is noticed by `pulumi refresh` and restored by the next
 * `pulumi up`; `pulumi destroy` stops the dedicated nginx and removes the install directory, and a second
 * destroy does nothing.
 */
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { hasNginx } from "../support/nginx";
import { freePort, waitForPort } from "../support/ports";
import { changedSteps, describeEngine, EngineProject, killNginxUnder } from "../support/realEngine";
import * as net from "net";

function listening(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port }, () => {
            socket.destroy();
            resolve(true);
        });
        socket.on("error", () => resolve(false));
    });
}

describeEngine("stack life cycle: bad config, destroy", () => {
    let project: EngineProject;
    let port: number;
    let installDir: string;

    beforeAll(async () => {
        if (!hasNginx()) throw new Error("nginx is required (apt-get install nginx)");
        project = new EngineProject("lifecycle");
        port = await freePort();
        installDir = path.join(project.dir, ".dev", "nginx");
        await project.pulumi(["stack", "select", "--create", "dev"]);
        await project.setConfig("site.listen.port", port);
    });

    afterAll(async () => {
        await project?.cleanup();
    });

    it.each([
        ["a duplicate client", (doc: any) => doc.config["mtls-nginx:clients"].push({ name: "alice" }), /error: mtls-nginx:clients\[2\]\.name: duplicate name "alice" \(also at index 0\)\. Fix: give every entry a unique name/],
        ["a misspelt key", (doc: any) => (doc.config["mtls-nginx:site"].listn = 8443), /error: mtls-nginx:site\.listn: unknown key\. Fix: did you mean "listen"\?/],
    ])("bad stack config (%s) fails preview and up with the key and the fix, no stack trace, and creates nothing", async (_label, spoil, message) => {
        const file = project.stackFile("dev");
        const good = fs.readFileSync(file, "utf8");
        const doc = parse(good);
        spoil(doc);
        fs.writeFileSync(file, stringify(doc));
        try {
            for (const command of [["preview"], ["up", "--yes"]]) {
                const r = await project.pulumi(command, { allowFailure: true });
                expect(r.code).not.toBe(0);
                const text = r.stdout + r.stderr;
                expect(text).toMatch(message);
                expect(text).not.toMatch(/unhandled exception|\n\s+at /);
            }
            const state = await project.exportState();
            expect(state.resources.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
            expect(fs.existsSync(installDir)).toBe(false);
        } finally {
            fs.writeFileSync(file, good);
        }
    });

    it("someone deletes the site by hand: pulumi refresh notices, and the next pulumi up restores it", async () => {
        await project.pulumi(["up", "--yes"]);
        await waitForPort(port);
        await project.pulumi(["refresh", "--yes", "--expect-no-changes"]); // a healthy site: refresh changes nothing
        await killNginxUnder(installDir);
        fs.rmSync(installDir, { recursive: true, force: true });
        expect(await listening(port)).toBe(false);

        await project.pulumi(["refresh", "--yes"]);
        const served = (await project.exportState()).resources.find((r) => r.urn.endsWith("::mtls-site-served"))!;
        expect(served.outputs).toMatchObject({ restores: 1, lastDrift: expect.stringMatching(/connection ECONNREFUSED/) });
        expect(changedSteps(await project.previewSteps())).toEqual(["mtls-site-install: update"]);
        await project.pulumi(["up", "--yes"]);
        expect(await listening(port)).toBe(true);
        expect(fs.existsSync(path.join(installDir, "current"))).toBe(true);
        await project.pulumi(["refresh", "--yes", "--expect-no-changes"]);
        await project.pulumi(["preview", "--expect-no-changes"]);
    });

    it("pulumi destroy stops the dedicated nginx and removes the install directory; a second destroy does nothing", async () => {
        await project.pulumi(["up", "--yes"]);
        await waitForPort(port);
        expect(fs.existsSync(path.join(installDir, "current"))).toBe(true);
        const destroyed = await project.pulumi(["destroy", "--yes"]);
        expect(destroyed.stdout).toMatch(/- \d+ deleted/);
        expect(await listening(port)).toBe(false);
        expect(fs.existsSync(installDir)).toBe(false);
        expect((await project.exportState()).resources).toEqual([]);
        const again = await project.pulumi(["destroy", "--yes"]);
        expect(again.stdout).not.toMatch(/- \d+ deleted/);
        expect(again.stdout).toMatch(/Resources:\s*\n\s*\n|no changes|0 (changes|deleted)/i);
    });
});
