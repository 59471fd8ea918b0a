/**
 * The install lock (scripts/lock.sh), exercised through the real install script:
 * - concurrent installs that all find a stale lock (its holder is gone) never share the critical
 *   section: the script's test hooks append "locked <pid>" / "unlocking <pid>" to a trace file
 *   (O_APPEND: the file's order is the real order), and no "locked" may follow another without an
 *   "unlocking" in between;
 * - a lock directory that cannot be created (permission denied, read-only filesystem, no space) is
 *   reported at once as what it is, not waited on for 120 s as a lock "held" by nobody.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { InstallScriptInput, renderInstallScript } from "../../components/nginx/install";
import { makeTestDir } from "../support/nginx";
import { cannotMount, makeReadOnly, mountTmpfs, unmountAll } from "../support/mounts";

const ROUNDS = 200;
/** Extra rounds in which the installs wait for each other (all must get in). */
const WAITING_ROUNDS = 40;
const CONCURRENT = 3;

interface Run {
    code: number | null;
    stderr: string;
    ms: number;
}

/**
 * Runs a script as local.Command does (sh -c), with an empty stdin; resolves when it exits, or kills
 * its process group after `killAfterMs`.
 */
function run(script: string, env: NodeJS.ProcessEnv, opts: { uid?: number; killAfterMs?: number } = {}): Promise<Run> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", script], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env }, uid: opts.uid, gid: opts.uid, detached: true });
        let stderr = "";
        const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), opts.killAfterMs ?? 60_000);
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stderr, ms: Date.now() - started });
        });
    });
}

/** Starts the script, waits until its test hook stopped it at `step`, and kills its whole process group (kill -9). */
function killAt(script: string, step: string): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", script], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, MTLS_TEST_STOP_AT: step }, detached: true });
        let stderr = "";
        const timer = setTimeout(() => {
            process.kill(-child.pid!, "SIGKILL");
            reject(new Error(`the script did not stop at ${step}: ${stderr}`));
        }, 20_000);
        child.stderr.on("data", (d) => {
            stderr += d;
            if (stderr.includes(`test hook: stopped at ${step}`)) process.kill(-child.pid!, "SIGKILL");
        });
        child.on("close", () => {
            clearTimeout(timer);
            resolve();
        });
    });
}

/** A pid that no process has (a child that has exited). */
function deadPid(): number {
    const r = spawnSync("/bin/sh", ["-c", "echo $$"], { encoding: "utf8" });
    return Number(r.stdout.trim());
}

/** Overlaps in a trace of "locked <pid>" / "unlocking <pid>" lines, and how many entered. */
function analyse(trace: string): { overlaps: number; entered: number } {
    const inside = new Set<string>();
    let overlaps = 0;
    let entered = 0;
    for (const line of trace.split("\n").filter(Boolean)) {
        const [event, pid] = line.split(" ");
        if (event === "locked") {
            if (inside.size > 0) overlaps++;
            inside.add(pid);
            entered++;
        } else if (event === "unlocking") {
            inside.delete(pid);
        }
    }
    return { overlaps, entered };
}

let box: string;
let stub: string;

beforeAll(() => {
    box = makeTestDir("install-lock");
    stub = path.join(box, "nginx");
    // The lock is taken after the version check; a stub answers it quickly (nothing else runs nginx here).
    fs.writeFileSync(stub, `#!/bin/sh\nif [ "$1" = -v ]; then echo "nginx version: nginx/1.28.0" >&2; exit 0; fi\necho "stub nginx: $*" >&2\nexit 1\n`, { mode: 0o755 });
});

afterAll(() => {
    unmountAll();
});

function input(installDir: string, extra: Partial<InstallScriptInput> = {}): InstallScriptInput {
    return {
        installDir,
        releaseId: "0123456789abcdef",
        site: "lock",
        control: { kind: "dedicated", nginxBinary: stub, prefix: installDir, confFile: `${installDir}/current/nginx.conf` },
        sharedListen: false,
        liveCheck: { port: 8443 },
        testHooks: true,
        ...extra,
    };
}

