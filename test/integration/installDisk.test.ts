/**
 * A full disk while an install stages its files: the install directory is a small tmpfs, filled to
 * several levels (from nothing free to enough), and every install either succeeds or says
 * "no space left on <dir> (N KiB free, release needs M KiB)", never "not valid base64" or a bare
 * "I/O error", and leaves the site as it was (current, served release, no staging directory).
 */
import * as fs from "fs";
import * as path from "path";
import { InstallScriptInput, encodePayload, renderInstallScript } from "../../components/nginx/install";
import { Pki, currentOf, curl, dedicatedConf, makePki, runScript, serverCert, siteFiles } from "../support/installHarness";
import { cannotMount, freeKiB, mountTmpfs, unmountAll } from "../support/mounts";
import { NGINX_BIN, adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { freePort } from "../support/ports";
import { FixtureCert } from "../support/x509";

const problem = !hasNginx() ? "no nginx" : cannotMount();
const describeDisk = problem ? describe.skip : describe;
if (problem) console.log(`SKIPPED (full-disk install tests): ${problem}`);

afterAll(async () => {
    await stopAll();
    unmountAll();
});

describeDisk("an install on a full disk says so, and changes nothing", () => {
    let pki: Pki;
    let cert: FixtureCert;
    let dir: string;
    let installDir: string;
    let prefix: string;
    let port: number;
    let n = 0;
    const input = (id: string): InstallScriptInput => ({
        installDir,
        releaseId: id,
        site: "disk",
        // nginx's own files (logs, pid) are elsewhere: only the releases are on the small filesystem.
        control: { kind: "dedicated", nginxBinary: NGINX_BIN, prefix, confFile: `${installDir}/current/nginx.conf` },
        sharedListen: false,
        liveCheck: { port, timeoutSeconds: 5 },
    });
    // A CRL-sized file makes the release big enough to run out in the middle of it.
    const release = () => {
        const r = siteFiles(cert, pki, (rel, id) => ({ name: "nginx.conf", text: dedicatedConf({ prefix, rel, id, port }) }), installDir, `disk-${n++}`);
        const big = { path: "padding.pem", content: "x".repeat(40 * 1024) + "\n", mode: 0o644 as const };
        const files = [...r.files, big];
        return { ...r, files };
    };

    beforeAll(async () => {
        pki = await makePki(makeTestDir("disk-pki"));
        cert = await serverCert(pki);
        dir = makeTestDir("install-disk");
        installDir = path.join(dir, "site");
        prefix = path.join(dir, "prefix");
        port = await freePort();
        mountTmpfs(installDir, "size=512k");
    });

    test("at every fill level: success, or an honest message and the site as it was", async () => {
        const first = release();
        const r0 = await runScript(renderInstallScript(input(first.id)), encodePayload(first.files));
        expect(r0.stderr).toBe("");
        expect(r0.code).toBe(0);
        adopt(prefix, `${installDir}/current/nginx.conf`);
        let live = first.id;
        const releaseKiB = Math.ceil(first.files.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0) / 1024);
        // What staging the release takes on disk: every file in whole 4 KiB blocks, one for the manifest and one for the checksum list.
        const footprintKiB = 8 + first.files.reduce((sum, f) => sum + Math.ceil(Buffer.byteLength(f.content) / 4096) * 4, 0);
        const outcomes: string[] = [];
        const filler = path.join(installDir, "filler");
        // Free space left for the install, in KiB: none, a little, about half the release, nearly all, all
        // (then the 4 KiB journal is what does not fit), plenty.
        for (const leave of [0, 4, 8, 16, 24, 32, 40, 48, 56, 64, 68, 72, 76, 80, 96, 128, 200]) {
            const next = release();
            fs.rmSync(filler, { force: true });
            const free = freeKiB(installDir);
            if (free > leave) {
                try {
                    fs.writeFileSync(filler, Buffer.alloc((free - leave) * 1024));
                } catch {
                    /* the filesystem is as full as it gets */
                }
            }
            const before = freeKiB(installDir);
            const r = await runScript(renderInstallScript(input(next.id)), encodePayload(next.files));
            outcomes.push(`${leave} KiB left (${before} free): ${r.code === 0 ? "installed" : r.stderr.trim().split("\n")[0]}`);
            expect(r.stderr).not.toMatch(/base64|I\/O error|Directory nonexistent|cannot create/);
            if (r.code === 0) {
                live = next.id;
            } else {
                expect(r.code).toBe(1);
                // While staging: "(N KiB free, release needs M KiB)"; for the journal written after it:
                // "for the install journal (N KiB free once the release's M KiB are written; ...)".
                const m = new RegExp(`no space left on ${installDir} (?:\\((\\d+) KiB free, release needs (\\d+) KiB\\)|for the install journal \\((\\d+) KiB free once the release's (\\d+) KiB are written)`).exec(r.stderr);
                expect({ stderr: r.stderr, matched: !!m }).toEqual({ stderr: r.stderr, matched: true });
                expect(Number(m![2] ?? m![4])).toBe(footprintKiB);
                expect(r.stderr).toContain("nothing was changed");
            }
            expect(currentOf(installDir)).toBe(live);
            expect(fs.readdirSync(path.join(installDir, "releases")).filter((f) => f.startsWith(".staging-"))).toEqual([]);
            expect(fs.existsSync(path.join(installDir, ".journal"))).toBe(false);
            const served = curl(port, pki.client);
            expect(served.code).toBe("200");
            expect(served.headers.toLowerCase()).toContain(`x-mtls-release: ${live}`);
        }
        console.log(`full disk (release of ${releaseKiB} KiB, ${footprintKiB} KiB on disk):\n  ${outcomes.join("\n  ")}`);
        // The levels covered both outcomes.
        expect(outcomes.some((o) => o.endsWith("installed"))).toBe(true);
        expect(outcomes.some((o) => o.includes("no space left"))).toBe(true);
    }, 180_000);
});
