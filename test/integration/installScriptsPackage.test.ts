/**
 * The .sh files travel with the package: `npm run build` copies them next to the compiled JS, the
 * package's `files` ship them, and the compiled modules render the same scripts as the sources.
 * Built in a temporary copy of the project (package.json, tsconfig.json, index.ts, components/), so
 * the working tree's bin/ is left alone.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { InstallScriptInput, renderInstallScript, renderUninstallScript } from "../../components/nginx/install";
import { renderContainerEntrypoint } from "../../components/nginx/dockerTarget";

const ROOT = path.join(__dirname, "../..");

describe("packaging of the shell files", () => {
    let dir: string;
    beforeAll(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtls-nginx-package-"));
        for (const f of ["package.json", "tsconfig.json", "index.ts", "README.md"]) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
        fs.cpSync(path.join(ROOT, "components"), path.join(dir, "components"), { recursive: true });
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    });
    afterAll(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test("npm run build copies every script next to the compiled modules, npm pack ships them, and the compiled modules render the same scripts", () => {
        const build = spawnSync("npm", ["run", "build", "--silent"], { cwd: dir, encoding: "utf8", timeout: 240_000 });
        expect(build.stderr + build.stdout).not.toMatch(/error/i);
        expect(build.status).toBe(0);
        const sources = fs.readdirSync(path.join(ROOT, "components/nginx/scripts")).filter((f) => f.endsWith(".sh")).sort();
        expect(sources.length).toBeGreaterThan(5);
        for (const f of sources) {
            expect(fs.readFileSync(path.join(dir, "bin/components/nginx/scripts", f), "utf8")).toBe(fs.readFileSync(path.join(ROOT, "components/nginx/scripts", f), "utf8"));
        }

        const pack = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
        expect(pack.status).toBe(0);
        const packed = (JSON.parse(pack.stdout) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
        for (const f of sources) expect(packed).toContain(`bin/components/nginx/scripts/${f}`);
        expect(packed).toContain("bin/components/nginx/install.js");

        // The compiled modules read the files relative to themselves.
        const input: InstallScriptInput = {
            installDir: "/opt/mtls-nginx/example",
            releaseId: "0123456789abcdef",
            site: "example",
            control: { kind: "system", includeLink: "/etc/nginx/conf.d/mtls-example.conf", reload: "signal" },
            sharedListen: true,
            liveCheck: { port: 443, serverName: "api.example.com" },
        };
        const run = spawnSync(
            process.execPath,
            [
                "-e",
                `const i = require("./bin/components/nginx/install"); const d = require("./bin/components/nginx/dockerTarget");
                 const input = JSON.parse(process.argv[1]);
                 process.stdout.write(JSON.stringify([i.renderInstallScript(input), i.renderUninstallScript(input), d.renderContainerEntrypoint({ installDir: "/etc/nginx/mtls", nginxBinary: "/usr/sbin/nginx" })]));`,
                JSON.stringify(input),
            ],
            { cwd: dir, encoding: "utf8" },
        );
        expect(run.stderr).toBe("");
        expect(JSON.parse(run.stdout)).toEqual([renderInstallScript(input), renderUninstallScript(input), renderContainerEntrypoint({ installDir: "/etc/nginx/mtls", nginxBinary: "/usr/sbin/nginx" })]);
    });
});
