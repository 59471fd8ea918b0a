/**
 * Runs every `bench/*.bench.ts` (each exports `async function main(): Promise<{ title, lines }>`), prints
 * each section as it completes, and writes docs/benchmarks.md: the machine, the date, and every section.
 *
 * Each bench runs in its own child process (`node -r ts-node/register bench/run.ts --one <file>`), so a
 * bench that throws, crashes, leaves handles open or exceeds its time limit is recorded as failed in the
 * document and the run goes on with the next one. Benchmarks print numbers; none of them passes or fails.
 *
 *   npm run bench                                  (all benches)
 *   npx ts-node bench/run.ts handshake pkcs12      (only benches whose file name contains one of the words;
 *                                                  the document keeps the other benches' earlier sections)
 *   BENCH_TIMEOUT_MINUTES=90 npm run bench         (per-bench limit, default 60)
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const DOC = path.join(ROOT, "docs", "benchmarks.md");
const ONE_FLAG = "--one";
const RESULT_MARKER = "BENCH_RESULT ";
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MINUTES ?? 60) * 60_000;

interface BenchOutcome {
    file: string;
    ok: boolean;
    title: string;
    lines: string[];
    error?: string;
    seconds: number;
}

/** Child mode: run one bench's main() and print its result as one marked JSON line. */
async function runOne(file: string): Promise<void> {
    try {
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const mod = require(path.resolve(ROOT, file));
        if (typeof mod.main !== "function") throw new Error(`${file} does not export main()`);
        const result = await mod.main();
        if (!result || typeof result.title !== "string" || !Array.isArray(result.lines)) {
            throw new Error(`${file}: main() must resolve to { title: string; lines: string[] }`);
        }
        process.stdout.write(`\n${RESULT_MARKER}${JSON.stringify({ ok: true, title: result.title, lines: result.lines.map(String) })}\n`);
        process.exit(0);
    } catch (e) {
        const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        process.stdout.write(`\n${RESULT_MARKER}${JSON.stringify({ ok: false, error })}\n`);
        process.exit(1);
    }
}

function benchFiles(filters: string[]): string[] {
    return fs
        .readdirSync(__dirname)
        .filter((f) => f.endsWith(".bench.ts"))
        .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
        .sort()
        .map((f) => path.join("bench", f));
}

function runInChild(file: string): Promise<BenchOutcome> {
    const started = Date.now();
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["-r", "ts-node/register", path.join(__dirname, "run.ts"), ONE_FLAG, file], {
            cwd: ROOT,
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
        });
        let stdout = "";
        let stderrTail = "";
        child.stdout.on("data", (d: Buffer) => {
            stdout += d;
        });
        child.stderr.on("data", (d: Buffer) => {
            process.stderr.write(d); // progress of the bench, live
            stderrTail = (stderrTail + d).slice(-4000);
        });
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            try {
                child.kill("SIGKILL");
            } catch {
                /* already gone */
            }
        }, TIMEOUT_MS);
        const finish = (code: number | null, signal: NodeJS.Signals | null) => {
            clearTimeout(timer);
            const seconds = (Date.now() - started) / 1000;
            const line = stdout
                .split("\n")
                .reverse()
                .find((l) => l.startsWith(RESULT_MARKER));
            if (line) {
                try {
                    const r = JSON.parse(line.slice(RESULT_MARKER.length));
                    if (r.ok) return resolve({ file, ok: true, title: r.title, lines: r.lines, seconds });
                    return resolve({ file, ok: false, title: path.basename(file), lines: [], error: r.error, seconds });
                } catch {
                    /* fall through */
                }
            }
            const why = timedOut ? `timed out after ${TIMEOUT_MS / 60_000} min and was killed` : `exited with code ${code}${signal ? `, signal ${signal}` : ""} without a result`;
            resolve({ file, ok: false, title: path.basename(file), lines: [], error: `${why}\n${stderrTail.split("\n").slice(-25).join("\n")}`, seconds });
        };
        child.on("error", (e) => {
            clearTimeout(timer);
            resolve({ file, ok: false, title: path.basename(file), lines: [], error: `could not start: ${e.message}`, seconds: 0 });
        });
        child.on("close", finish);
    });
}

