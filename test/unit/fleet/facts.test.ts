/**
 * Per-host facts (pure): the install script's summary line and the fleet stamp, the gate's line, and the
 * fleet install command run under /bin/sh (its exit status kept, the host named on failure).
 */
import { spawnSync } from "child_process";
import { fleetInstallCommand, parseGateOutput, parseInstallSummary } from "../../../components/fleet/facts";

const FP = "ab".repeat(32);
const SUMMARY = `mtls-nginx: site mtls-example: release 0123456789abcdef is live (reload; previous: fedcba9876543210; release dir no); nginx 1.22.1 (CVE-2025-23419 fix: debian backport); certificate sha256 ${FP.toUpperCase()}; 9 file(s); ms: decode 12, test 34, reload 5, live 67, total 130; live check: openssl`;

describe("parseInstallSummary", () => {
    it("reads the release, action, previous release, nginx version, fingerprint and timings", () => {
        const facts = parseInstallSummary(`some warning\n${SUMMARY}\nmtls-nginx-fleet: host eu-1 installed at 1767225600130\n`, "eu-1");
        expect(facts).toEqual({
            host: "eu-1",
            releaseId: "0123456789abcdef",
            action: "reload",
            previousRelease: "fedcba9876543210",
            nginxVersion: "1.22.1",
            fingerprintSha256: FP,
            installedAt: "2026-01-01T00:00:00.130Z",
            startedAt: "2026-01-01T00:00:00.000Z",
            ms: { decode: 12, test: 34, reload: 5, live: 67, total: 130 },
        });
    });

    it("maps the action's timing (start, none) to reload, and tolerates fields it does not know", () => {
        const start = SUMMARY.replace("(reload;", "(start;").replace("reload 5,", "start 8,").replace("; live check:", "; extra: 1; live check:");
        expect(parseInstallSummary(start, "h").ms).toEqual({ decode: 12, test: 34, reload: 8, live: 67, total: 130 });
        expect(parseInstallSummary(start, "h").action).toBe("start");
    });

    it("only takes the stamp of its own host, and knows nothing from an empty output", () => {
        expect(parseInstallSummary(`${SUMMARY}\nmtls-nginx-fleet: host other installed at 1767225600130`, "eu-1").installedAt).toBeUndefined();
        expect(parseInstallSummary("", "eu-1")).toEqual({ host: "eu-1", ms: {} });
    });
});

describe("parseGateOutput", () => {
    it("reads the probe's JSON line, and nothing else", () => {
        const line = `mtls-nginx-gate {"host":"eu-1","ok":true,"status":200,"attempts":1,"ms":14}`;
        expect(parseGateOutput(`noise\n${line}`)).toEqual({ host: "eu-1", ok: true, status: 200, attempts: 1, ms: 14 });
        expect(parseGateOutput("mtls-nginx-gate {not json")).toBeUndefined();
        expect(parseGateOutput("")).toBeUndefined();
    });
});

describe("fleetInstallCommand", () => {
    const run = (command: string, stdin = "") => spawnSync("/bin/sh", ["-c", command], { input: stdin, encoding: "utf8" });

    it("runs the script in a shell of its own, with stdin, and stamps the time it finished", () => {
        const before = Date.now();
        const r = run(fleetInstallCommand("set -eu\nread -r line\nprintf 'got %s\\n' \"$line\"", { host: "eu-1", sudo: false, remote: false }), "payload\n");
        expect(r.status).toBe(0);
        const [got, stamp] = r.stdout.trim().split("\n");
        expect(got).toBe("got payload");
        const at = Number(/^mtls-nginx-fleet: host eu-1 installed at (\d+)$/.exec(stamp)![1]);
        expect(at).toBeGreaterThanOrEqual(before - 5);
        expect(at).toBeLessThanOrEqual(Date.now() + 5);
    });

    it("keeps a failing script's exit status (also when set -e and an EXIT trap end it) and names the host", () => {
        const script = "set -eu\ntrap 'echo cleaned up >&2' EXIT\necho 'mtls-nginx: nginx -t rejected the new configuration; because' >&2\nfalse\necho unreachable";
        const r = run(fleetInstallCommand(script, { host: "eu-2", sudo: false, remote: false }));
        expect(r.status).toBe(1);
        expect(r.stdout).not.toMatch(/unreachable|installed at/);
        expect(r.stderr).toMatch(/nginx -t rejected the new configuration; because\ncleaned up\nmtls-nginx: host eu-2: the install failed; the rollout stops here: the hosts after it were not started\..* \(exit 1\)\n$/);
    });

    it("runs a sudo-wrapped script as it is (already its own /bin/sh), and wraps remote commands for /bin/sh", () => {
        const r = run(fleetInstallCommand("/bin/sh -c 'exit 7' x", { host: "h", sudo: true, remote: false }));
        expect(r.status).toBe(7);
        const remote = fleetInstallCommand("echo hi", { host: "h", sudo: false, remote: true });
        expect(remote.startsWith("/bin/sh -c '")).toBe(true);
        // What an SSH server does with it, whatever the login shell: bash -c '<command>'.
        const viaBash = spawnSync("/bin/bash", ["-c", remote], { encoding: "utf8" });
        expect(viaBash.status).toBe(0);
        expect(viaBash.stdout).toMatch(/^hi\nmtls-nginx-fleet: host h installed at \d+\n$/);
    });
});
