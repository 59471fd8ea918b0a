import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { InputError } from "../../../components/util/errors";
import {
    CVE_ID,
    VersionPolicy,
    assessNginxVersion,
    hasUpstreamFix,
    parseNginxVersion,
    renderVersionCheck,
    validateVersionCheckOptions,
    versionMessage,
} from "../../../components/nginx/version";
import { makeTestDir } from "../../support/nginx";

describe("parseNginxVersion", () => {
    test.each([
        ["nginx version: nginx/1.22.1", "nginx", "1.22.1"],
        ["nginx version: nginx/1.24.0 (Ubuntu)\n", "nginx", "1.24.0"],
        ["nginx version: nginx/1.27.4", "nginx", "1.27.4"],
        ["nginx version: openresty/1.25.3.1", "openresty", "1.25.3"],
        ["nginx version: Tengine/3.1.0 (nginx/1.24.0)", "nginx", "1.24.0"],
        ["some banner\nnginx version: nginx/1.28.0\n", "nginx", "1.28.0"],
    ])("%j", (output, product, text) => {
        expect(parseNginxVersion(output)).toMatchObject({ product, text });
    });

    test("numbers, and nothing for output without a version", () => {
        expect(parseNginxVersion("nginx version: nginx/1.26.3")).toEqual({ product: "nginx", major: 1, minor: 26, patch: 3, text: "1.26.3" });
        expect(parseNginxVersion("")).toBeUndefined();
        expect(parseNginxVersion("sh: nginx: not found")).toBeUndefined();
        expect(parseNginxVersion("nginx version: nginx/1.22")).toBeUndefined();
    });
});

describe("hasUpstreamFix (CVE-2025-23419: fixed in 1.26.3 and 1.27.4)", () => {
    test.each([
        ["1.11.3", false],
        ["1.22.1", false],
        ["1.24.0", false],
        ["1.25.5", false],
        ["1.26.2", false],
        ["1.26.3", true],
        ["1.26.10", true],
        ["1.27.3", false],
        ["1.27.4", true],
        ["1.27.5", true],
        ["1.28.0", true],
        ["1.29.1", true],
        ["2.0.0", true],
        ["0.99.99", false],
    ])("%s -> %s", (text, fixed) => {
        const [major, minor, patch] = text.split(".").map(Number);
        expect(hasUpstreamFix({ major, minor, patch })).toBe(fixed);
    });
});

describe("assessNginxVersion", () => {
    test("a fixed upstream version is ok whatever the listen address", () => {
        for (const shared of [true, false]) {
            const a = assessNginxVersion("nginx version: nginx/1.28.0", false, shared);
            expect(a).toMatchObject({ fixed: true, level: "ok" });
            expect(a.message).toBe(`nginx 1.28.0 includes the ${CVE_ID} fix`);
        }
    });

    test("a distribution backport is ok", () => {
        const a = assessNginxVersion("nginx version: nginx/1.22.1", true, true);
        expect(a).toMatchObject({ fixed: true, level: "ok" });
        expect(a.message).toContain("distribution build");
    });

    test("an unfixed nginx with a dedicated listen address is ok (not affected)", () => {
        const a = assessNginxVersion("nginx version: nginx/1.24.0", false, false);
        expect(a).toMatchObject({ fixed: false, level: "ok" });
        expect(a.message).toContain("dedicated listen address");
    });

    test("an unfixed nginx on a shared listen address is refused by default, with the fix", () => {
        const a = assessNginxVersion("nginx version: nginx/1.24.0", false, true);
        expect(a).toMatchObject({ fixed: false, level: "refuse" });
        expect(a.message).toContain("nginx 1.24.0 is affected by CVE-2025-23419");
        expect(a.message).toContain("Refusing to install");
        expect(a.message).toContain("upgrade nginx to 1.26.3+ (stable), 1.27.4+ (mainline) or any 1.28+");
        expect(a.message).toContain("dedicated listen address/port (sharedListen: false)");
        expect(a.message).toContain('versionPolicy "warn"');
    });

    test("with policy warn it goes on, saying why and how to fix it", () => {
        const a = assessNginxVersion("nginx version: nginx/1.26.2", false, true, "warn");
        expect(a).toMatchObject({ fixed: false, level: "warn" });
        expect(a.message).toContain("installing anyway");
        expect(a.message).toContain("Fix: upgrade nginx");
    });

    test("unreadable output: the fix cannot be confirmed", () => {
        expect(assessNginxVersion("garbage", false, true)).toMatchObject({ fixed: false, level: "refuse" });
        expect(assessNginxVersion("garbage", false, true, "warn")).toMatchObject({ fixed: false, level: "warn" });
        expect(assessNginxVersion("garbage", false, false)).toMatchObject({ fixed: false, level: "ok" });
        expect(assessNginxVersion("garbage\nmore", false, true).message).toContain("(it printed: garbage)");
    });
});

