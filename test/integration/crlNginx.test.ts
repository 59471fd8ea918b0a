/**
 * CRLs from the revocation ledger in a real nginx (Debian 1.22, OpenSSL 3): a private instance on a free
 * 127.0.0.1 port with a minimal mTLS server block. Proves what the RevocationList design relies on:
 * nginx reads CRLs only at start/reload, needs a fresh CRL for every CA of the chain, refuses everyone on an
 * expired CRL, and (CA rotation) picks the right CRL by Authority Key Identifier when two CAs share a name.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { reconcile, crlsToSign, applySignedCrls, LedgerState, ReconcileInput, isRevoked } from "../../components/revocation/ledger";
import { buildCrl } from "../../components/revocation/crl";
import { makeHierarchy, issue, writeFixture, FixtureCert } from "../support/x509";
import { makeTestDir, startNginx, stopAll, nginxTest, hasNginx, NginxInstance } from "../support/nginx";
import { freePort } from "../support/ports";

const DAY = 86400_000;

interface Signed {
    state: LedgerState;
    changes: string[];
    crlPem: string;
    trustedCaPem: string;
}

/** One provider-like step: reconcile, sign what is due, record. */
async function step(prev: LedgerState | undefined, input: ReconcileInput, now: Date): Promise<Signed> {
    const { state, changes } = reconcile(prev, input, now);
    const todo = crlsToSign(state, now);
    const signed = await Promise.all(todo.map(async (item) => ({ item, pem: await buildCrl(item.input) })));
    const next = applySignedCrls(state, signed);
    return {
        state: next,
        changes,
        crlPem: next.issuers.map((i) => (i.crl as { pem: string }).pem).join(""),
        trustedCaPem: next.issuers.map((i) => i.certPem.trim() + "\n").join(""),
    };
}

