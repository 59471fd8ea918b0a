/**
 * Server-certificate rotation through the component path, under steady mTLS load: MtlsNginx runs under the
 * deployment simulator with `localCommandExecutor` (the component's own install script against a private
 * dedicated nginx), and each rotation is a `pulumi up` after bumping `server.generation`.
 *
 * Measured per rotation: from the start of the install step (the command executor starting the install
 * script) to the first load response carrying the new server certificate, the install step itself, and the
 * requests that failed. Load: a worker thread starting RATE requests/s, each a new connection with a full
 * TLS handshake and the client certificate (test/support/load.ts). Target: < 2 s, 0 failed.
 *
 * Run alone: `npx ts-node bench/rotation.bench.ts` (needs /usr/sbin/nginx, or NGINX_BIN).
 */
import { BenchSection, runStandalone } from "./section";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MtlsNginx } from "../components/mtlsNginx";
import { DeploymentSimulator, Executor, localCommandExecutor } from "../test/support/engine";
import { nowMs, Outcome, SteadyLoad } from "../test/support/load";
import { NGINX_BIN, adopt, hasNginx, makeTestDir, stopAll } from "../test/support/nginx";
import { freePort } from "../test/support/ports";

const ROTATIONS = 6;
const RATE = 50;
/** Time the load sees each new certificate before the next rotation. */
const SETTLE_MS = 1500;

function median(xs: number[]): number {
    const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : Math.round((s[s.length / 2 - 1] + s[s.length / 2]) / 2);
}

const max = (xs: number[]) => Math.max(...xs.filter((x) => Number.isFinite(x)));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Install {
    start: number;
    end: number;
    stdout: string;
}

export async function main(): Promise<BenchSection> {
    const title = `rotation: server-certificate rotation through MtlsNginx + install script on a running dedicated nginx (${ROTATIONS} rotations, ${RATE} new-handshake mTLS requests/s)`;
    if (!hasNginx()) {
        return { title, lines: [`skipped: no nginx at ${NGINX_BIN}`] };
    }
    const dir = makeTestDir("rotation-bench");
    const installDir = path.join(dir, "nginx");
    const port = await freePort();

    const installs: Install[] = [];
    const timed: Executor = {
        create: async (ctx) => {
            const start = nowMs();
            const result = await localCommandExecutor.create!(ctx);
            installs.push({ start, end: nowMs(), stdout: String(result.outputs?.stdout ?? "") });
            return result;
        },
        update: async (ctx) => {
            const start = nowMs();
            const result = await localCommandExecutor.update!(ctx);
            installs.push({ start, end: nowMs(), stdout: String(result.outputs?.stdout ?? "") });
            return result;
        },
        delete: (ctx) => localCommandExecutor.delete!(ctx),
    };
    const sim = new DeploymentSimulator({ executors: { "command:local:Command": timed } });
    const program = (generation: number) => () => {
        const m = new MtlsNginx("bench", {
            ca: { commonName: "Rotation Bench Root CA", intermediate: true },
            server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], generation },
            clients: [{ name: "load" }],
            site: { listen: { address: "127.0.0.1", port }, mode: { kind: "static" } },
            target: { kind: "local", installDir },
        });
        const c = m.clients.load;
        return { caCertPem: m.caCertPem, serverFingerprint: m.serverCertificate!.fingerprintSha256, certPem: c.fullChainPem, keyPem: c.keyPem };
    };
    // Runs use the real clock (no MTLS_NGINX_CLOCK): what nginx checks against.
    const quiet = pulumi.log.warn;
    (pulumi.log as { warn: typeof pulumi.log.warn }).warn = () => Promise.resolve();

    const lines: string[] = [];
    let load: SteadyLoad | undefined;
    try {
        const first = await sim.run(program(0));
        adopt(installDir, path.join(installDir, "current", "nginx.conf"));
        const o = first.outputs;

        load = new SteadyLoad({ port, caPem: o.caCertPem, certPem: o.certPem, keyPem: o.keyPem, rate: RATE, minMs: 1000, maxMs: 120_000, expectBody: "You are in\\." });
        await sleep(1000);
        const rotations: { fingerprint: string; install: Install; steps: string }[] = [];
        for (let i = 1; i <= ROTATIONS; i++) {
            const before = installs.length;
            const run = await sim.run(program(i));
            const install = installs.slice(before)[0];
            if (!install) throw new Error(`rotation ${i}: the install command did not run`);
            const steps = run.steps
                .filter((s) => s.op !== "same" && s.custom)
                .map((s) => `${s.name}:${s.op}`)
                .join(" ");
            rotations.push({ fingerprint: run.outputs.serverFingerprint, install, steps });
            await sleep(SETTLE_MS);
        }
        load.stop();
        const { outcomes, seconds } = await load.result();
        load = undefined;

        const failed = outcomes.filter((r) => !r.ok);
        const servedMs: number[] = [];
        const stepMs: number[] = [];
        const phases: Record<string, number[]> = { decode: [], test: [], reload: [], live: [] };
        let failedDuring = 0;
        for (const r of rotations) {
            const firstNew = outcomes.filter((x: Outcome) => x.ok && x.serverFingerprint === r.fingerprint).reduce((a, x) => Math.min(a, x.end), Infinity);
            servedMs.push(Math.round(firstNew - r.install.start));
            stepMs.push(Math.round(r.install.end - r.install.start));
            failedDuring += failed.filter((x) => x.start < r.install.end + SETTLE_MS && x.end > r.install.start).length;
            const m = /ms: decode (\d+), test (\d+), \w+ (\d+), live (\d+)/.exec(r.install.stdout);
            if (m) {
                phases.decode.push(Number(m[1]));
                phases.test.push(Number(m[2]));
                phases.reload.push(Number(m[3]));
                phases.live.push(Number(m[4]));
            }
        }
        lines.push(`each rotation planned and ran: ${rotations[0]?.steps}`);
        lines.push(`install step start -> first load response with the new server certificate: median ${median(servedMs)} ms, max ${max(servedMs)} ms (${servedMs.join(", ")})`);
        lines.push(`install step (executor start -> script exit 0, new certificate confirmed live): median ${median(stepMs)} ms, max ${max(stepMs)} ms`);
        lines.push(`script phases (median ms): decode+version ${median(phases.decode)}, nginx -t ${median(phases.test)}, reload ${median(phases.reload)}, live check ${median(phases.live)}`);
        lines.push(
            `load: ${outcomes.length} requests in ${seconds.toFixed(1)} s (${(outcomes.length / seconds).toFixed(1)} req/s), ${failed.length} failed (${failedDuring} during a rotation)` +
                (failed.length ? `; first failures: ${failed.slice(0, 3).map((f) => f.failure).join("; ")}` : ""),
        );
        lines.push(`target (< 2000 ms, 0 failed): ${max(servedMs) < 2000 && failed.length === 0 ? "met" : "NOT met"}`);
    } finally {
        await load?.kill();
        (pulumi.log as { warn: typeof pulumi.log.warn }).warn = quiet;
        await sim.destroy().catch(() => undefined);
        await stopAll();
        fs.rmSync(dir, { recursive: true, force: true });
    }
    return { title, lines };
}

if (require.main === module) runStandalone(main);
