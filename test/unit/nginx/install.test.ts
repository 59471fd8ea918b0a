import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import fc from "fast-check";
import { InputError, InputErrors } from "../../../components/util/errors";
import {
    InstallFile,
    InstallScriptInput,
    MANIFEST_FILE,
    canonicalJson,
    contentHash,
    decodePayload,
    encodePayload,
    manifest,
    releaseId,
    renderDecodeScript,
    renderInstallScript,
    renderUninstallScript,
    validateInstallFiles,
} from "../../../components/nginx/install";
import { dockerExecWrap, shJoin, shQuote, sudoWrap } from "../../../components/nginx/shell";
import { makeTestDir } from "../../support/nginx";
import { issue } from "../../support/x509";

/** Runs a command string as local.Command does: /bin/sh -c, payload on stdin. */
function sh(command: string, stdin = "", env: NodeJS.ProcessEnv = process.env) {
    const r = spawnSync("/bin/sh", ["-c", command], { input: stdin, encoding: "utf8", env });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every regular file under dir (relative path -> { content, mode }). */
function readTree(dir: string): Map<string, { content: Buffer; mode: number }> {
    const out = new Map<string, { content: Buffer; mode: number }>();
    const walk = (rel: string) => {
        for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const p = rel ? `${rel}/${entry.name}` : entry.name;
            if (entry.isDirectory()) walk(p);
            else out.set(p, { content: fs.readFileSync(path.join(dir, p)), mode: fs.statSync(path.join(dir, p)).mode & 0o777 });
        }
    };
    walk("");
    return out;
}

let keyPem: string;
let certPem: string;
let files: InstallFile[];
let work: string;

beforeAll(async () => {
    const cert = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"] });
    keyPem = cert.key.privateKeyPem;
    certPem = cert.certPem;
    files = [
        { path: "server.crt", content: certPem, mode: 0o644 },
        { path: "server.key", content: keyPem, mode: 0o600 },
        { path: "client-ca.pem", content: certPem, mode: 0o644 },
        { path: "errors/496.html", content: "<h1>certificate required</h1>\n", mode: 0o644 },
        { path: "site.conf", content: "server { listen 127.0.0.1:8443 ssl; }\n", mode: 0o644 },
    ];
    work = makeTestDir("install-unit");
});

function dedicatedInput(installDir: string, extra: Partial<InstallScriptInput> = {}): InstallScriptInput {
    return {
        installDir,
        releaseId: "0123456789abcdef",
        site: "example",
        control: { kind: "dedicated", prefix: `${installDir}-prefix`, confFile: `${installDir}/current/nginx.conf` },
        sharedListen: false,
        liveCheck: { port: 8443 },
        ...extra,
    };
}

