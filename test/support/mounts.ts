/**
 * Small filesystems for tests that need a full disk, a read-only directory or no free inodes:
 * tmpfs and bind mounts (root only). Every mount made here is remembered; `unmountAll()` (call it in
 * afterAll) removes them, also after a failed test.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const mounted: string[] = [];

/** Why mounts cannot be made here (undefined when they can): not root, or mount refused. */
export function cannotMount(): string | undefined {
    if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
    const probe = fs.mkdtempSync(path.join(os.tmpdir(), "mtls-mount-probe-"));
    try {
        const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { encoding: "utf8" });
        if (r.status !== 0) return `mount -t tmpfs failed: ${(r.stderr || String(r.error)).trim()}`;
        spawnSync("umount", [probe]);
        return undefined;
    } finally {
        fs.rmSync(probe, { recursive: true, force: true });
    }
}

function run(cmd: string, args: string[]): void {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
}

/** Mounts a tmpfs at `dir` (created when missing) with mount options such as "size=512k" or "nr_inodes=40". */
export function mountTmpfs(dir: string, options: string): void {
    fs.mkdirSync(dir, { recursive: true });
    run("mount", ["-t", "tmpfs", "-o", `${options},mode=0755`, "tmpfs", dir]);
    mounted.push(dir);
}

/** Makes `dir` read-only (a read-only bind mount of itself). */
export function makeReadOnly(dir: string): void {
    run("mount", ["--bind", dir, dir]);
    mounted.push(dir);
    run("mount", ["-o", "remount,ro,bind", dir]);
}

/** Unmounts what was mounted at `dir` (the last mount there). */
export function unmount(dir: string): void {
    const i = mounted.lastIndexOf(dir);
    if (i < 0) return;
    mounted.splice(i, 1);
    const r = spawnSync("umount", [dir], { encoding: "utf8" });
    if (r.status !== 0) spawnSync("umount", ["-l", dir]);
}

/** Unmounts everything mounted here, newest first. */
export function unmountAll(): void {
    while (mounted.length > 0) unmount(mounted[mounted.length - 1]);
}

/** Free KiB on the filesystem of `dir` (df -Pk). */
export function freeKiB(dir: string): number {
    const r = spawnSync("df", ["-Pk", dir], { encoding: "utf8" });
    return Number(r.stdout.trim().split("\n")[1].split(/\s+/)[3]);
}
