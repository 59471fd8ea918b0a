/**
 * A fleet host for real on this machine: MtlsNginx with a one-host list (a local, dedicated nginx on
 * 127.0.0.1), under the DeploymentSimulator EXECUTING the local commands it declares: the fleet install
 * command (the install script, its summary and the fleet stamp) and the gate (probe.js through
 * `node -e`, the probe key on stdin) against a real nginx whose allow list admits only alice, and the
 * probe because the component put its name there. The per-host facts come from what really ran.
 * Then a gate that cannot pass fails the run, naming the host and the reason, and the next run with
 * the gate fixed checks the host again without reinstalling it.
 */
import * as fs from "fs";
import * as path from "path";
import { MtlsNginx, MtlsNginxArgs } from "../../components/mtlsNginx";
import { curlGet, servedCertificateSha256, writeFile } from "../support/clients";
import { DeploymentSimulator, localCommandExecutor, RunResult } from "../support/engine";
import { adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { freePort } from "../support/ports";

const describeIf = hasNginx() ? describe : describe.skip;

describeIf("a one-host fleet on this machine: install and gate run for real", () => {
    let dir: string;
    let port: number;
    let sim: DeploymentSimulator;
    let first: RunResult;
    const args = (gate: NonNullable<MtlsNginxArgs["rollout"]>["gate"] = {}): MtlsNginxArgs => ({
        ca: { commonName: "Fleet Local Root CA", intermediate: true },
        server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] },
        clients: [{ name: "alice" }, { name: "bob" }],
        site: { listen: { address: "127.0.0.1", port }, mode: { kind: "static" }, allow: { commonNames: ["alice"] } },
        target: [{ name: "local-1", kind: "local", installDir: path.join(dir, "nginx") }],
        rollout: { gate },
    });
    const program = (gate?: NonNullable<MtlsNginxArgs["rollout"]>["gate"]) => () => {
        const m = new MtlsNginx("fleet", args(gate));
        return { hosts: m.hosts, releaseId: m.site.releaseId, caCertPem: m.caCertPem, alice: { p12: m.clients.alice.pkcs12Base64, password: m.clients.alice.pkcs12Password }, bob: { p12: m.clients.bob.pkcs12Base64, password: m.clients.bob.pkcs12Password } };
    };

    beforeAll(async () => {
        dir = makeTestDir("fleet-local");
        port = await freePort();
        sim = new DeploymentSimulator({ executors: { "command:local:Command": localCommandExecutor } });
        first = await sim.run(program(), { now: new Date() });
        adopt(path.join(dir, "nginx"), path.join(dir, "nginx", "current", "nginx.conf"));
    });
    afterAll(async () => {
        try {
            await sim?.destroy();
        } finally {
            await stopAll();
        }
    });

    it("installs, then the gate's mTLS request passes with the probe allowlisted next to alice (bob, not listed, gets 403)", async () => {
        const host = first.outputs.hosts["local-1"];
        expect(host.gate).toMatchObject({ host: "local-1", ok: true, status: 200, release: first.outputs.releaseId, attempts: 1 });
        expect(host.gate.url).toBe(`https://127.0.0.1:${port}/ (SNI localhost)`);
        const files = path.join(dir, "client");
        fs.mkdirSync(files, { mode: 0o700 });
        const target = { port, caFile: writeFile(files, "ca.crt", first.outputs.caCertPem) };
        const p12 = (who: "alice" | "bob") => ({ kind: "p12" as const, file: writeFile(files, `${who}.p12`, Buffer.from(first.outputs[who].p12, "base64"), 0o600), password: first.outputs[who].password });
        expect(curlGet(target, p12("alice")).status).toBe(200);
        expect(curlGet(target, p12("bob")).status).toBe(403);
    });

    it("reports the host's facts from what its install printed: release, served fingerprint, nginx version, when", async () => {
        const host = first.outputs.hosts["local-1"];
        expect(host.releaseId).toBe(first.outputs.releaseId);
        expect(host.action).toBe("start");
        expect(host.previousRelease).toBe("none");
        expect(host.fingerprintSha256).toBe(await servedCertificateSha256(port));
        expect(host.gate.fingerprintSha256).toBe(host.fingerprintSha256);
        expect(host.nginxVersion).toMatch(/^\d+\.\d+\.\d+$/);
        expect(Date.parse(host.installedAt)).toBeGreaterThan(Date.now() - 600_000);
        expect(Date.parse(host.startedAt)).toBeLessThanOrEqual(Date.parse(host.installedAt));
        expect(Date.parse(host.gate.processStartedAt)).toBeGreaterThanOrEqual(Date.parse(host.installedAt) - 5);
        expect(host.ms).toEqual({ decode: expect.any(Number), test: expect.any(Number), reload: expect.any(Number), live: expect.any(Number), total: expect.any(Number) });
        // The gate's state holds the probe key in its (secret) stdin only.
        const gate = sim.state.get(first.resource("fleet-site-host-local-1-gate")!.urn)!;
        expect(gate.secretInputs).toContain("stdin");
        expect(JSON.stringify(gate.outputs.stdout)).not.toMatch(/PRIVATE KEY/);
    });

    it("a gate that cannot pass fails the run naming the host and why; fixed, the next run re-checks it without reinstalling", async () => {
        const failed = sim.run(program({ path: "/", expectStatus: 418, timeoutSeconds: 1 }), { now: new Date() });
        await expect(failed).rejects.toThrow(/fleet-site-host-local-1-gate[\s\S]*mtls-nginx: gate: host local-1 failed its health check after \d+ attempt\(s\) in \d+ ms: https:\/\/127\.0\.0\.1:\d+\/ \(SNI localhost\): HTTP 200, expected 418/);
        const fixed = await sim.run(program({ path: "/", expectStatus: 200 }), { now: new Date() });
        expect(fixed.stepFor("fleet-site-host-local-1-install")!.op).toBe("same");
        expect(fixed.stepFor("fleet-site-host-local-1-gate")!.op).not.toBe("same");
        expect(fixed.outputs.hosts["local-1"].gate).toMatchObject({ ok: true, status: 200 });
        expect(fixed.outputs.hosts["local-1"].installedAt).toBe(first.outputs.hosts["local-1"].installedAt);
    });
});