const declared = (issuer: FixtureCert, list: [string, FixtureCert][], extra: Partial<ReconcileInput> = {}): ReconcileInput => ({
    issuerCertPem: issuer.certPem,
    issuerKeyPem: issuer.key.privateKeyPem,
    issued: list.map(([name, c]) => ({ name, certPem: c.certPem })),
    ...extra,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const describeNginx = hasNginx() ? describe : describe.skip;

describeNginx("CRLs from the ledger in a real nginx", () => {
    let dir: string;
    let port: number;
    let nginx: NginxInstance;
    let root: FixtureCert;
    let int1: FixtureCert;
    let server: FixtureCert;
    let alice: FixtureCert;
    let mallory: FixtureCert;

    const caFile = () => path.join(dir, "clients-ca.pem");
    const crlFile = () => path.join(dir, "crl.pem");

    function get(client: FixtureCert): Promise<{ status: number; body: string }> {
        return new Promise((resolve, reject) => {
            const req = https.request(
                { host: "127.0.0.1", port, path: "/", method: "GET", cert: client.certPem, key: client.key.privateKeyPem, ca: root.certPem, agent: false, timeout: 5000 },
                (res) => {
                    let body = "";
                    res.setEncoding("utf8");
                    res.on("data", (chunk) => (body += chunk));
                    res.on("end", () => resolve({ status: res.statusCode as number, body }));
                },
            );
            req.on("error", reject);
            req.on("timeout", () => req.destroy(new Error("request timed out")));
            req.end();
        });
    }

    /** Polls until `client` gets `status` (new workers take a moment after a reload). */
    async function eventually(client: FixtureCert, status: number, timeoutMs = 10_000): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        let last = 0;
        while (Date.now() < deadline) {
            last = (await get(client)).status;
            if (last === status) return;
            await sleep(100);
        }
        throw new Error(`expected ${status} for ${client.cert.subject}, still ${last} after ${timeoutMs} ms`);
    }

    /** `client` keeps getting `status` for a while (nothing changes without a reload). */
    async function stays(client: FixtureCert, status: number): Promise<void> {
        for (let i = 0; i < 5; i++) {
            expect((await get(client)).status).toBe(status);
            await sleep(100);
        }
    }

    function writeTrust(rootLedger: Signed, intLedger: Signed, opts: { withoutRootCrl?: boolean; trusted?: string } = {}): void {
        fs.writeFileSync(caFile(), root.certPem.trim() + "\n" + (opts.trusted ?? intLedger.trustedCaPem));
        fs.writeFileSync(crlFile(), (opts.withoutRootCrl ? "" : rootLedger.crlPem) + intLedger.crlPem);
    }

    function workers(): number[] {
        const master = nginx.pid();
        if (!master) return [];
        const out = spawnSync("ps", ["-o", "pid=", "--ppid", String(master)], { encoding: "utf8" }).stdout ?? "";
        return out.split(/\s+/).filter(Boolean).map(Number);
    }

    /**
     * `nginx -s reload`, then waits until every worker of the old generation has exited: until then a new
     * connection may still land on an old worker (old config, old CRL).
     */
    async function reload(): Promise<void> {
        const old = new Set(workers());
        nginx.reload();
        const deadline = Date.now() + 10_000;
        for (;;) {
            const now = workers();
            if (now.length > 0 && now.every((pid) => !old.has(pid))) return;
            if (Date.now() > deadline) throw new Error(`nginx workers did not turn over after reload (old ${[...old]}, now ${now})`);
            await sleep(50);
        }
    }

    function logSince(offset: number): string {
        return nginx.errorLog().slice(offset);
    }

    beforeAll(async () => {
        dir = makeTestDir("crl-nginx");
        const h = await makeHierarchy({ intermediate: true, name: "Mtls" });
        root = h.root;
        int1 = h.intermediate as FixtureCert;
        server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, root);
        alice = await issue({ subject: "CN=alice", usage: "client" }, int1);
        mallory = await issue({ subject: "CN=mallory", usage: "client" }, int1);
        writeFixture(dir, "server", server);
        port = await freePort();
        fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
        fs.writeFileSync(
            path.join(dir, "nginx.conf"),
            `daemon on;
worker_processes 1;
pid ${dir}/logs/nginx.pid;
error_log ${dir}/logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    server {
        listen 127.0.0.1:${port} ssl;
        ssl_certificate ${dir}/server.crt;
        ssl_certificate_key ${dir}/server.key;
        ssl_client_certificate ${dir}/clients-ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        ssl_crl ${dir}/crl.pem;
        location / { return 200 "ok $ssl_client_s_dn\\n"; }
    }
}
`,
        );
        fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
    });

    afterAll(async () => {
        await stopAll();
        if (dir && !process.env.KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
    });

    test("valid → 200, revoked → 400; new CRL files need a reload; an expired CRL refuses everyone until re-signed; CA rotation keeps old and new clients in; every CA needs a CRL", async () => {
        const now = new Date();
        const conf = path.join(dir, "nginx.conf");

        // --- An expired CRL: the intermediate ledger was last signed 3 days ago with 1-day CRLs. ---
        const past = new Date(now.getTime() - 3 * DAY);
        let rootLedger = await step(undefined, declared(root, [["intermediate", int1], ["server", server]]), now);
        let intLedger = await step(undefined, declared(int1, [["alice", alice], ["mallory", mallory]], { crlValidityMs: DAY }), past);
        writeTrust(rootLedger, intLedger);
        expect(nginxTest(dir, conf)).toMatchObject({ ok: true });
        nginx = await startNginx(dir, conf);
        let mark = nginx.errorLog().length;
        const refused = await get(alice);
        expect(refused.status).toBe(400);
        expect(refused.body).toContain("The SSL certificate error");
        expect(logSince(mark)).toContain("CRL has expired");

        // Re-signed by the ledger (refresh is long due): CRL #2. Without a reload nginx still uses the old file.
        intLedger = await step(intLedger.state, declared(int1, [["alice", alice], ["mallory", mallory]], { crlValidityMs: DAY }), now);
        expect(intLedger.state.issuers[0].crl?.number).toBe(2);
        writeTrust(rootLedger, intLedger);
        await stays(alice, 400);
        await reload();
        await eventually(alice, 200);
        const ok = await get(alice);
        expect(ok.body).toBe("ok CN=alice\n");
        await eventually(mallory, 200);

        // --- Revocation: mallory leaves the program. The new CRL changes nothing until nginx reloads. ---
        const t1 = new Date(); // CRLs are signed "now": a thisUpdate in the future is "CRL is not yet valid" for nginx
        intLedger = await step(intLedger.state, declared(int1, [["alice", alice]], { crlValidityMs: DAY }), t1);
        expect(isRevoked(intLedger.state, mallory.serialHex, t1)).toBe(true);
        expect(intLedger.changes).toContain(`revoked mallory serial ${mallory.cert.serialNumber.toUpperCase()} (cessationOfOperation)`);
        writeTrust(rootLedger, intLedger);
        await stays(mallory, 200);
        mark = nginx.errorLog().length;
        await reload();
        await eventually(mallory, 400);
        expect(logSince(mark)).toContain("certificate revoked");
        expect((await get(alice)).status).toBe(200);

        // --- CA rotation: a new intermediate with the SAME subject; alice re-issued, carol new. ---
        const int2 = await issue({ subject: int1.cert.subject, usage: "ca", pathLength: 0, days: 3000 }, root);
        const alice2 = await issue({ subject: "CN=alice", usage: "client" }, int2);
        const carol = await issue({ subject: "CN=carol", usage: "client" }, int2);
        const t2 = new Date();
        rootLedger = await step(rootLedger.state, declared(root, [["intermediate", int2], ["server", server]]), t2);
        expect(isRevoked(rootLedger.state, int1.serialHex, t2)).toBe(false); // superseded, not revoked
        intLedger = await step(intLedger.state, declared(int2, [["alice", alice2], ["carol", carol]], { crlValidityMs: DAY }), t2);
        expect(intLedger.state.issuers.map((i) => i.retiredAt === undefined)).toEqual([true, false]);
        expect(intLedger.trustedCaPem).toBe(int2.certPem.trim() + "\n" + int1.certPem.trim() + "\n");
        expect((intLedger.crlPem.match(/BEGIN X509 CRL/g) ?? []).length).toBe(2);

        // First without the retired CA in the bundle: the old alice certificate is locked out (why retirement exists).
        writeTrust(rootLedger, intLedger, { trusted: int2.certPem.trim() + "\n" });
        fs.writeFileSync(crlFile(), rootLedger.crlPem + intLedger.state.issuers[0].crl?.pem);
        await reload();
        await eventually(alice, 400);
        expect((await get(alice2)).status).toBe(200);

        // With the ledger's trust bundle and CRLs: old and new clients pass; the revoked old one is still refused.
        writeTrust(rootLedger, intLedger);
        await reload();
        await eventually(alice, 200);
        expect((await get(alice2)).status).toBe(200);
        expect((await get(carol)).status).toBe(200);
        expect((await get(mallory)).status).toBe(400);

        // Revoking carol (new CA) lands on the new CA's CRL; the same-named old CA's CRL does not confuse nginx.
        const t3 = new Date();
        intLedger = await step(intLedger.state, declared(int2, [["alice", alice2]], { crlValidityMs: DAY }), t3);
        writeTrust(rootLedger, intLedger);
        await reload();
        await eventually(carol, 400);
        expect((await get(alice)).status).toBe(200);
        expect((await get(alice2)).status).toBe(200);

        // --- Every CA of the chain needs a CRL: without the root's, nginx refuses even valid clients. ---
        writeTrust(rootLedger, intLedger, { withoutRootCrl: true });
        mark = nginx.errorLog().length;
        await reload();
        await eventually(alice2, 400);
        expect(logSince(mark)).toContain("unable to get certificate CRL");
        writeTrust(rootLedger, intLedger);
        await reload();
        await eventually(alice2, 200);
    });
});
