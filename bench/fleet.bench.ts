/**
 * Fleet rollouts under the real engine over real SSH: the fleet stack (stacks/Pulumi.fleet.yaml) pointed at
 * 1, 3 and 10 namespace hosts (netnsHost.ts: own network namespace, sshd and system nginx each, one
 * install path with each host's own files behind it), a server-certificate rotation rolled out with
 * batch size 1 and with all hosts in one batch.
 *
 * Per (hosts, batch size): the wall time of the rotation's `pulumi up`, and the rollout's span (the first
 * host's install script starting to the last host's gate passing, from the per-host outputs: all hosts run
 * on this machine's clock). The per-host cost is split from the same outputs: the install script's own
 * timings (payload transfer and check, nginx -t in full context, reload, live check), the gate's request,
 * and what lies between (the engine scheduling the step, the SSH connection and session before the
 * script, the gate's node process starting after it). OpenSSH's `ssh root@host true` is timed as a
 * reference for a bare connection (the command plugin uses Go's x/crypto/ssh, not OpenSSH).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { pemSha256 } from "../test/support/clients";
import { authorizeClientKey, namespaceHostsUnavailable, NamespaceHost, sshTargetConfig, startNamespaceHost } from "../test/support/netnsHost";
import { makeTestDir } from "../test/support/nginx";
import { ENGINE, EngineProject } from "../test/support/realEngine";
import { issue, makeHierarchy } from "../test/support/x509";
import { BenchSection, runStandalone } from "./section";

const SITE_NAME = "mtls.example.com";

interface HostFacts {
    startedAt: string;
    installedAt: string;
    ms: { decode?: number; test?: number; reload?: number; live?: number; total?: number };
    gate?: { ms?: number; processStartedAt?: string; startedAt?: string; checkedAt?: string; ok: boolean };
}

interface Rollout {
    hosts: number;
    batch: number;
    upS: number;
    spanS: number;
    /** From `pulumi up` starting to the first host's install script starting. */
    headS: number;
    /** From the last gate passing to `pulumi up` returning (what the engine does after the rollout). */
    tailS: number;
    facts: HostFacts[];
}