test(`${ROUNDS} + ${WAITING_ROUNDS} rounds of ${CONCURRENT} concurrent installs against a stale lock: never two in the critical section`, async () => {
    const installDir = path.join(box, "site");
    // The rounds give up at once when a live process holds the lock (the race is in taking over the
    // stale one); WAITING_ROUNDS more wait, and then every install must get in, one after the other.
    const giveUp = renderInstallScript(input(installDir, { lockTimeoutSeconds: 0 }));
    const wait = renderInstallScript(input(installDir, { lockTimeoutSeconds: 30 }));
    const lock = path.join(installDir, ".lock");
    const deadline = Date.now() + 240_000;
    let roundsWithOverlap = 0;
    let overlaps = 0;
    let notTakenOver = 0;
    const samples: string[] = [];
    const unexpected: string[] = [];
    for (let round = 0; round < ROUNDS + WAITING_ROUNDS; round++) {
        expect(Date.now()).toBeLessThan(deadline);
        fs.rmSync(lock, { recursive: true, force: true });
        const waiting = round >= ROUNDS;
        const script = waiting ? wait : giveUp;
        if (round % 2 === 0) {
            // The lock an earlier version leaves behind: a directory holding a dead pid.
            fs.mkdirSync(lock, { recursive: true });
            fs.writeFileSync(path.join(lock, "pid"), `${deadPid()}\n`);
        } else {
            // The lock this version leaves when it is killed (kill -9 of its process group) while holding it.
            await killAt(script, "locked");
        }
        expect(fs.existsSync(lock)).toBe(true);
        const trace = path.join(box, `trace-${round}`);
        fs.writeFileSync(trace, "");
        const runs = await Promise.all(Array.from({ length: CONCURRENT }, () => run(script, { MTLS_TEST_TRACE: trace, MTLS_TEST_SLEEP_AT: "locked:0.02" })));
        for (const r of runs) {
            // Every run either got the lock (and then failed on the empty payload) or found it held.
            if (!/payload: standard input is empty|holds .*\.lock/.test(r.stderr) && unexpected.length < 3) unexpected.push(r.stderr);
        }
        const a = analyse(fs.readFileSync(trace, "utf8"));
        if (a.entered === 0) notTakenOver++;
        if (waiting && a.entered !== CONCURRENT && unexpected.length < 3) unexpected.push(`round ${round}: ${a.entered} of ${CONCURRENT} waiting installs got the lock`);
        if (a.overlaps > 0) {
            roundsWithOverlap++;
            overlaps += a.overlaps;
            if (samples.length < 3) samples.push(fs.readFileSync(trace, "utf8") + runs.map((r) => r.stderr).join("---\n"));
        }
        fs.rmSync(trace);
    }
    const total = ROUNDS + WAITING_ROUNDS;
    console.log(`lock: ${total} rounds x ${CONCURRENT} installs against a stale lock (${WAITING_ROUNDS} of them waiting): ${roundsWithOverlap} round(s) with an overlap (${overlaps} overlapping entries; ${((100 * roundsWithOverlap) / total).toFixed(1)} per 100 rounds); ${notTakenOver} round(s) where nobody took the stale lock over`);
    expect({ roundsWithOverlap, samples }).toEqual({ roundsWithOverlap: 0, samples: [] });
    expect(notTakenOver).toBe(0);
    expect(unexpected).toEqual([]);
}, 300_000);

describe("a lock that cannot be created is reported at once, as what it is", () => {
    const mountProblem = cannotMount();
    const maybe = mountProblem ? test.skip : test;
    if (mountProblem) console.log(`SKIPPED (read-only and full filesystems): ${mountProblem}`);

    /** An install directory as a previous install leaves it (releases/, logs/, run/), then made unwritable by `spoil`. */
    function prepared(label: string): string {
        const dir = path.join(makeTestDir(`lock-${label}`), "site");
        for (const d of ["releases", "logs", "run"]) fs.mkdirSync(path.join(dir, d), { recursive: true, mode: 0o755 });
        return dir;
    }

    const cases: Array<[string, (dir: string) => { uid?: number }, RegExp]> = [
        [
            "permission denied",
            (dir) => {
                // Owned by root, 0755; the install runs as nobody (its own release tree stays writable: it is not reached).
                fs.chmodSync(dir, 0o755);
                return { uid: 65534 };
            },
            /cannot create the lock .*\/site\/\.lock: .*Permission denied/,
        ],
        [
            "read-only file system",
            (dir) => {
                makeReadOnly(dir);
                return {};
            },
            /cannot create the lock .*\/site\/\.lock: .*Read-only file system/,
        ],
        [
            "no space (no free inode)",
            (dir) => {
                // A tiny tmpfs with its inodes used up, holding what a previous install left.
                mountTmpfs(dir, "size=256k,nr_inodes=8");
                for (const d of ["releases", "logs", "run"]) fs.mkdirSync(path.join(dir, d));
                for (let i = 0; ; i++) {
                    try {
                        fs.writeFileSync(path.join(dir, `filler-${i}`), "");
                    } catch {
                        break;
                    }
                }
                return {};
            },
            /cannot create the lock .*\/site\/\.lock: .*No space left on device/,
        ],
    ];
    for (const [label, spoil, message] of cases) {
        (label === "permission denied" ? (process.getuid?.() === 0 ? test : test.skip) : maybe)(label, async () => {
            const dir = prepared(label.split(" ")[0]);
            const opts = spoil(dir);
            const r = await run(renderInstallScript(input(dir)), {}, { ...opts, killAfterMs: 30_000 });
            expect(r.code).toBe(1);
            expect(r.stderr).toMatch(message);
            expect(r.stderr).not.toMatch(/another install holds/);
            // At once: not after the 120 s lock timeout (a generous bound for a slow machine).
            expect(r.ms).toBeLessThan(20_000);
        }, 60_000);
    }
});
