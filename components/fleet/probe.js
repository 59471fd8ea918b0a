/*
 * The rollout gate's probe (pulumi-mtls-nginx): one HTTPS request to a host that has just installed,
 * with the gate's own client certificate, retried until it passes or the time is up.
 *
 * Run by the gate's local.Command as `node -e "$MTLS_NGINX_PROBE"` (this file's text in the command's
 * environment), on the machine running `pulumi up`. Everything it needs comes as one JSON object on
 * STANDARD INPUT (the command's secret `stdin`): the probe's certificate and private key never touch a
 * disk, a command line or a log. It prints one non-secret line, `mtls-nginx-gate {json}`, and exits 0
 * when the gate passed; otherwise it says why on stderr and exits 1.
 *
 * Request (stdin):
 *   host, port          where to connect (the host's address as Pulumi reaches it)
 *   serverName          SNI (a DNS name; none for an IP literal site); hostHeader: the Host header
 *   path                request path                      url: a full http(s) URL instead (the user's own)
 *   expectStatus        the status that passes (default: any 2xx or 3xx)
 *   expectRelease       the X-Mtls-Release header that must come back (the host's release)
 *   expectFingerprint   sha256 of the certificate the host must present (what its install reported)
 *   certPem, keyPem     the probe's client certificate chain and key (optional for a url)
 *   timeoutSeconds      how long to retry (default 10); label: the host's name, for messages
 *
 * Self-contained (Node.js built-ins only): `judge` is exported for tests, `main` runs under `node -e`.
 */
"use strict";

/** True when a status passes: `expectStatus`, or any 2xx/3xx without one. */
function statusPasses(expectStatus, status) {
    if (typeof status !== "number") return false;
    return typeof expectStatus === "number" ? status === expectStatus : status >= 200 && status < 400;
}

/** What a refused mTLS request means, for the message. */
function statusHint(status) {
    if (status === 400 || status === 495 || status === 496) {
        return " (nginx refused the probe's client certificate: is it issued by a CA the site trusts, unexpired and not revoked?)";
    }
    if (status === 403) return " (the probe's certificate is verified but not allowed: site.allow must admit its common name)";
    if (status >= 500) return " (the server or its upstream failed)";
    return "";
}

/**
 * The verdict on one observation of the host: `{ ok: true }`, or `{ ok: false, problem }`.
 * seen: { status?, release?, fingerprint?, error? }.
 */
function judge(request, seen) {
    if (!seen || seen.error) {
        return { ok: false, problem: `no answer: ${(seen && seen.error) || "nothing observed"}` };
    }
    if (!statusPasses(request.expectStatus, seen.status)) {
        const wanted = typeof request.expectStatus === "number" ? String(request.expectStatus) : "2xx or 3xx";
        return { ok: false, problem: `HTTP ${seen.status}, expected ${wanted}${statusHint(seen.status)}` };
    }
    if (request.expectRelease && seen.release !== request.expectRelease) {
        return { ok: false, problem: `it serves release ${seen.release || "(no X-Mtls-Release header)"}, expected ${request.expectRelease}` };
    }
    if (request.expectFingerprint && seen.fingerprint !== String(request.expectFingerprint).toLowerCase()) {
        return { ok: false, problem: `it presents the certificate sha256 ${seen.fingerprint || "(none)"}, expected ${request.expectFingerprint}` };
    }
    return { ok: true };
}

/** Where the request goes: `{ protocol, host, port, path, servername, hostHeader }`. */
function endpoint(request) {
    if (request.url) {
        const u = new URL(request.url);
        const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
        const isIp = require("net").isIP(host) !== 0;
        return {
            protocol: u.protocol,
            host,
            port: Number(u.port || (u.protocol === "https:" ? 443 : 80)),
            path: `${u.pathname}${u.search}`,
            servername: isIp ? undefined : host,
            hostHeader: u.host,
        };
    }
    return {
        protocol: "https:",
        host: request.host,
        port: request.port,
        path: request.path || "/",
        servername: request.serverName || undefined,
        hostHeader: request.hostHeader || request.serverName || request.host,
    };
}

