/**
 * The rollout gate: its validation (pure), the verdict on an observation (probe.js `judge`, pure), the
 * request a host's gate sends, and the probe script itself run exactly as the gate command runs it
 * (`/bin/sh -c 'exec node -e "$MTLS_NGINX_PROBE"'`, the request on stdin) against a real TLS server
 * that requires a client certificate.
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as https from "https";
import { AddressInfo } from "net";
import { GATE_COMMAND, gateErrors, gateRequest, probeAllowErrors, PROBE_SCRIPT, resolveGate } from "../../../components/fleet/gate";
import { parseGateOutput } from "../../../components/fleet/facts";
import { issue, makeHierarchy, FixtureCert } from "../../support/x509";

// eslint-disable-next-line @typescript-eslint/no-var-requires
const probe = require("../../../components/fleet/probe.js") as {
    judge(request: Record<string, unknown>, seen: Record<string, unknown>): { ok: boolean; problem?: string };
};

const FP = "cd".repeat(32);

describe("judge (probe.js)", () => {
    const request = { expectRelease: "0123456789abcdef", expectFingerprint: FP };
    const good = { status: 200, release: "0123456789abcdef", fingerprint: FP };
    it("passes a 2xx/3xx answer from the expected release and certificate", () => {
        expect(probe.judge(request, good)).toEqual({ ok: true });
        expect(probe.judge(request, { ...good, status: 302 })).toEqual({ ok: true });
        expect(probe.judge({}, { status: 204 })).toEqual({ ok: true });
    });
    it.each([
        [{ error: "ECONNREFUSED connect ECONNREFUSED 10.0.0.2:443" }, /^no answer: ECONNREFUSED/],
        [{ ...good, status: 403 }, /^HTTP 403, expected 2xx or 3xx \(the probe's certificate is verified but not allowed: site\.allow/],
        [{ ...good, status: 400 }, /^HTTP 400, expected 2xx or 3xx \(nginx refused the probe's client certificate/],
        [{ ...good, status: 502 }, /^HTTP 502, expected 2xx or 3xx \(the server or its upstream failed\)/],
        [{ ...good, release: "ffffffffffffffff" }, /^it serves release ffffffffffffffff, expected 0123456789abcdef$/],
        [{ ...good, release: undefined }, /^it serves release \(no X-Mtls-Release header\)/],
        [{ ...good, fingerprint: "00".repeat(32) }, /^it presents the certificate sha256 0{64}, expected cd/],
    ])("fails %p", (seen, problem) => {
        const verdict = probe.judge(request, seen);
        expect(verdict.ok).toBe(false);
        expect(verdict.problem).toMatch(problem);
    });
    it("checks exactly the expected status when one is given", () => {
        expect(probe.judge({ expectStatus: 204 }, { status: 200 })).toEqual({ ok: false, problem: "HTTP 200, expected 204" });
        expect(probe.judge({ expectStatus: 401 }, { status: 401 })).toEqual({ ok: true });
    });
});

describe("gate validation", () => {
    it("accepts the defaults, false, a path, a url with {host}/{name}, a status and a timeout", () => {
        for (const g of [undefined, false, {}, { path: "/healthz?full=1" }, { url: "https://{host}:8443/health/{name}", expectStatus: 204, timeoutSeconds: 30 }]) {
            expect(gateErrors(g)).toEqual([]);
        }
    });
    it.each([
        [{ path: "healthz" }, /^rollout\.gate\.path: "healthz" is not a request path\. Fix: give a path starting with "\/"/],
        [{ url: "ftp://{host}/" }, /^rollout\.gate\.url: "ftp:\/\/\{host\}\/" is not an http\(s\) URL/],
        [{ url: "https://u:p@{host}/" }, /^rollout\.gate\.url: .* is not an http\(s\) URL/],
        [{ url: "https://{host}/", path: "/x" }, /^rollout\.gate\.path: is set together with url/],
        [{ expectStatus: 999 }, /^rollout\.gate\.expectStatus: 999 is not an HTTP status/],
        [{ timeoutSeconds: 0 }, /^rollout\.gate\.timeoutSeconds: 0 is not a whole number of seconds in 1\.\.600/],
        [{ pth: "/" }, /^rollout\.gate\.pth: unknown key/],
        ["on", /^rollout\.gate: "on" is not a gate/],
    ])("refuses %p", (g, message) => {
        const errors = gateErrors(g);
        expect(errors).toHaveLength(1);
        expect(errors[0].message).toMatch(message);
    });

    it("refuses a gate that site.allow would answer 403", () => {
        const probeCert = { certPem: "c", keyPem: "k", commonName: "gate-probe" };
        expect(probeAllowErrors({ commonNames: ["alice"] }, { probe: probeCert })[0].message).toMatch(
            /^rollout\.gate\.probe: site\.allow does not admit the probe \("gate-probe" is not in site\.allow\.commonNames\): every host would answer it 403.*Fix: give the probe's commonName and add it to site\.allow\.commonNames \("gate-probe"\)/,
        );
        expect(probeAllowErrors({ serials: ["01"] }, { probe: { certPem: "c", keyPem: "k" } })[0].message).toMatch(/the probe's common name is not given/);
        expect(probeAllowErrors({ commonNames: ["alice"] }, {})[0].message).toMatch(/no probe certificate, and site\.allow admits only certificates it lists/);
        // Fine: admitted, no allow list, no gate, or the user's own URL.
        expect(probeAllowErrors({ commonNames: ["alice", "gate-probe"] }, { probe: probeCert })).toEqual([]);
        expect(probeAllowErrors(undefined, { probe: probeCert })).toEqual([]);
        expect(probeAllowErrors({ commonNames: ["alice"] }, false)).toEqual([]);
        expect(probeAllowErrors({ commonNames: ["alice"] }, { url: "https://{host}/healthz" })).toEqual([]);
    });
});

describe("gateRequest", () => {
    const host = { name: "eu-1", address: "10.0.0.2", port: 443, serverName: "mtls.example.com" };
    it("asks the site on the host's address for its release and certificate, with the probe", () => {
        expect(gateRequest(resolveGate({})!, host, { releaseId: "0123456789abcdef", fingerprintSha256: FP }, { certPem: "C", keyPem: "K" })).toEqual({
            label: "eu-1",
            host: "10.0.0.2",
            port: 443,
            serverName: "mtls.example.com",
            hostHeader: "mtls.example.com",
            path: "/",
            expectRelease: "0123456789abcdef",
            expectFingerprint: FP,
            certPem: "C",
            keyPem: "K",
            timeoutSeconds: 10,
        });
    });
    it("fills in the user's url ({host} bracketed for IPv6) and then checks the status only", () => {
        const r = gateRequest(resolveGate({ url: "https://{host}:8443/health/{name}", expectStatus: 204 })!, { ...host, address: "fd00::2" }, { releaseId: "x", fingerprintSha256: FP });
        expect(r).toMatchObject({ url: "https://[fd00::2]:8443/health/eu-1", expectStatus: 204 });
        expect(r).not.toHaveProperty("expectRelease");
        expect(r).not.toHaveProperty("expectFingerprint");
        expect(r).not.toHaveProperty("keyPem");
    });
});

describe("probe.js, run as the gate command runs it, against a server that requires a client certificate", () => {
    let ca: { root: FixtureCert; issuer: FixtureCert };
    let server: https.Server;
    let port: number;
    let serverFp: string;
    let probeCert: FixtureCert;
    let stranger: FixtureCert;
    let answer = { status: 200, release: "0123456789abcdef" };
    const seenClients: string[] = [];

    beforeAll(async () => {
        ca = await makeHierarchy({ name: "Gate", intermediate: true });
        const leaf = await issue({ subject: "CN=mtls.example.com", dnsNames: ["mtls.example.com"], usage: "server" }, ca.issuer);
        probeCert = await issue({ subject: "CN=mtls-nginx-gate-probe.site", usage: "client" }, ca.issuer);
        const other = await makeHierarchy({ name: "Other" });
        stranger = await issue({ subject: "CN=stranger", usage: "client" }, other.issuer);
        serverFp = crypto.createHash("sha256").update(leaf.cert.rawData ? Buffer.from(leaf.cert.rawData) : Buffer.alloc(0)).digest("hex");
        server = https.createServer({ cert: leaf.certPem + ca.issuer.certPem, key: leaf.key.privateKeyPem, ca: ca.root.certPem + ca.issuer.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
            const socket = req.socket as import("tls").TLSSocket;
            const peer = socket.getPeerCertificate();
            seenClients.push(`${peer?.subject?.CN ?? "none"} ${socket.authorized ? "verified" : "refused"} ${req.headers.host}`);
            res.writeHead(socket.authorized ? answer.status : 400, { "X-Mtls-Release": answer.release });
            res.end("ok");
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    function runGate(request: Record<string, unknown>): Promise<{ code: number | null; stdout: string; stderr: string }> {
        return new Promise((resolve) => {
            const child = spawn("/bin/sh", ["-c", GATE_COMMAND], { env: { ...process.env, MTLS_NGINX_PROBE: PROBE_SCRIPT } });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("close", (code) => resolve({ code, stdout, stderr }));
            child.stdin.end(JSON.stringify(request));
        });
    }

    const base = () => ({ label: "eu-1", host: "127.0.0.1", port, serverName: "mtls.example.com", hostHeader: "mtls.example.com", path: "/", timeoutSeconds: 2 });

    it("passes with the probe certificate, reporting what it saw, and sends the key nowhere but the TLS handshake", async () => {
        answer = { status: 200, release: "0123456789abcdef" };
        const r = await runGate({ ...base(), expectRelease: "0123456789abcdef", expectFingerprint: serverFp, certPem: probeCert.certPem + ca.issuer.certPem, keyPem: probeCert.key.privateKeyPem });
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        const facts = parseGateOutput(r.stdout)!;
        expect(facts).toMatchObject({ host: "eu-1", ok: true, status: 200, release: "0123456789abcdef", fingerprintSha256: serverFp, attempts: 1 });
        expect(Date.parse(facts.checkedAt!)).toBeGreaterThanOrEqual(Date.parse(facts.startedAt!));
        expect(seenClients[seenClients.length - 1]).toBe("mtls-nginx-gate-probe.site verified mtls.example.com");
        expect(r.stdout).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    });

    it("fails, naming the host and the reason, when the server refuses the certificate (retrying until its timeout)", async () => {
        const r = await runGate({ ...base(), timeoutSeconds: 1, certPem: stranger.certPem, keyPem: stranger.key.privateKeyPem });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^mtls-nginx: gate: host eu-1 failed its health check after \d+ attempt\(s\) in \d+ ms: https:\/\/127\.0\.0\.1:\d+\/ \(SNI mtls\.example\.com\): HTTP 400, expected 2xx or 3xx \(nginx refused the probe's client certificate.*The rollout stops here/);
        expect(parseGateOutput(r.stdout)).toMatchObject({ ok: false, status: 400 });
        expect(r.stderr).not.toMatch(/PRIVATE KEY/);
    });

    it("fails when the host serves another release or certificate than its install reported", async () => {
        answer = { status: 200, release: "ffffffffffffffff" };
        const r = await runGate({ ...base(), timeoutSeconds: 1, expectRelease: "0123456789abcdef", certPem: probeCert.certPem + ca.issuer.certPem, keyPem: probeCert.key.privateKeyPem });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/it serves release ffffffffffffffff, expected 0123456789abcdef/);
        answer = { status: 200, release: "0123456789abcdef" };
        const fp = await runGate({ ...base(), timeoutSeconds: 1, expectFingerprint: "00".repeat(32), certPem: probeCert.certPem + ca.issuer.certPem, keyPem: probeCert.key.privateKeyPem });
        expect(fp.stderr).toMatch(/it presents the certificate sha256 [0-9a-f]{64}, expected 0{64}/);
    });

    it("requests the user's own url and checks its status only", async () => {
        answer = { status: 204, release: "whatever" };
        const r = await runGate({ ...base(), url: `https://127.0.0.1:${port}/healthz`, expectStatus: 204, certPem: probeCert.certPem + ca.issuer.certPem, keyPem: probeCert.key.privateKeyPem });
        expect(r.code).toBe(0);
        expect(parseGateOutput(r.stdout)).toMatchObject({ ok: true, status: 204, url: `https://127.0.0.1:${port}/healthz` });
    });

    it("fails on a closed port within its timeout", async () => {
        const t0 = Date.now();
        const r = await runGate({ ...base(), port: 1, timeoutSeconds: 1 });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/no answer: ECONNREFUSED/);
        expect(Date.now() - t0).toBeLessThan(5000);
    });
});
