/**
 * The real Pulumi engine: wall time and CPU time (the CLI and everything it ran: language host, node
 * program, dynamic-provider host, tls and command plugins) of the commands a team runs.
 *
 * 1. The dev stack (README's main job): first up, no-op preview, no-op up, a renewal up (clock past every
 *    renewAt), destroy.
 * 2. 10, 100 and 300 clients: first up and no-op preview (and no-op up), side by side with a plain program
 *    of ours holding the same number of bare @pulumi/tls key + CSR + locally-signed certificate sets under
 *    one CA: what a user would write by hand instead.
 *
 * CPU is read with bash's `times` (children's user + system time: the CLI waits for its plugins and the
 * language host for node, so everything the command started is counted).
 */
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { freePort } from "../test/support/ports";
import { ENGINE, EngineProject } from "../test/support/realEngine";
import { BenchSection, runStandalone } from "./section";

interface Timing {
    wallS: number;
    cpuS: number;
}

const TIMED = 'start=$(date +%s.%N); "$0" "$@" >"$TIMED_LOG" 2>&1; rc=$?; end=$(date +%s.%N); echo "wall $start $end"; times; exit $rc';

async function timed(project: EngineProject, args: string[], env: Record<string, string> = {}): Promise<Timing> {
    const log = path.join(project.root, "last-command.log");
    const pulumi = path.join(ENGINE!.binDir, "pulumi");
    const r = await project.run("bash", ["-c", TIMED, pulumi, "--non-interactive", ...args], { env: { ...env, TIMED_LOG: log }, timeoutMs: 3_600_000, allowFailure: true });
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${fs.readFileSync(log, "utf8").slice(-3000)}`);
    const [, start, end] = /wall (\S+) (\S+)/.exec(r.stdout)!;
    // `times`: the shell's own user/sys, then its children's.
    const lines = r.stdout.trim().split("\n");
    const children = lines[lines.length - 1].split(/\s+/).map((t) => {
        const m = /(\d+)m([\d.]+)s/.exec(t)!;
        return Number(m[1]) * 60 + Number(m[2]);
    });
    return { wallS: Number(end) - Number(start), cpuS: children[0] + children[1] };
}

const fmt = (t: Timing) => `${t.wallS.toFixed(1)} | ${t.cpuS.toFixed(1)}`;

function clientsConfig(n: number): { name: string }[] {
    return Array.from({ length: n }, (_, i) => ({ name: `c${String(i + 1).padStart(3, "0")}` }));
}

/** The plain program: one CA, then n key + CSR + locally signed certificate sets, nothing else. */
const BARE_PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const tls = require("@pulumi/tls");
const n = new pulumi.Config().requireNumber("clients");
const key = (name) => new tls.PrivateKey(name, { algorithm: "ECDSA", ecdsaCurve: "P256" });
const caKey = key("ca-key");
const ca = new tls.SelfSignedCert("ca", { privateKeyPem: caKey.privateKeyPem, subject: { commonName: "Bare CA" }, validityPeriodHours: 87600, isCaCertificate: true, allowedUses: ["cert_signing", "crl_signing"] });
for (let i = 1; i <= n; i++) {
    const k = key("c" + i + "-key");
    const csr = new tls.CertRequest("c" + i + "-csr", { privateKeyPem: k.privateKeyPem, subject: { commonName: "c" + i } });
    new tls.LocallySignedCert("c" + i + "-cert", { certRequestPem: csr.certRequestPem, caCertPem: ca.certPem, caPrivateKeyPem: caKey.privateKeyPem, validityPeriodHours: 8760, allowedUses: ["digital_signature", "client_auth"] });
}
`;

async function devStack(lines: string[]): Promise<void> {
    const project = new EngineProject("bench-dev");
    try {
        await project.pulumi(["stack", "select", "--create", "dev"]);
        await project.setConfig("site.listen.port", await freePort());
        const first = await timed(project, ["up", "--yes"]);
        const preview = await timed(project, ["preview", "--expect-no-changes"]);
        const up = await timed(project, ["up", "--yes", "--expect-no-changes"]);
        const outputs = await project.outputs();
        const due = Math.max(Date.parse(outputs.nextRenewal.at), ...Object.values<any>(outputs.clients).map((c) => Date.parse(c.renewAt)));
        const renewal = await timed(project, ["up", "--yes"], { MTLS_NGINX_CLOCK: new Date(due + 3600_000).toISOString() });
        const destroy = await timed(project, ["destroy", "--yes"]);
        lines.push(
            "### The dev stack (32 resources: root + intermediate CA, server, alice and bob, CRLs, the install)",
            "",
            "| command | wall s | CPU s |",
            "| --- | ---: | ---: |",
            `| first \`pulumi up\` | ${fmt(first)} |`,
            `| no-op \`pulumi preview\` | ${fmt(preview)} |`,
            `| no-op \`pulumi up\` | ${fmt(up)} |`,
            `| renewal \`pulumi up\` (server, alice, bob, CRLs, install) | ${fmt(renewal)} |`,
            `| \`pulumi destroy\` | ${fmt(destroy)} |`,
            "",
        );
    } finally {
        await project.cleanup({ destroy: false });
    }
}

async function scaled(n: number): Promise<{ ours: Record<string, Timing>; bare: Record<string, Timing>; resources: number; checkpointBytes: number; bareCheckpointBytes: number }> {
    const ours = new EngineProject(`bench-${n}`);
    const bare = new EngineProject(`bench-bare-${n}`, {
        extraFiles: { "bare/Pulumi.yaml": "name: bare\nruntime: nodejs\nmain: index.js\n", "bare/package.json": '{ "name": "bare", "private": true }\n', "bare/index.js": BARE_PROGRAM },
    });
    fs.symlinkSync("../node_modules", path.join(bare.dir, "bare", "node_modules"));
    try {
        await ours.pulumi(["stack", "select", "--create", "dev"]);
        const file = ours.stackFile("dev");
        const doc = parse(fs.readFileSync(file, "utf8"));
        doc.config["mtls-nginx:clients"] = clientsConfig(n);
        doc.config["mtls-nginx:site"].listen.port = await freePort();
        fs.writeFileSync(file, stringify(doc));
        const o = { firstUp: await timed(ours, ["up", "--yes"]), preview: await timed(ours, ["preview", "--expect-no-changes"]), up: await timed(ours, ["up", "--yes", "--expect-no-changes"]) };
        const resources = (await ours.exportState()).resources.length;
        const checkpointBytes = (await ours.exportState()).text.length;
        // The same first up without a checkpoint per step (the file backend rewrites the whole checkpoint after
        // every step, so a first up grows with resources x checkpoint size).
        await ours.pulumi(["destroy", "--yes", "--skip-preview"]);
        const skip = await timed(ours, ["up", "--yes"], { PULUMI_SKIP_CHECKPOINTS: "true" });
        const b0 = ["--cwd", path.join(bare.dir, "bare")];
        await bare.pulumi([...b0, "stack", "select", "--create", "dev"]);
        await bare.pulumi([...b0, "config", "set", "clients", String(n)]);
        const b = { firstUp: await timed(bare, [...b0, "up", "--yes"]), preview: await timed(bare, [...b0, "preview", "--expect-no-changes"]), up: await timed(bare, [...b0, "up", "--yes", "--expect-no-changes"]) };
        return { ours: { ...o, firstUpSkip: skip }, bare: b, resources, checkpointBytes, bareCheckpointBytes: (await bare.pulumi([...b0, "stack", "export"])).stdout.length };
    } finally {
        await ours.cleanup();
        await bare.cleanup({ destroy: false });
    }
}

export async function main(): Promise<BenchSection> {
    if (!ENGINE) throw new Error("no Pulumi engine: run scripts/engine/install.sh or put pulumi on PATH");
    const lines: string[] = [
        `Real \`pulumi\` (${ENGINE.source}) with a file backend; wall time and CPU time (the CLI and everything it started) per command, one run each.`,
        "",
    ];
    await devStack(lines);
    lines.push(
        "### Scale: our program with n clients vs a plain program with n bare key + CSR + certificate sets",
        "",
        "| n | resources (ours) | checkpoint MB, ours / bare | first up, ours (wall / CPU s) | first up, ours, PULUMI_SKIP_CHECKPOINTS | first up, bare | no-op preview, ours | no-op preview, bare | ratio | no-op up, ours | no-op up, bare |",
        "| ---: | ---: | --- | --- | --- | --- | --- | --- | ---: | --- | --- |",
    );
    for (const n of (process.env.BENCH_ENGINE_CLIENTS ?? "10,100,300").split(",").map(Number)) {
        process.stderr.write(`engine bench: ${n} clients\n`);
        const r = await scaled(n);
        const cell = (t: Timing) => `${t.wallS.toFixed(1)} / ${t.cpuS.toFixed(1)}`;
        lines.push(
            `| ${n} | ${r.resources} | ${(r.checkpointBytes / 1e6).toFixed(1)} / ${(r.bareCheckpointBytes / 1e6).toFixed(1)} | ${cell(r.ours.firstUp)} | ${cell(r.ours.firstUpSkip)} | ${cell(r.bare.firstUp)} | ${cell(r.ours.preview)} | ${cell(r.bare.preview)} | ${(r.ours.preview.wallS / r.bare.preview.wallS).toFixed(2)}x | ${cell(r.ours.up)} | ${cell(r.bare.up)} |`,
        );
    }
    lines.push("");
    return { title: "The real engine: pulumi up, preview and destroy", lines };
}

if (require.main === module) runStandalone(main);