const median = (xs: number[]) => {
    const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    if (s.length === 0) return NaN;
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const t = (iso?: string) => (iso ? Date.parse(iso) : NaN);

/** One fleet of n hosts: first install, then a rotation with batch size 1 and one with all at once. */
async function fleet(n: number, webCa: Awaited<ReturnType<typeof makeHierarchy>>): Promise<{ firstUpS: number; rollouts: Rollout[]; sshMs: number[] }> {
    const shared = makeTestDir(`bench-fleet-${n}`);
    const hosts: NamespaceHost[] = [];
    const project = new EngineProject(`bench-fleet-${n}`);
    try {
        for (let i = 0; i < n; i++) {
            hosts.push(await startNamespaceHost(`bf${n}-${i + 1}`, { privateDir: shared }));
            if (i > 0) authorizeClientKey(hosts[i], hosts[0]);
        }
        const names = hosts.map((_, i) => `h${String(i + 1).padStart(2, "0")}`);
        await project.pulumi(["stack", "select", "--create", "fleet"]);
        const setBatch = (batch: number) => {
            const file = project.stackFile("fleet");
            const doc = parse(fs.readFileSync(file, "utf8"));
            doc.config["mtls-nginx:target"] = hosts.map((h, i) => sshTargetConfig(h, { name: names[i], installDir: path.join(shared, "site") }));
            doc.config["mtls-nginx:rollout"].batchSize = batch;
            fs.writeFileSync(file, stringify(doc));
        };
        setBatch(1);
        await project.pulumi(["config", "set", "--secret", "sshPrivateKey"], { input: hosts[0].clientKeyPem });
        const rotate = async () => {
            const leaf = await issue({ subject: `CN=${SITE_NAME}`, dnsNames: [SITE_NAME], days: 90, usage: "server" }, webCa.issuer);
            await project.pulumi(["config", "set", "serverCertificatePem", "--", leaf.certPem + webCa.issuer.certPem]);
            await project.pulumi(["config", "set", "--secret", "serverPrivateKeyPem"], { input: leaf.key.privateKeyPem });
            return pemSha256(leaf.certPem);
        };
        await rotate();
        const first = await project.pulumi(["up", "--yes"], { timeoutMs: 1_800_000 });
        const rollouts: Rollout[] = [];
        for (const batch of [...new Set([1, n])]) {
            setBatch(batch);
            const served = await rotate();
            process.stderr.write(`fleet bench: ${n} hosts, batch ${batch}: rotation\n`);
            const upStart = Date.now();
            const up = await project.pulumi(["up", "--yes"], { timeoutMs: 1_800_000 });
            const upEnd = Date.now();
            if (process.env.BENCH_FLEET_LOG) fs.appendFileSync(process.env.BENCH_FLEET_LOG, `\n=== ${n} hosts, batch ${batch}\n${up.stdout}`);
            const outputs = await project.outputs();
            const facts = names.map((k) => outputs.hosts[k] as HostFacts & { fingerprintSha256: string });
            if (facts.some((f) => f.fingerprintSha256 !== served)) throw new Error("a host does not serve the rotated certificate");
            const span = Math.max(...facts.map((f) => t(f.gate?.checkedAt))) - Math.min(...facts.map((f) => t(f.startedAt)));
            const firstStart = Math.min(...facts.map((f) => t(f.startedAt)));
            const lastGate = Math.max(...facts.map((f) => t(f.gate?.checkedAt)));
            rollouts.push({ hosts: n, batch, upS: up.ms / 1000, spanS: span / 1000, headS: (firstStart - upStart) / 1000, tailS: (upEnd - lastGate) / 1000, facts });
        }
        const sshMs: number[] = [];
        const keyFile = path.join(project.root, "bench-ssh-key");
        fs.writeFileSync(keyFile, hosts[0].clientKeyPem, { mode: 0o600 });
        for (let i = 0; i < 5; i++) {
            const t0 = performance.now();
            execFileSync("ssh", ["-i", keyFile, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", `root@${hosts[i % hosts.length].address}`, "true"]);
            sshMs.push(performance.now() - t0);
        }
        return { firstUpS: first.ms / 1000, rollouts, sshMs };
    } finally {
        await project.cleanup();
        for (const h of hosts) await h.stop();
    }
}

export async function main(): Promise<BenchSection> {
    if (!ENGINE) throw new Error("no Pulumi engine: run scripts/engine/install.sh or put pulumi on PATH");
    const why = namespaceHostsUnavailable();
    if (why) throw new Error(`namespace hosts unavailable: ${why}`);
    const counts = (process.env.BENCH_FLEET_HOSTS ?? "1,3,10").split(",").map(Number);
    const webCa = await makeHierarchy({ name: "Bench Web PKI", intermediate: true });
    const results: { n: number; firstUpS: number; rollouts: Rollout[]; sshMs: number[] }[] = [];
    for (const n of counts) {
        process.stderr.write(`fleet bench: ${n} hosts\n`);
        results.push({ n, ...(await fleet(n, webCa)) });
    }
    const plugin = process.env.MTLS_NGINX_ENGINE_DIR ? `engine from MTLS_NGINX_ENGINE_DIR=${process.env.MTLS_NGINX_ENGINE_DIR}` : `engine: ${ENGINE.source}`;
    const lines: string[] = [
        `Real \`pulumi\` (${plugin}; its \`command\` plugin runs the installs over real SSH), the fleet stack on n namespace hosts on this machine (own netns, sshd and nginx 1.22 each), a server-certificate rotation per row, one run each. "span": first host's install script start to the last host's gate pass, from the per-host outputs.`,
        "",
        "| hosts | batch size | first `pulumi up` s | rotation `pulumi up` s | before the first host s | rollout span s | span per batch s | after the last gate s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ];
    for (const r of results) {
        for (const ro of r.rollouts) {
            const batches = Math.ceil(ro.hosts / ro.batch);
            lines.push(
                `| ${r.n} | ${ro.batch === r.n && r.n > 1 ? `${ro.batch} (all)` : ro.batch} | ${r.firstUpS.toFixed(1)} | ${ro.upS.toFixed(1)} | ${ro.headS.toFixed(1)} | ${ro.spanS.toFixed(1)} | ${(ro.spanS / batches).toFixed(2)} | ${ro.tailS.toFixed(1)} |`,
            );
        }
    }
    // The per-host split, from the one-at-a-time rollouts (medians over their hosts).
    const oneByOne = results.flatMap((r) => r.rollouts.filter((ro) => ro.batch === 1));
    lines.push(
        "",
        "Per host, one at a time (median over the hosts of each rollout, ms): before = from the previous host's gate passing to this host's install script starting (the engine starting the step, the SSH connection, session and `/bin/sh`); decode = reading and checking the payload from stdin (its transfer over SSH included); nginx -t = the new release tested in the host nginx's full configuration (nginx -T mirror) and the swap; reload; live = until the new certificate and release are served; gate start = from the install's end to the gate's node process running its first request (SSH session close, the engine, node start); gate = the mTLS request.",
        "",
        "| hosts | before | decode | nginx -t | reload | live | gate start | gate | per host |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const ro of oneByOne) {
        const f = ro.facts;
        const before = f.slice(1).map((x, i) => t(x.startedAt) - t(f[i].gate?.checkedAt));
        const gateStart = f.map((x) => t(x.gate?.startedAt) - t(x.installedAt));
        const perHost = f.slice(1).map((x, i) => t(x.gate?.checkedAt) - t(f[i].gate?.checkedAt));
        const m = (xs: number[]) => (Number.isFinite(median(xs)) ? median(xs).toFixed(0) : "-");
        lines.push(
            `| ${ro.hosts} | ${m(before)} | ${m(f.map((x) => x.ms.decode ?? NaN))} | ${m(f.map((x) => x.ms.test ?? NaN))} | ${m(f.map((x) => x.ms.reload ?? NaN))} | ${m(f.map((x) => x.ms.live ?? NaN))} | ${m(gateStart)} | ${m(f.map((x) => x.gate?.ms ?? NaN))} | ${m(perHost)} |`,
        );
    }
    const ssh = results.flatMap((r) => r.sshMs);
    lines.push("", `Reference: OpenSSH \`ssh root@<host> true\` to these hosts: median ${median(ssh).toFixed(0)} ms (${ssh.length} runs).`, "");
    return { title: "Fleet rollouts: 1, 3 and 10 hosts over SSH, one at a time and all at once", lines };
}

if (require.main === module) runStandalone(main);