describe("payload", () => {
    test("format: header, one sorted line per file, end line with count and content hash", () => {
        const payload = encodePayload(files);
        const lines = payload.split("\n");
        expect(lines[0]).toBe("mtls-nginx-payload 1");
        expect(lines.slice(1, 6).map((l) => l.split(" ")[2])).toEqual(["client-ca.pem", "errors/496.html", "server.crt", "server.key", "site.conf"]);
        expect(lines[4]).toMatch(/^0600 [0-9a-f]{64} server\.key [A-Za-z0-9+/=]+$/);
        expect(lines[6]).toBe(`end 5 ${contentHash(files)}`);
        expect(lines[7]).toBe("");
        expect(decodePayload(payload)).toEqual([...files].sort((a, b) => (a.path < b.path ? -1 : 1)));
    });

    test("round trip through the real script decoder under /bin/sh: bytes, modes, directories", () => {
        const target = path.join(work, "decode-basic");
        const r = sh(renderDecodeScript(target), encodePayload(files));
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^decoded 5 files ${contentHash(files)} \\(\\d+ KiB\\)\n$`));
        const tree = readTree(target);
        for (const f of files) {
            expect(tree.get(f.path)?.content.toString("utf8")).toBe(f.content);
            expect(tree.get(f.path)?.mode).toBe(f.mode);
        }
        expect(tree.get(MANIFEST_FILE)?.content.toString()).toBe(manifest(files));
        expect(tree.size).toBe(files.length + 1);
        expect(fs.statSync(path.join(target, "errors")).mode & 0o777).toBe(0o755);
    });

    test("property: any contents (unicode, empty, no final newline, CR, NUL, long) survive the shell decoder", () => {
        const segment = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,11}$/).filter((s) => !s.startsWith(".mtls"));
        const fileArb = fc.record({
            path: fc.array(segment, { minLength: 1, maxLength: 3 }).map((segs) => segs.join("/")),
            content: fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.constantFrom("", "\n", "a\r\nb", "x\u0000y", "é€😀", "x".repeat(70_000))),
            mode: fc.constantFrom(0o600 as const, 0o644 as const),
        });
        const setArb = fc
            .uniqueArray(fileArb, { minLength: 1, maxLength: 6, selector: (f) => f.path })
            .filter((fs_) => fs_.every((a) => fs_.every((b) => !b.path.startsWith(a.path + "/"))));
        let n = 0;
        fc.assert(
            fc.property(setArb, (set) => {
                const target = path.join(work, `decode-prop-${n++}`);
                const r = sh(renderDecodeScript(target), encodePayload(set));
                expect(r.stderr).toBe("");
                expect(r.stdout).toMatch(new RegExp(`^decoded ${set.length} files ${contentHash(set)} \\(\\d+ KiB\\)\n$`));
                const tree = readTree(target);
                for (const f of set) {
                    expect(tree.get(f.path)?.content.equals(Buffer.from(f.content, "utf8"))).toBe(true);
                    expect(tree.get(f.path)?.mode).toBe(f.mode);
                }
                expect(tree.size).toBe(set.length + 1);
            }),
            { numRuns: 50 },
        );
    });

    test("paths that look like options or stdin (\"-\", \"-n/x\") are plain files to the decoder", () => {
        const odd: InstallFile[] = [
            { path: "-", content: "dash", mode: 0o644 },
            { path: "-n/x", content: "n", mode: 0o644 },
            { path: "--help", content: "", mode: 0o600 },
        ];
        const target = path.join(work, "decode-odd");
        const r = sh(renderDecodeScript(target), encodePayload(odd));
        expect(r.stderr).toBe("");
        // 4 KiB blocks: manifest and checksum list, "dash" and "n"; the empty file takes none.
        expect(r.stdout).toBe(`decoded 3 files ${contentHash(odd)} (16 KiB)\n`);
        const tree = readTree(target);
        expect(tree.get("-")).toEqual({ content: Buffer.from("dash"), mode: 0o644 });
        expect(tree.get("-n/x")).toEqual({ content: Buffer.from("n"), mode: 0o644 });
        expect(tree.get("--help")).toEqual({ content: Buffer.from(""), mode: 0o600 });
    });

    test("the shell decoder rejects damaged or hostile payloads and writes nothing outside its directory", () => {
        const good = encodePayload(files);
        const lines = good.split("\n");
        const line = (mode: string, p: string, content: string) => `${mode} ${crypto.createHash("sha256").update(content).digest("hex")} ${p} ${Buffer.from(content).toString("base64")}`;
        const endFor = (ls: string[]) => {
            const m = ls.map((l) => l.split(" ").slice(0, 3).join(" ") + "\n").join("");
            return `end ${ls.length} ${crypto.createHash("sha256").update(m).digest("hex")}`;
        };
        const hostile = (entry: string) => ["mtls-nginx-payload 1", entry, endFor([entry]), ""].join("\n");
        const cases: Array<[string, string, RegExp]> = [
            ["empty", "", /standard input is empty/],
            ["no header", lines.slice(1).join("\n"), /does not start with 'mtls-nginx-payload 1'/],
            ["cut in the middle of a line", good.slice(0, good.indexOf("server.key") + 40), /truncated after 3 file\(s\)/],
            ["no end line", lines.slice(0, -2).join("\n") + "\n", /truncated after 5 file\(s\) \(no end line\)/],
            ["end line without its newline", good.slice(0, -1), /truncated after 5 file\(s\)/],
            ["a file line lost", [...lines.slice(0, 2), ...lines.slice(3)].join("\n"), /end line announces 5 file\(s\) but 4 were read/],
            ["a flipped content byte", good.replace(/(server\.key [A-Za-z0-9+/]{10})([A-Za-z])/, (_m, a, b) => a + (b === "A" ? "B" : "A")), /server\.key does not match its sha256/],
            ["parent directory", hostile(line("0644", "../escape", "x")), /unsafe path/],
            ["parent directory inside", hostile(line("0644", "a/../../escape", "x")), /unsafe path/],
            ["absolute path", hostile(line("0644", "/tmp/escape", "x")), /unsafe path/],
            ["quote in a path", hostile(line("0644", "it's", "x")), /unsafe path/],
            ["dollar in a path", hostile(line("0644", "$(touch${IFS}pwned)", "x")), /unsafe path/],
            ["reserved name", hostile(line("0644", ".mtls-manifest", "x")), /unsafe path/],
            ["setuid mode", hostile(line("4755", "x", "x")), /mode '4755'/],
            ["world-writable mode", hostile(line("0666", "x", "x")), /mode '0666'/],
            ["duplicate path", ["mtls-nginx-payload 1", line("0644", "x", "a"), line("0644", "x", "b"), endFor([line("0644", "x", "a"), line("0644", "x", "b")]), ""].join("\n"), /x appears twice/],
            ["bad base64", ["mtls-nginx-payload 1", "0644 " + "0".repeat(64) + " x !!!!", "end 1 " + "0".repeat(64), ""].join("\n"), /not valid base64|does not match its sha256/],
            ["content hash of another payload", good.replace(/^end 5 [0-9a-f]{64}$/m, `end 5 ${"f".repeat(64)}`), /content hash mismatch/],
        ];
        cases.forEach(([label, payload, message], i) => {
            const box = path.join(work, `hostile-${i}`);
            const target = path.join(box, "inner", "target");
            const r = sh(renderDecodeScript(target), payload);
            expect({ label, code: r.code }).toEqual({ label, code: 1 });
            expect({ label, stderr: r.stderr }).toEqual({ label, stderr: expect.stringMatching(message) });
            expect(r.stderr).toMatch(/nothing was changed/);
            expect(r.stderr).not.toContain(Buffer.from(keyPem).toString("base64").slice(0, 24));
            // Nothing escaped the target directory.
            expect(fs.readdirSync(path.join(box, "inner"))).toEqual(["target"]);
            expect(fs.existsSync(path.join(box, "escape"))).toBe(false);
        });
        expect(fs.existsSync("pwned")).toBe(false);
    });
});

describe("file validation", () => {
    const file = (p: string, mode: 0o600 | 0o644 = 0o644, content = "x"): InstallFile => ({ path: p, content, mode });

    test.each([
        ["/etc/passwd", /files\[0\]\.path: path "\/etc\/passwd" is absolute/],
        ["../x", /has a "\.\." segment/],
        ["a/./b", /has a "\." segment/],
        ["a//b", /empty segment/],
        ["a/", /empty segment/],
        ["", /path is empty/],
        ["it's.conf", /character outside \[A-Za-z0-9._-\]/],
        ["a b", /character outside/],
        ["$(x)", /character outside/],
        ["é.conf", /character outside/],
        [".mtls-manifest", /reserve/],
    ])("path %j is rejected", (p, message) => {
        let error: unknown;
        try {
            validateInstallFiles([file(p)]);
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(InputError);
        expect((error as InputError).input).toBe("files[0].path");
        expect((error as Error).message).toMatch(message);
        expect((error as Error).message).toContain("Fix: use a relative path");
    });

    test("duplicates, file-versus-directory, bad modes and world-readable keys; all reported together", () => {
        let error: unknown;
        try {
            validateInstallFiles(
                [file("a.conf"), file("a.conf"), file("dir"), file("dir/x"), { path: "m", content: "x", mode: 0o755 as 0o644 }, file("k.key", 0o644, keyPem)],
                "site.files",
            );
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(InputErrors);
        const messages = (error as InputErrors).errors.map((e) => `${e.input} ${e.message}`);
        expect(messages).toEqual([
            expect.stringMatching(/^site\.files\[1\]\.path .*"a\.conf" is also site\.files\[0\]/),
            expect.stringMatching(/^site\.files\[4\]\.mode .*0o755 is not an allowed mode/),
            expect.stringMatching(/^site\.files\[5\]\.mode .*holds a private key but has mode 0o644.*Fix: give key files mode 0o600/),
            expect.stringMatching(/^site\.files\[3\]\.path .*"dir\/x" lies under "dir", which is a file/),
        ]);
    });

    test("encodePayload, contentHash and releaseId validate", () => {
        expect(() => encodePayload([file("../x")])).toThrow(InputError);
        expect(() => contentHash([file("/x")])).toThrow(InputError);
        expect(() => releaseId([file("a b")], "")).toThrow(InputError);
    });
});

describe("releaseId and contentHash", () => {
    test("short hex, stable, independent of file order", () => {
        const id = releaseId(files, canonicalJson({ port: 8443, names: ["a"] }));
        expect(id).toMatch(/^[0-9a-f]{16}$/);
        expect(releaseId([...files].reverse(), canonicalJson({ names: ["a"], port: 8443 }))).toBe(id);
        expect(contentHash([...files].reverse())).toBe(contentHash(files));
        expect(contentHash(files)).toMatch(/^[0-9a-f]{64}$/);
    });

    test("changes with any content, mode, path or render input", () => {
        const base = releaseId(files, "inputs");
        const variants = [
            releaseId(files.map((f, i) => (i === 0 ? { ...f, content: f.content + " " } : f)), "inputs"),
            releaseId(files.map((f, i) => (i === 2 ? { ...f, mode: 0o600 as const } : f)), "inputs"),
            releaseId(files.map((f, i) => (i === 2 ? { ...f, path: "ca.pem" } : f)), "inputs"),
            releaseId(files, "inputs2"),
            releaseId(files.slice(1), "inputs"),
        ];
        expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
        const hashes = [contentHash(files), contentHash(files.map((f, i) => (i === 4 ? { ...f, content: "changed" } : f)))];
        expect(hashes[0]).not.toBe(hashes[1]);
    });

    test("canonicalJson sorts keys at every level and drops undefined", () => {
        expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
    });
});

describe("scripts", () => {
    const inputs = (installDir: string): InstallScriptInput[] => [
        dedicatedInput(installDir, { expectedContentHash: contentHash(files) }),
        dedicatedInput(installDir, { sudo: true, versionPolicy: "warn", sharedListen: true, liveCheck: { port: 8443, serverName: "localhost" } }),
        {
            ...dedicatedInput(installDir),
            control: { kind: "system", includeLink: "/etc/nginx/conf.d/mtls-example.conf", reload: "systemctl" },
            liveCheck: { host: "::1", port: 443, serverName: "api.example.com", releaseHeader: false, timeoutSeconds: 30 },
        },
        { ...dedicatedInput(installDir), control: { kind: "system", includeLink: "/etc/nginx/conf.d/x.conf", reload: { command: "kill -HUP $(cat /run/nginx.pid)" }, nginxArgs: ["-c", "/etc/nginx/nginx.conf"] } },
    ];

    test("contain no payload content: the key never appears in a command string", () => {
        const keyBody = keyPem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
        const keyB64 = Buffer.from(keyPem).toString("base64");
        for (const input of inputs("/opt/mtls-nginx/example")) {
            for (const script of [renderInstallScript(input), renderUninstallScript(input)]) {
                expect(script).not.toContain("PRIVATE KEY");
                for (let i = 0; i + 24 <= keyBody.length; i += 12) expect(script).not.toContain(keyBody.slice(i, i + 24));
                for (let i = 0; i + 24 <= keyB64.length; i += 12) expect(script).not.toContain(keyB64.slice(i, i + 24));
                expect(script).not.toContain(certPem.split("\n")[1]);
            }
        }
    });

    test("are valid POSIX sh for every control mode (sh -n)", () => {
        for (const input of inputs("/opt/mtls-nginx/example")) {
            for (const script of [renderInstallScript(input), renderUninstallScript(input)]) {
                const r = spawnSync("/bin/sh", ["-n", "-c", script], { encoding: "utf8" });
                expect(r.stderr).toBe("");
                expect(r.status).toBe(0);
            }
        }
    });

    test("input validation names the input and the fix, collecting every problem", () => {
        const bad = {
            ...dedicatedInput("relative/dir"),
            releaseId: "../x",
            site: "my site",
            liveCheck: { port: 70000 },
            control: { kind: "system" as const, includeLink: "relative.conf", reload: "restart" as "signal" },
            versionPolicy: "ignore" as "warn",
        };
        let error: unknown;
        try {
            renderInstallScript(bad);
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(InputErrors);
        expect((error as InputErrors).errors.map((e) => e.input).sort()).toEqual(
            ["control.includeLink", "control.reload", "installDir", "liveCheck.port", "releaseId", "site", "versionPolicy"].sort(),
        );
        expect(() => renderInstallScript(dedicatedInput("/opt/x/../y"))).toThrow(/installDir: installDir "\/opt\/x\/\.\.\/y" is not normalized.*Fix: use an absolute, normalized path/);
        expect(() => renderInstallScript(dedicatedInput("/opt/a\nb"))).toThrow(/control character/);
        expect(() => renderInstallScript(dedicatedInput("/"))).toThrow(/installDir: is the root directory/);
        expect(() =>
            renderInstallScript({ ...dedicatedInput("/opt/s"), control: { kind: "system", includeLink: "/opt/s/link.conf", reload: "signal" } }),
        ).toThrow(/control\.includeLink: lies inside installDir/);
        expect(() => renderInstallScript({ ...dedicatedInput("/opt/s"), liveCheck: { port: 443, serverName: "bad name" } })).toThrow(/liveCheck\.serverName/);
        expect(() => renderInstallScript({ ...dedicatedInput("/opt/s"), sharedListen: true })).toThrow(/liveCheck\.serverName: is required when the site shares its listen address/);
        expect(() => renderUninstallScript({ ...dedicatedInput("/opt/s"), site: "" })).toThrow(/^site: /);
    });
});

describe("quoting", () => {
    const hostileChars = ["it's", '"double"', "$(touch pwned)", "`touch pwned2`", "$HOME", "a\\b", "semi;colon", "amp & pipe |", "star * ?", "{brace}", "~tilde", "!bang", "tab\there", "new\nline", "'", "''", "-n"];

    test("shQuote: sh expands every quoted word back to exactly the original (property, one shell run)", () => {
        const samples = fc.sample(fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\0")), 300).concat(hostileChars, [""]);
        const script = `printf '%s\\0' ${samples.map(shQuote).join(" ")}`;
        const r = spawnSync("/bin/sh", ["-c", script], { cwd: work });
        expect(r.status).toBe(0);
        const out = r.stdout.toString("utf8").split("\0").slice(0, -1);
        expect(out).toEqual(samples);
        expect(fs.existsSync(path.join(work, "pwned"))).toBe(false);
        expect(shJoin(["a b", "c"])).toBe("'a b' c");
        expect(() => shQuote("a\0b")).toThrow(/NUL/);
    });

    test("a hostile installDir is quoted safely by the decoder and the install script (proved with sh)", async () => {
        const box = makeTestDir("install-quoting");
        const hostileDir = path.join(box, `it's "q" $(touch pwned) \`touch pwned2\` ; & * ?`);
        const r = sh(renderDecodeScript(hostileDir), encodePayload(files), { ...process.env });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(fs.readFileSync(path.join(hostileDir, "server.key"), "utf8")).toBe(keyPem);

        // The full install script, up to nginx -t, with a stub nginx that rejects every config.
        const stub = path.join(box, "nginx");
        fs.writeFileSync(stub, `#!/bin/sh\ncase "$1" in -v) echo "nginx version: nginx/1.28.0" >&2 ;; *) echo "nginx: [emerg] stub rejects \${*}" >&2; exit 1 ;; esac\n`, { mode: 0o755 });
        const installDir = path.join(hostileDir, "site");
        const input = dedicatedInput(installDir, { control: { kind: "dedicated", nginxBinary: stub, prefix: path.join(hostileDir, "prefix"), confFile: `${installDir}/current/nginx.conf` } });
        const withConf = [...files, { path: "nginx.conf", content: "events {}\n", mode: 0o644 as const }];
        const i = sh(renderInstallScript(input), encodePayload(withConf), { ...process.env });
        expect(i.code).toBe(1);
        expect(i.stderr).toContain("mtls-nginx: nginx -t rejected the new configuration; nothing was installed:");
        // nginx received the exact paths as single arguments.
        expect(i.stderr).toContain(`stub rejects -p ${hostileDir}/prefix -c ${installDir}/releases/0123456789abcdef/nginx.conf -e ${hostileDir}/prefix/logs/error.log -t -q`);
        expect(fs.readdirSync(path.join(installDir, "releases"))).toEqual([]);
        expect(fs.existsSync(path.join(installDir, "current"))).toBe(false);
        expect(fs.existsSync(path.join(box, "pwned")) || fs.existsSync(path.join(box, "pwned2")) || fs.existsSync("pwned")).toBe(false);
    });

    test("sudo wrapping runs: sudo -n gets /bin/sh -c <exact script>, and stdin still carries the payload", () => {
        const box = makeTestDir("install-sudo");
        const bin = path.join(box, "bin");
        fs.mkdirSync(bin);
        const argvFile = path.join(box, "sudo-argv");
        // A stand-in for sudo: records its arguments (NUL-separated), then runs the command.
        fs.writeFileSync(path.join(bin, "sudo"), `#!/bin/sh\nprintf '%s\\0' "$@" > '${argvFile}'\n[ "$1" = "-n" ] || { echo "sudo: expected -n" >&2; exit 2; }\nshift\nexec "$@"\n`, { mode: 0o755 });
        const target = path.join(box, `dir with 'quotes' and $(x)`);
        const script = renderDecodeScript(target);
        const wrapped = sudoWrap(script);
        const r = sh(wrapped, encodePayload(files), { ...process.env, PATH: `${bin}:${process.env.PATH}` });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^decoded 5 files ${contentHash(files)} \\(\\d+ KiB\\)\n$`));
        expect(fs.readFileSync(argvFile, "utf8").split("\0").slice(0, -1)).toEqual(["-n", "/bin/sh", "-c", script, "mtls-nginx"]);
        expect(fs.readFileSync(path.join(target, "server.key"), "utf8")).toBe(keyPem);
        expect(fs.statSync(path.join(target, "server.key")).mode & 0o777).toBe(0o600);

        const install = renderInstallScript(dedicatedInput("/opt/mtls-nginx/example", { sudo: true }));
        expect(install.startsWith("sudo -n /bin/sh -c '# mtls-nginx install script")).toBe(true);
        expect(install.endsWith("' mtls-nginx-install")).toBe(true);
        expect(renderUninstallScript(dedicatedInput("/opt/mtls-nginx/example", { sudo: true })).startsWith("sudo -n /bin/sh -c ")).toBe(true);
    });

    test("docker exec wrapping passes the exact script and keeps stdin open (-i)", () => {
        const box = makeTestDir("install-docker");
        const bin = path.join(box, "bin");
        fs.mkdirSync(bin);
        const argvFile = path.join(box, "docker-argv");
        // A stand-in for docker: `docker exec -i [--user U] CONTAINER cmd...` runs cmd here.
        fs.writeFileSync(
            path.join(bin, "docker"),
            `#!/bin/sh\nprintf '%s\\0' "$@" > '${argvFile}'\n[ "$1" = exec ] && [ "$2" = -i ] || exit 2\nshift 2\nif [ "$1" = --user ]; then shift 2; fi\nshift\nexec "$@"\n`,
            { mode: 0o755 },
        );
        const target = path.join(box, "out");
        const script = renderDecodeScript(target);
        const r = sh(dockerExecWrap("my-nginx", script, { user: "root" }), encodePayload(files), { ...process.env, PATH: `${bin}:${process.env.PATH}` });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(fs.readFileSync(argvFile, "utf8").split("\0").slice(0, -1)).toEqual(["exec", "-i", "--user", "root", "my-nginx", "/bin/sh", "-c", script, "mtls-nginx"]);
        expect(fs.readFileSync(path.join(target, "server.crt"), "utf8")).toBe(certPem);
    });
});
