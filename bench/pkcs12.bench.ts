/**
 * PKCS#12 build time per bundle, per profile × key type (target: < 50 ms per bundle).
 *
 * Each case builds a bundle with a two-certificate chain (intermediate + root) `RUNS` times after
 * `WARMUP` discarded builds, and reports the median and p95 wall time of `buildPkcs12`, plus the
 * median CPU time of this process per build (less sensitive to other load on the machine; the load
 * average is printed so wall times can be judged). Prints numbers only; never passes or fails.
 *
 *   npx ts-node bench/pkcs12.bench.ts
 */
import { BenchSection, runStandalone } from "./section";
import * as os from "os";
import { performance } from "perf_hooks";
import { buildPkcs12, COMPAT_ITERATIONS, MODERN_ITERATIONS, PKCS12_PROFILES, Pkcs12Profile } from "../components/pki/pkcs12/pfx";
import { FixtureKeyType, issue, makeHierarchy } from "../test/support/x509";

const RUNS = 50;
const WARMUP = 3;
const KEY_TYPES: FixtureKeyType[] = ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096"];
const TARGET_MS = 50;

function percentile(sorted: number[], p: number): number {
    // Nearest-rank percentile.
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return sorted[rank - 1];
}

export async function main(): Promise<BenchSection> {
    const rows: string[] = [];
    for (const keyType of KEY_TYPES) {
        const { root, intermediate } = await makeHierarchy({ name: "Bench", intermediate: true, keyType });
        const leaf = await issue({ subject: "CN=bench-client", usage: "client", keyType }, intermediate!);
        for (const profile of PKCS12_PROFILES) {
            const build = () =>
                buildPkcs12({
                    privateKeyPem: leaf.key.privateKeyPem,
                    certificatePem: leaf.certPem,
                    chainPems: [intermediate!.certPem, root.certPem],
                    password: "bench-password-0123456789",
                    profile: profile as Pkcs12Profile,
                    friendlyName: "bench-client",
                });
            for (let i = 0; i < WARMUP; i++) build();
            const times: number[] = [];
            const cpuTimes: number[] = [];
            let bytes = 0;
            for (let i = 0; i < RUNS; i++) {
                const cpuStart = process.cpuUsage();
                const start = performance.now();
                bytes = build().length;
                times.push(performance.now() - start);
                const cpu = process.cpuUsage(cpuStart);
                cpuTimes.push((cpu.user + cpu.system) / 1000);
            }
            times.sort((a, b) => a - b);
            cpuTimes.sort((a, b) => a - b);
            const median = percentile(times, 50);
            const p95 = percentile(times, 95);
            const verdict = median < TARGET_MS ? (p95 < TARGET_MS ? "yes" : "median only") : "NO";
            rows.push(
                `| ${profile} | ${keyType} | ${median.toFixed(1)} | ${p95.toFixed(1)} | ${times[times.length - 1].toFixed(1)} | ${percentile(cpuTimes, 50).toFixed(1)} | ${bytes} | ${verdict} |`,
            );
        }
    }
    const load = os.loadavg().map((l) => l.toFixed(2)).join(" / ");
    return {
        title: "PKCS#12 bundle build time",
        lines: [
            `${RUNS} builds per case after ${WARMUP} warm-up builds; leaf + intermediate + root; node ${process.version}; ${os.cpus().length} CPUs, load average ${load} (1/5/15 min) at the end.`,
            `Iterations: compat ${COMPAT_ITERATIONS} (3DES key/IV and SHA-1 MAC via the RFC 7292 KDF), modern ${MODERN_ITERATIONS} (PBKDF2-SHA256 ×2 + SHA-256 MAC KDF).`,
            "",
            "| profile | key | median ms | p95 ms | max ms | CPU median ms | bytes | < 50 ms |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
            ...rows,
        ],
    };
}

if (require.main === module) runStandalone(main);