/** The sections of the current document, by source file, except those of `rerun` (kept when only some benches run). */
function earlierSections(rerun: string[]): Map<string, string[]> {
    const kept = new Map<string, string[]>();
    if (!fs.existsSync(DOC)) return kept;
    const lines = fs.readFileSync(DOC, "utf8").split("\n");
    const starts = lines.map((l, i) => (l.startsWith("## ") ? i : -1)).filter((i) => i >= 0);
    starts.forEach((start, k) => {
        const section = lines.slice(start, starts[k + 1] ?? lines.length);
        const file = /_Source: `([^`]+)`/.exec(section.join("\n"))?.[1];
        if (file && !rerun.includes(file)) kept.set(file, section);
    });
    return kept;
}

function firstLine(cmd: string, args: string[]): string {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.error) return "not found";
    return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] ?? "";
}

function machine(): string[] {
    const cpus = os.cpus();
    let osName = `${os.type()} ${os.release()}`;
    try {
        const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(fs.readFileSync("/etc/os-release", "utf8"));
        if (pretty) osName = `${pretty[1]}, kernel ${os.release()}`;
    } catch {
        /* not Linux */
    }
    const nginxBin = process.env.NGINX_BIN ?? "/usr/sbin/nginx";
    const commit = firstLine("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]);
    const dirty = spawnSync("git", ["-C", ROOT, "status", "--porcelain"], { encoding: "utf8" }).stdout?.trim() ? " (with uncommitted changes)" : "";
    return [
        `| | |`,
        `| --- | --- |`,
        `| CPU | ${cpus[0]?.model ?? "unknown"} |`,
        `| cores | ${cpus.length} (shared with other work: see the load averages) |`,
        `| RAM | ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB |`,
        `| OS | ${osName} |`,
        `| node | ${process.version} |`,
        `| nginx | ${firstLine(nginxBin, ["-v"]).replace(/^nginx version: /, "")} |`,
        `| openssl | ${firstLine("openssl", ["version"])} |`,
        `| commit | ${commit}${dirty} |`,
    ];
}

async function runAll(filters: string[]): Promise<void> {
    const files = benchFiles(filters);
    const startedAt = new Date();
    const loadStart = os.loadavg();
    console.log(`# Benchmarks (${files.length}: ${files.map((f) => path.basename(f)).join(", ")})\n`);
    const outcomes: BenchOutcome[] = [];
    for (const file of files) {
        process.stderr.write(`\n==> ${file}\n`);
        const outcome = await runInChild(file);
        outcomes.push(outcome);
        if (outcome.ok) {
            console.log(`## ${outcome.title}\n\n${outcome.lines.join("\n")}\n\n_${file}, ${outcome.seconds.toFixed(0)} s_\n`);
        } else {
            console.log(`## ${file}: FAILED after ${outcome.seconds.toFixed(0)} s\n\n${outcome.error}\n`);
        }
    }
    const finishedAt = new Date();
    const doc: string[] = [
        "# Benchmarks",
        "",
        `Generated by \`npm run bench\` (bench/run.ts) on ${startedAt.toISOString()} (finished ${finishedAt.toISOString()}). Numbers, not pass/fail: each section says what it measures and how.`,
        "",
        ...machine(),
        "",
        `Load average (1/5/15 min) at the start: ${loadStart.map((l) => l.toFixed(2)).join(" / ")}; at the end: ${os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(" / ")}. Other engineers share these cores, so wall-clock numbers vary; prefer the CPU-time columns.`,
        "",
        `Benches: ${outcomes.map((o) => `\`${o.file}\` (${o.ok ? `${o.seconds.toFixed(0)} s` : "FAILED"})`).join(", ")}.`,
        ...(filters.length > 0 ? ["", `This run re-ran the benches matching ${filters.map((f) => `\`${f}\``).join(", ")}; the other sections are kept from earlier runs (their machine and load lines are not repeated).`] : []),
        "",
    ];
    const kept = filters.length > 0 ? earlierSections(outcomes.map((o) => o.file)) : new Map<string, string[]>();
    for (const file of [...new Set([...outcomes.map((o) => o.file), ...kept.keys()])].sort()) {
        const o = outcomes.find((x) => x.file === file);
        if (!o) {
            doc.push(...kept.get(file)!);
        } else if (o.ok) {
            doc.push(`## ${o.title}`, "", `_Source: \`${o.file}\`; ran ${o.seconds.toFixed(0)} s${kept.size > 0 ? `, ${startedAt.toISOString().slice(0, 10)}` : ""}._`, "", ...o.lines, "");
        } else {
            doc.push(`## ${path.basename(o.file)}: failed`, "", `_Source: \`${o.file}\`; failed after ${o.seconds.toFixed(0)} s:_`, "", "```", ...(o.error ?? "").split("\n"), "```", "");
        }
    }
    fs.mkdirSync(path.dirname(DOC), { recursive: true });
    fs.writeFileSync(DOC, doc.join("\n"));
    console.log(`Wrote ${path.relative(ROOT, DOC)} (${outcomes.filter((o) => o.ok).length}/${outcomes.length} benches succeeded).`);
}

if (require.main === module) {
    const i = process.argv.indexOf(ONE_FLAG);
    if (i >= 0) {
        void runOne(process.argv[i + 1]);
    } else {
        runAll(process.argv.slice(2).filter((a) => !a.startsWith("-"))).catch((e) => {
            console.error(e);
            process.exitCode = 1;
        });
    }
}
