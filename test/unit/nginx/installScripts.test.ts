/**
 * The shell that runs on targets lives in components/nginx/scripts/*.sh: real files that shellcheck
 * reads. TypeScript only writes the single-quoted parameter header and joins the files.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { INSTALL_STEPS, InstallScriptInput, MANIFEST_FILE, PAYLOAD_HEADER, RELEASE_HEADER, TEST_REJECTED, renderDecodeScript, renderInstallScript, renderUninstallScript } from "../../../components/nginx/install";
import { renderContainerEntrypoint } from "../../../components/nginx/dockerTarget";
import { renderVersionCheck } from "../../../components/nginx/version";

const ROOT = path.join(__dirname, "../../..");
const SCRIPTS = path.join(ROOT, "components/nginx/scripts");

/** Every .sh file under components/ (relative to the repository root). */
function shellFiles(): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
        for (const entry of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
            const p = `${rel}/${entry.name}`;
            if (entry.isDirectory()) walk(p);
            else if (entry.name.endsWith(".sh")) out.push(p);
        }
    };
    walk("components");
    return out.sort();
}

function shellcheck(args: string[], input?: string): { code: number | null; out: string } {
    const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", "--format=gcc", ...args], { cwd: ROOT, encoding: "utf8", input });
    if (r.error) throw new Error(`shellcheck could not run (${r.error.message}): install it (Debian package "shellcheck")`);
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const installDir = "/opt/mtls-nginx/example";
const inputs: InstallScriptInput[] = [
    {
        installDir,
        releaseId: "0123456789abcdef",
        site: "example",
        control: { kind: "dedicated", prefix: installDir, confFile: `${installDir}/current/nginx.conf` },
        sharedListen: false,
        liveCheck: { port: 8443 },
    },
    {
        installDir,
        releaseId: "0123456789abcdef",
        site: "example",
        control: { kind: "system", includeLink: "/etc/nginx/conf.d/mtls-example.conf", reload: "systemctl", nginxArgs: ["-c", "/etc/nginx/nginx.conf"] },
        sharedListen: true,
        versionPolicy: "warn",
        liveCheck: { host: "::1", port: 443, serverName: "api.example.com" },
    },
    {
        installDir,
        releaseId: "0123456789abcdef",
        site: "example",
        control: { kind: "system", includeLink: "/etc/nginx/conf.d/x.conf", reload: { command: "kill -HUP $(cat /run/nginx.pid)" } },
        sharedListen: true,
        liveCheck: { port: 443, serverName: "api.example.com" },
    },
];

describe("the install scripts are shell files", () => {
    test("components/nginx/scripts holds them, and every .sh under components/ passes shellcheck with no finding", () => {
        const files = shellFiles();
        expect(files).toEqual(
            expect.arrayContaining(
                ["common.sh", "decode.sh", "decode-main.sh", "version.sh", "lock.sh", "control.sh", "live.sh", "context.sh", "install.sh", "uninstall.sh", "container-entrypoint.sh"].map(
                    (f) => `components/nginx/scripts/${f}`,
                ),
            ),
        );
        const r = shellcheck(files);
        expect(r.out).toBe("");
        expect(r.code).toBe(0);
    });

    test("every shellcheck exception is one `# shellcheck disable=SCxxxx # reason` line", () => {
        for (const file of shellFiles()) {
            const lines = fs.readFileSync(path.join(ROOT, file), "utf8").split("\n");
            lines.forEach((line, i) => {
                if (!/shellcheck\s+disable/.test(line)) return;
                expect({ at: `${file}:${i + 1}`, line }).toEqual({ at: `${file}:${i + 1}`, line: expect.stringMatching(/^\s*# shellcheck disable=SC\d{4}(,SC\d{4})* # \S.{10,}$/) });
            });
        }
    });

    test("a rendered script is its single-quoted parameter header followed by the .sh files, verbatim", () => {
        const read = (f: string) => fs.readFileSync(path.join(SCRIPTS, f), "utf8");
        for (const input of inputs) {
            const install = renderInstallScript(input);
            for (const f of ["common.sh", "decode.sh", "version.sh", "lock.sh", "control.sh", "live.sh", "context.sh", "install.sh"]) expect(install).toContain(read(f));
            const body = read("install.sh");
            // Before the fragments: comments and NAME='value' (or NAME=bare) assignments only.
            const header = install.slice(0, install.indexOf(read("common.sh")));
            for (const line of header.split("\n").filter(Boolean)) expect(line).toMatch(/^(#.*|[A-Z_][A-Z0-9_]*=('([^']|'\\'')*'|[A-Za-z0-9_@%+=:,./-]+)?)$/);
            expect(install.endsWith(body)).toBe(true);
            const uninstall = renderUninstallScript(input);
            for (const f of ["common.sh", "lock.sh", "control.sh", "uninstall.sh"]) expect(uninstall).toContain(read(f));
        }
        expect(renderDecodeScript("/tmp/x")).toContain(read("decode.sh"));
        expect(renderDecodeScript("/tmp/x").endsWith(read("decode-main.sh"))).toBe(true);
        expect(renderVersionCheck({ policy: "refuse", sharedListen: true })).toContain(read("version.sh"));
        expect(renderContainerEntrypoint({ installDir: "/etc/nginx/mtls", nginxBinary: "/usr/sbin/nginx" })).toContain(read("container-entrypoint.sh"));
    });

    test("the constants TypeScript exports are the texts the shell files use", () => {
        const read = (f: string) => fs.readFileSync(path.join(SCRIPTS, f), "utf8");
        expect(read("decode.sh")).toContain(`"${PAYLOAD_HEADER}"`);
        expect(read("decode.sh")).toContain(`/${MANIFEST_FILE}"`);
        expect(read("install.sh")).toContain(`/${MANIFEST_FILE}"`);
        expect(read("install.sh")).toContain(`mtls-nginx: ${TEST_REJECTED} %s`);
        expect(read("install.sh")).toContain(`"${RELEASE_HEADER}"`);
        // The probe reads the header case-insensitively.
        const pattern = RELEASE_HEADER.split("").map((ch) => (/[A-Za-z]/.test(ch) ? `[${ch.toUpperCase()}${ch.toLowerCase()}]` : ch)).join("");
        expect(read("live.sh")).toContain(`/^${pattern}:/`);
    });

    test("INSTALL_STEPS are the install script's step boundaries, each at one place (their order is proven by the kill test)", () => {
        const steps = [...renderInstallScript(inputs[0]).matchAll(/^\s*mtls_step ([a-z]+)$/gm)].map((m) => m[1]).filter((s) => s !== "unlocking");
        expect([...steps].sort()).toEqual([...INSTALL_STEPS].sort());
    });

    test("the assembled scripts pass shellcheck as a whole (no variable read that nothing assigns, none assigned that nothing reads)", () => {
        const scripts = [
            ...inputs.flatMap((input) => [renderInstallScript(input), renderUninstallScript(input)]),
            renderDecodeScript("/tmp/x"),
            renderContainerEntrypoint({ installDir: "/etc/nginx/mtls", nginxBinary: "/usr/sbin/nginx" }),
        ];
        for (const script of scripts) {
            // The fragments' file-wide SC2034 exceptions ("read by the scripts this fragment is joined into") are
            // exactly what the whole script can check.
            const whole = script
                .split("\n")
                .filter((l) => !/^# shellcheck disable=SC2034 /.test(l))
                .join("\n");
            // The header's values are literal text, which is what SC2016 ("expressions don't expand in single
            // quotes") and SC2209 (a bare word such as systemctl "looks like a command") are about.
            const r = shellcheck(["--exclude=SC2016,SC2209", "-"], whole);
            expect({ head: script.split("\n")[0], out: r.out }).toEqual({ head: script.split("\n")[0], out: "" });
        }
    });

    test("every script fits in one argument (sh -c, docker exec, sudo: 128 KiB per argument on Linux)", () => {
        for (const input of inputs) {
            expect(Buffer.byteLength(renderInstallScript(input))).toBeLessThan(100 * 1024);
            expect(Buffer.byteLength(renderInstallScript({ ...input, sudo: true }))).toBeLessThan(100 * 1024);
        }
    });
});