/** One request; resolves to `{ status, release, fingerprint }` or `{ error }`. Never rejects. */
function observe(request, timeoutMs) {
    const target = endpoint(request);
    const client = require(target.protocol === "http:" ? "http" : "https");
    return new Promise((resolve) => {
        let settled = false;
        const done = (r) => {
            if (!settled) {
                settled = true;
                resolve(r);
            }
        };
        const options = {
            host: target.host,
            port: target.port,
            path: target.path,
            method: "GET",
            headers: { host: target.hostHeader, "user-agent": "mtls-nginx-gate" },
            agent: false,
            timeout: timeoutMs,
        };
        if (target.protocol === "https:") {
            // The host is pinned by the certificate its install reported (expectFingerprint), not by a CA:
            // a brought (Let's Encrypt) certificate and an IP address are checked the same way.
            Object.assign(options, { servername: target.servername, rejectUnauthorized: false });
            if (request.certPem && request.keyPem) Object.assign(options, { cert: request.certPem, key: request.keyPem });
        }
        let req;
        try {
            req = client.request(options, (res) => {
                let fingerprint;
                try {
                    const peer = res.socket.getPeerCertificate && res.socket.getPeerCertificate();
                    if (peer && peer.fingerprint256) fingerprint = peer.fingerprint256.replace(/:/g, "").toLowerCase();
                } catch (e) {
                    fingerprint = undefined;
                }
                const header = res.headers["x-mtls-release"];
                res.resume();
                res.on("end", () => done({ status: res.statusCode, release: typeof header === "string" ? header : undefined, fingerprint }));
                res.on("error", (e) => done({ error: `${e.code || "ERROR"} ${e.message}` }));
            });
        } catch (e) {
            done({ error: `${e.code || "ERROR"} ${e.message}` });
            return;
        }
        req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })));
        req.on("error", (e) => done({ error: `${e.code || "ERROR"} ${e.message}` }));
        req.end();
    });
}

function readStdin() {
    return new Promise((resolve, reject) => {
        const chunks = [];
        process.stdin.on("data", (c) => chunks.push(c));
        process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        process.stdin.on("error", reject);
    });
}

function describe(request) {
    const t = endpoint(request);
    const where = request.url ? request.url : `https://${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}${t.path}`;
    return `${where}${!request.url && t.servername ? ` (SNI ${t.servername})` : ""}`;
}

async function main() {
    const now = () => performance.timeOrigin + performance.now();
    const started = now();
    let request;
    try {
        request = JSON.parse(await readStdin());
    } catch (e) {
        process.stderr.write(`mtls-nginx: gate: standard input is not the gate's JSON request (${e.message})\n`);
        process.exit(2);
    }
    const label = request.label || request.host;
    const timeoutMs = 1000 * (request.timeoutSeconds || 10);
    const deadline = started + timeoutMs;
    let attempts = 0;
    let seen;
    let verdict;
    for (;;) {
        attempts++;
        const t = now();
        seen = await observe(request, Math.max(1000, Math.min(5000, deadline - t)));
        verdict = judge(request, seen);
        if (verdict.ok || now() + 250 >= deadline) break;
        await new Promise((r) => setTimeout(r, 250));
    }
    const finished = now();
    const facts = {
        host: label,
        ok: verdict.ok,
        url: describe(request),
        status: seen.status,
        release: seen.release,
        fingerprintSha256: seen.fingerprint,
        attempts,
        ms: Math.round(finished - started),
        processStartedAt: new Date(performance.timeOrigin).toISOString(),
        startedAt: new Date(started).toISOString(),
        checkedAt: new Date(finished).toISOString(),
    };
    process.stdout.write(`mtls-nginx-gate ${JSON.stringify(facts)}\n`);
    if (!verdict.ok) {
        process.stderr.write(
            `mtls-nginx: gate: host ${label} failed its health check after ${attempts} attempt(s) in ${facts.ms} ms: ${describe(request)}: ${verdict.problem}. ` +
                "The rollout stops here: the hosts after it were not started. The host keeps the release it installed; fix the cause and run `pulumi up` again (it re-checks this host first)\n",
        );
        process.exit(1);
    }
}

module.exports = { judge, statusPasses, endpoint, observe, main };

if (module.id === "[eval]" || require.main === module) {
    main().catch((e) => {
        process.stderr.write(`mtls-nginx: gate: ${e && e.stack ? e.stack : e}\n`);
        process.exit(2);
    });
}