describe("validateVersionCheckOptions", () => {
    test("rejects globs that could not be written unquoted, and bad policies", () => {
        expect(() => validateVersionCheckOptions({ policy: "refuse", sharedListen: true, changelogGlobs: ["/usr/share/doc/nginx*/changelog.Debian.gz"] })).not.toThrow();
        expect(() => validateVersionCheckOptions({ policy: "refuse", sharedListen: true, changelogGlobs: ["/tmp/x; rm -rf /"] })).toThrow(InputError);
        expect(() => validateVersionCheckOptions({ policy: "refuse", sharedListen: true, changelogGlobs: ["relative/*.gz"] })).toThrow(/version\.changelogGlobs\[0\]/);
        expect(() => validateVersionCheckOptions({ policy: "maybe" as VersionPolicy, sharedListen: true })).toThrow(/version\.policy/);
    });
});

/** The shell snippet applies the same policy as assessNginxVersion, with the same messages. */
describe("the shell snippet (run under /bin/sh) agrees with assessNginxVersion", () => {
    let dir: string;
    let changelogs: { fixed: string; otherVersion: string; noCve: string; none: string };

    function debianChangelog(file: string, version: string, mentionsCve: boolean): void {
        const text =
            `nginx (${version}) bookworm-security; urgency=high\n\n  * d/p/something.patch\n${mentionsCve ? `  * d/p/${CVE_ID}.patch add, backport ${CVE_ID} fix.\n` : ""}\n -- Someone <a@b>  Mon, 01 Jan 2025 00:00:00 +0000\n\n` +
            `nginx (1.0.0-1) unstable; urgency=low\n\n  * old\n`;
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, zlib.gzipSync(text));
    }

    beforeAll(() => {
        dir = makeTestDir("version-snippet");
        changelogs = {
            fixed: path.join(dir, "fixed", "doc", "nginx*", "changelog.Debian.gz"),
            otherVersion: path.join(dir, "other", "doc", "nginx*", "changelog.Debian.gz"),
            noCve: path.join(dir, "nocve", "doc", "nginx*", "changelog.Debian.gz"),
            none: path.join(dir, "none", "doc", "nginx*", "changelog.Debian.gz"),
        };
        // Epoch and Debian revision are stripped: 1:1.24.0-2+deb12u3 is upstream 1.24.0.
        debianChangelog(path.join(dir, "fixed", "doc", "nginx-common", "changelog.Debian.gz"), "1:1.24.0-2+deb12u3", true);
        debianChangelog(path.join(dir, "other", "doc", "nginx", "changelog.Debian.gz"), "1.22.1-9+deb12u11", true);
        debianChangelog(path.join(dir, "nocve", "doc", "nginx", "changelog.Debian.gz"), "1.24.0-2", false);
    });

    function runSnippet(versionOutput: string, opts: { policy: VersionPolicy; sharedListen: boolean; changelog: string }) {
        const stub = path.join(dir, `nginx-${Math.random().toString(36).slice(2)}`);
        fs.writeFileSync(stub, `#!/bin/sh\n[ "$1" = "-v" ] || exit 99\nprintf '%s\\n' ${JSON.stringify(versionOutput).replace(/\$/g, "\\$")} >&2\n`, { mode: 0o755 });
        const script = `set -eu\nMTLS_NGINX='${stub}'\n${renderVersionCheck({ ...opts, changelogGlobs: [opts.changelog], rpm: false })}\nif mtls_check_nginx_version; then rc=0; else rc=1; fi\nprintf '%s|%s|%s|%s\\n' "$rc" "$MTLS_NGINX_VERSION" "$MTLS_NGINX_VERNUM" "$MTLS_NGINX_FIX"\n`;
        const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8" });
        const [rc, version, vernum, fix] = r.stdout.trim().split("|");
        return { rc: Number(rc), version, vernum: Number(vernum), fix, stderr: r.stderr, status: r.status };
    }

    const outputs = [
        "nginx version: nginx/1.24.0",
        "nginx version: nginx/1.22.1",
        "nginx version: nginx/1.26.2",
        "nginx version: nginx/1.26.3",
        "nginx version: nginx/1.27.4 (Ubuntu)",
        "nginx version: nginx/1.29.0",
        "nginx version: openresty/1.25.3.1",
        "nginx version: Tengine/3.1.0 (nginx/1.24.0)",
        "not nginx at all",
    ];
    const cases: Array<[string, VersionPolicy, boolean, keyof typeof changelogs]> = [];
    for (const out of outputs) {
        for (const policy of ["refuse", "warn"] as const) {
            for (const shared of [true, false]) {
                for (const cl of ["fixed", "otherVersion", "noCve", "none"] as const) {
                    if (!shared && cl !== "none") continue;
                    cases.push([out, policy, shared, cl]);
                }
            }
        }
    }

    test(`${cases.length} combinations of output, policy, listen and changelog`, () => {
        for (const [out, policy, shared, cl] of cases) {
            const sh = runSnippet(out, { policy, sharedListen: shared, changelog: changelogs[cl] });
            const parsed = parseNginxVersion(out);
            // The snippet's distribution check: a changelog for this very version that names the CVE
            // ("fixed" covers 1.24.0, "otherVersion" covers 1.22.1; "noCve" names no CVE).
            const distro = (cl === "fixed" && parsed?.text === "1.24.0") || (cl === "otherVersion" && parsed?.text === "1.22.1");
            const ts = assessNginxVersion(out, distro, shared, policy);
            const label = `${out} / ${policy} / shared=${shared} / ${cl}`;
            expect({ label, status: sh.status }).toEqual({ label, status: 0 });
            expect({ label, rc: sh.rc }).toEqual({ label, rc: ts.level === "refuse" ? 1 : 0 });
            const expectedStderr = ts.level === "ok" ? "" : ts.level === "warn" ? `mtls-nginx: warning: ${ts.message}\n` : `mtls-nginx: ${ts.message}\n`;
            expect({ label, stderr: sh.stderr }).toEqual({ label, stderr: expectedStderr });
            expect({ label, version: sh.version }).toEqual({ label, version: parsed?.text ?? "" });
            if (parsed) {
                expect(sh.vernum).toBe(parsed.major * 1_000_000 + parsed.minor * 1000 + parsed.patch);
                const fix = hasUpstreamFix(parsed) ? "upstream" : distro ? "distribution" : "none";
                expect({ label, fix: sh.fix }).toEqual({ label, fix });
            }
        }
    });

    test("a binary that is missing or fails -v stops the install with a message", () => {
        const script = (bin: string) => `MTLS_NGINX='${bin}'\n${renderVersionCheck({ policy: "warn", sharedListen: false })}\nmtls_check_nginx_version\n`;
        const missing = spawnSync("/bin/sh", ["-c", script(path.join(dir, "no-such-nginx"))], { encoding: "utf8" });
        expect(missing.status).toBe(1);
        expect(missing.stderr).toContain("is not an executable file. Fix: install nginx there, or set the nginxBinary input");
        const failing = path.join(dir, "failing-nginx");
        fs.writeFileSync(failing, "#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n", { mode: 0o755 });
        const failed = spawnSync("/bin/sh", ["-c", script(failing)], { encoding: "utf8" });
        expect(failed.status).toBe(1);
        expect(failed.stderr).toContain("-v failed: error while loading shared libraries");
    });

    const debianNginx = "/usr/sbin/nginx";
    const debianChangelogs = "/usr/share/doc/nginx/changelog.Debian.gz";
    (fs.existsSync(debianNginx) && fs.existsSync(debianChangelogs) ? test : test.skip)("this machine's Debian nginx is recognised by its changelog when it names the CVE", () => {
        const mentions = spawnSync("/bin/sh", ["-c", `gzip -dc ${debianChangelogs} | grep -q ${CVE_ID}`]).status === 0;
        const r = spawnSync("/bin/sh", ["-c", `MTLS_NGINX=${debianNginx}\n${renderVersionCheck({ policy: "refuse", sharedListen: true })}\nmtls_check_nginx_version && echo "$MTLS_NGINX_FIX"`], { encoding: "utf8" });
        const version = parseNginxVersion(spawnSync(debianNginx, ["-v"], { encoding: "utf8" }).stderr);
        if (version && hasUpstreamFix(version)) {
            expect(r.stdout.trim()).toBe("upstream");
        } else if (mentions) {
            expect(r.status).toBe(0);
            expect(r.stdout.trim()).toBe("distribution");
        } else {
            expect(r.status).toBe(1);
        }
    });

    test("messages put the version where the snippet does", () => {
        expect(versionMessage("refuse", "1.2.3")).toContain("nginx 1.2.3 is affected");
        // The script fills the same template: {v} is the version it read.
        const stub = path.join(makeTestDir("version-message"), "nginx");
        fs.writeFileSync(stub, `#!/bin/sh\necho "nginx version: nginx/1.2.3" >&2\n`, { mode: 0o755 });
        const r = spawnSync("/bin/sh", ["-c", `MTLS_NGINX='${stub}'\n${renderVersionCheck({ policy: "refuse", sharedListen: true, changelogGlobs: ["/nonexistent/changelog.gz"], rpm: false })}\nmtls_check_nginx_version`], { encoding: "utf8" });
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`mtls-nginx: ${versionMessage("refuse", "1.2.3")}\n`);
    });
});
