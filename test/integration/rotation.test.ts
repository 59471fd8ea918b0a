/**
 * Rotation and revocation on a plain `pulumi up`, against a real private nginx: MtlsNginx runs under the
 * deployment simulator with `localCommandExecutor`, so every update executes the component's own install
 * script (nginx -t, graceful reload, live check, rollback), and real clients (Node https, one new TLS
 * handshake per request) talk to the nginx it runs.
 *
 * The time trap: nginx checks certificates and CRLs against the REAL clock. A CRL or certificate signed at
 * a simulated time later than now is "not yet valid", a CRL signed long before now has "expired" (either way
 * nginx refuses every client). So each simulated history runs in the past and ends at (about) the real now:
 * e.g. issue at now - 10 days with short validities, then run at now.
 *
 * Scenarios (each with its own CA, site directory, port and nginx):
 *   (1) a client removed from the program is refused after the update, the others pass;
 *   (2) a CRL due for re-signing is re-signed by a run (nextUpdate moves, clients keep passing past the old
 *       nextUpdate); without the run an expired CRL refuses everyone ("CRL has expired" in the error log);
 *   (3) CA rotation (intermediate renewal): a client holding an old-CA certificate and one holding a new-CA
 *       certificate both pass during the overlap; once the old CA's certificates have expired, a run drops it
 *       from the trust bundle;
 *   (4) server-certificate rotation and a CRL refresh under steady load (new handshake per request): zero
 *       failed requests, and the served certificate changes to the new one.
 * (3) is split in two tests around (1) and (2), which run while the old certificates approach their notAfter.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import type { TLSSocket } from "tls";
import * as pulumi from "@pulumi/pulumi";
import { ClientSpec, MtlsNginx, MtlsNginxArgs } from "../../components/mtlsNginx";
import { CertificateAuthorityArgs } from "../../components/pki/certificateAuthority";
import { DeploymentSimulator, Executor, RunResult, StepOp, localCommandExecutor } from "../support/engine";
import { adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { nowMs, SteadyLoad } from "../support/load";
import { freePort } from "../support/ports";

const describeIf = hasNginx() ? describe : describe.skip;

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------
// A site under test: one MtlsNginx program, its simulator, its nginx
// ---------------------------------------------------------------------------------------------

interface ProgramOptions {
    ca?: CertificateAuthorityArgs;
    server?: { validity?: string; renewal?: { renewBefore?: string } };
    clients: ClientSpec[];
    revocation?: MtlsNginxArgs["revocation"];
}

interface ClientMaterial {
    certPem: string;
    keyPem: string;
    fullChainPem: string;
    serialHex: string;
}

interface Outputs {
    caCertPem: string;
    intermediatePem: string;
    serverFingerprint: string;
    clients: Record<string, ClientMaterial>;
    crlNextUpdate: string;
    trustBundlePem: string;
    revoked: { name: string; serialHex: string; reason: string }[];
    releaseId: string;
}

/** When the install command ran (executor start and end, epoch ms). */
interface InstallTiming {
    op: "create" | "update";
    start: number;
    end: number;
    stdout: string;
}

class SiteUnderTest {
    readonly sim: DeploymentSimulator;
    readonly installs: InstallTiming[] = [];
    private adopted = false;

    private constructor(
        readonly label: string,
        readonly dir: string,
        readonly installDir: string,
        readonly port: number,
    ) {
        // The component's own scripts, executed for real; timed.
        const timed: Executor = {
            create: async (ctx) => this.timed("create", () => localCommandExecutor.create!(ctx)),
            update: async (ctx) => this.timed("update", () => localCommandExecutor.update!(ctx)),
            delete: (ctx) => localCommandExecutor.delete!(ctx),
        };
        this.sim = new DeploymentSimulator({ executors: { "command:local:Command": timed } });
    }

    static async create(label: string): Promise<SiteUnderTest> {
        const dir = makeTestDir(`rotation-${label}`);
        return new SiteUnderTest(label, dir, path.join(dir, "nginx"), await freePort());
    }

    private async timed<T extends { outputs?: Record<string, any> }>(op: "create" | "update", body: () => Promise<T> | T): Promise<T> {
        const start = nowMs();
        const result = await body();
        this.installs.push({ op, start, end: nowMs(), stdout: String(result.outputs?.stdout ?? "") });
        return result;
    }

    program(o: ProgramOptions) {
        return () => {
            const m = new MtlsNginx("rot", {
                ca: o.ca ?? { commonName: `Rotation ${this.label} Root CA`, intermediate: true },
                server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], ...o.server },
                clients: o.clients,
                revocation: o.revocation,
                site: { listen: { address: "127.0.0.1", port: this.port }, mode: { kind: "static" } },
                // info: the error log says why each refused client was refused (the checks below read it).
                target: { kind: "local", installDir: this.installDir, nginx: { kind: "dedicated", errorLogLevel: "info" } },
            });
            const clients: Record<string, pulumi.Output<ClientMaterial>> = {};
            for (const [name, c] of Object.entries(m.clients)) {
                clients[name] = pulumi.all([c.certPem, c.keyPem, c.fullChainPem, c.serialHex]).apply(([certPem, keyPem, fullChainPem, serialHex]) => ({ certPem, keyPem, fullChainPem, serialHex }));
            }
            return {
                caCertPem: m.caCertPem,
                intermediatePem: m.ca.intermediate!.certPem,
                serverFingerprint: m.serverCertificate!.fingerprintSha256,
                clients,
                crlNextUpdate: m.crlNextUpdate,
                trustBundlePem: m.trustBundlePem,
                revoked: m.revocation!.revoked,
                releaseId: m.site.releaseId,
            };
        };
    }

    /** One `pulumi up` (or preview) at simulated time `now`. */
    async run(o: ProgramOptions, now: Date, preview = false): Promise<RunResult & { outputs: Outputs }> {
        const result = await this.sim.run(this.program(o), { now, preview });
        if (!preview && !this.adopted) {
            // The first install started the dedicated nginx; track it so stopAll() ends it whatever happens.
            adopt(this.installDir, path.join(this.installDir, "current", "nginx.conf"));
            this.adopted = true;
        }
        return result as RunResult & { outputs: Outputs };
    }

    installed(file: string): string {
        return fs.readFileSync(path.join(this.installDir, "current", file), "utf8");
    }

    currentRelease(): string {
        return fs.readlinkSync(path.join(this.installDir, "current")).replace(/^releases\//, "");
    }

    errorLog(): string {
        try {
            return fs.readFileSync(path.join(this.installDir, "logs", "error.log"), "utf8");
        } catch {
            return "";
        }
    }

    /** `pulumi destroy`: the uninstall script stops the dedicated nginx. */
    async destroy(): Promise<void> {
        try {
            await this.sim.destroy();
        } finally {
            fs.rmSync(this.dir, { recursive: true, force: true });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clients and X.509 helpers
// ---------------------------------------------------------------------------------------------

interface Answer {
    status: number;
    body: string;
    /** sha256 of the certificate the server presented (lower-case hex). */
    serverFingerprint: string;
}

/** One HTTPS request on a new connection (full TLS handshake, client certificate when given). */
function get(port: number, caPem: string, client?: ClientMaterial, timeoutMs = 10_000): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: "127.0.0.1",
                port,
                servername: "localhost",
                path: "/",
                ca: caPem,
                cert: client?.fullChainPem,
                key: client?.keyPem,
                agent: false, // a new connection, a new handshake, no session reuse
                timeout: timeoutMs,
            },
            (res) => {
                const fp = ((res.socket as TLSSocket).getPeerCertificate()?.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
                let body = "";
                res.setEncoding("utf8");
                res.on("data", (d) => (body += d));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body, serverFingerprint: fp }));
                res.on("error", reject);
            },
        );
        req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end();
    });
}

const ADMITTED = /You are in\./; // the built-in page a static site serves to admitted clients
const NOT_ACCEPTED = /Your client certificate was not accepted/; // the 495 page

async function expectAdmitted(site: SiteUnderTest, caPem: string, who: string, client: ClientMaterial): Promise<Answer> {
    const answer = await get(site.port, caPem, client);
    expect([who, answer.status, ADMITTED.test(answer.body)]).toEqual([who, 200, true]);
    return answer;
}

async function expectRefused(site: SiteUnderTest, caPem: string, who: string, client: ClientMaterial): Promise<Answer> {
    const answer = await get(site.port, caPem, client);
    // nginx answers 495 (certificate not accepted) as 400 with the site's 495 page.
    expect([who, answer.status, NOT_ACCEPTED.test(answer.body)]).toEqual([who, 400, true]);
    return answer;
}

function pemBlocks(bundle: string, label: "CERTIFICATE" | "X509 CRL"): string[] {
    return bundle.match(new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----\\n?`, "g")) ?? [];
}

const fingerprintOf = (pem: string) => new crypto.X509Certificate(pem).fingerprint256;

function opensslOut(args: string[]): { ok: boolean; out: string } {
    const r = spawnSync("openssl", args, { encoding: "utf8" });
    return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** thisUpdate / nextUpdate of every CRL in a bundle (openssl's reading). */
function crlTimes(dir: string, bundle: string): { thisUpdate: number; nextUpdate: number }[] {
    return pemBlocks(bundle, "X509 CRL").map((block, i) => {
        const file = path.join(dir, `crl-${process.hrtime.bigint()}-${i}.pem`);
        fs.writeFileSync(file, block);
        const r = opensslOut(["crl", "-in", file, "-noout", "-lastupdate", "-nextupdate"]);
        fs.rmSync(file);
        const last = /lastUpdate=(.+)/.exec(r.out)?.[1];
        const next = /nextUpdate=(.+)/.exec(r.out)?.[1];
        return { thisUpdate: Date.parse(String(last)), nextUpdate: Date.parse(String(next)) };
    });
}

/** `openssl verify` of a client chain with CRL checks for every CA, as nginx does, at a given time. */
function verifyAt(dir: string, when: Date, caBundle: string, crlBundle: string, client: ClientMaterial): { ok: boolean; out: string } {
    const tag = String(process.hrtime.bigint());
    const files = { ca: path.join(dir, `ca-${tag}.pem`), crl: path.join(dir, `crl-${tag}.pem`), leaf: path.join(dir, `leaf-${tag}.pem`) };
    fs.writeFileSync(files.ca, caBundle);
    fs.writeFileSync(files.crl, crlBundle);
    fs.writeFileSync(files.leaf, client.certPem);
    try {
        return opensslOut(["verify", "-attime", String(Math.floor(when.getTime() / 1000)), "-crl_check_all", "-CAfile", files.ca, "-CRLfile", files.crl, files.leaf]);
    } finally {
        Object.values(files).forEach((f) => fs.rmSync(f, { force: true }));
    }
}

function changes(run: RunResult): Record<string, StepOp> {
    const out: Record<string, StepOp> = {};
    for (const s of run.steps) if (s.op !== "same") out[s.name] = s.op;
    return out;
}

/** Slightly before the real now: certificates signed "now" must not be in nginx's future. */
const realNow = () => new Date(Date.now() - 2 * SECOND);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------------

describeIf("rotation and revocation against a real nginx, driven by pulumi up runs in simulated time", () => {
    const sites: SiteUnderTest[] = [];
    const newSite = async (label: string) => {
        const site = await SiteUnderTest.create(label);
        sites.push(site);
        return site;
    };
    const finish = async (site: SiteUnderTest) => {
        sites.splice(sites.indexOf(site), 1);
        await site.destroy();
    };
    let warnSpy: jest.SpyInstance;

    beforeAll(() => {
        // The components' warnings (the simulated clock, short validities) are expected here; keep the output readable.
        warnSpy = jest.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
    });

    afterAll(async () => {
        warnSpy?.mockRestore();
        for (const site of sites.splice(0)) await site.destroy().catch(() => undefined);
        await stopAll();
    });

    // (3) starts first: its old certificates are issued to expire a little after the overlap check, and
    // (1) and (2) run while they do.
    const rotation: {
        site?: SiteUnderTest;
        options?: ProgramOptions;
        expiry?: number;
        oldAlice?: ClientMaterial;
        oldIntermediate?: string;
        after?: Outputs;
    } = {};

    test("(3) CA rotation, part 1: after the intermediate renews, a client with an old-CA certificate and one with a new-CA certificate both pass", async () => {
        const site = await newSite("carotation");
        // The old generation of leaves expires at `expiry`, shortly after this test; the intermediate renews
        // 9 days before its own end (20 days), i.e. one day before now.
        const expiry = Math.ceil((Date.now() + 30 * SECOND) / SECOND) * SECOND;
        const T0 = expiry - 12 * DAY;
        const options: ProgramOptions = {
            ca: { commonName: "Rotation CA-rotation Root CA", intermediate: { validity: "20d", renewal: { renewBefore: "9d" } } },
            server: { validity: "12d" },
            clients: [
                { name: "alice", validity: "12d" },
                { name: "bob", validity: "12d" },
            ],
        };
        const first = await site.run(options, new Date(T0));
        const oldAlice = first.outputs.clients.alice;
        const oldIntermediate = first.outputs.intermediatePem;

        const rotated = await site.run(options, realNow());
        const c = changes(rotated);
        for (const r of ["renewal", "key", "csr", "cert"]) expect([r, c[`rot-ca-intermediate-${r}`]]).toEqual([r, "replace"]);
        for (const leaf of ["rot-server", "rot-client-alice", "rot-client-bob"]) {
            expect(rotated.stepFor(`${leaf}-renewal`)?.reason).toBe("provider diff replaces: anchor");
            expect(c[`${leaf}-cert`]).toBe("replace");
        }
        expect(c["rot-site-install"]).toBe("replace");
        const o = rotated.outputs;
        expect(fingerprintOf(o.intermediatePem)).not.toBe(fingerprintOf(oldIntermediate));

        // nginx trusts the root, the new and the retired intermediate, with a current CRL for each.
        const trust = pemBlocks(site.installed("client-ca.pem"), "CERTIFICATE").map(fingerprintOf);
        expect(trust.sort()).toEqual([o.caCertPem, o.intermediatePem, oldIntermediate].map(fingerprintOf).sort());
        const times = crlTimes(site.dir, site.installed("crl.pem"));
        expect(times).toHaveLength(3);
        for (const t of times) {
            expect(t.thisUpdate).toBeLessThanOrEqual(Date.now());
            expect(t.nextUpdate).toBeGreaterThan(Date.now());
        }

        // The overlap: the old bundle (old intermediate) and the new one both get in; the server presents its new certificate.
        expect(new crypto.X509Certificate(oldAlice.certPem).checkIssued(new crypto.X509Certificate(oldIntermediate))).toBe(true);
        if (Date.now() >= expiry) throw new Error("harness: part 1 took longer than the old certificates' 30 s of remaining validity");
        await expectAdmitted(site, o.caCertPem, "alice with her OLD-CA certificate", oldAlice);
        const answer = await expectAdmitted(site, o.caCertPem, "alice with her NEW-CA certificate", o.clients.alice);
        await expectAdmitted(site, o.caCertPem, "bob with his NEW-CA certificate", o.clients.bob);
        expect(answer.serverFingerprint).toBe(o.serverFingerprint);

        Object.assign(rotation, { site, options, expiry, oldAlice, oldIntermediate, after: o });
    });

    test("(1) a client removed from the program is refused after the update; the others pass", async () => {
        const site = await newSite("removed");
        try {
            const everyone: ClientSpec[] = [{ name: "alice" }, { name: "bob" }, { name: "carol" }];
            const first = await site.run({ clients: everyone }, new Date(Date.now() - HOUR));
            const before = first.outputs;
            for (const name of ["alice", "bob", "carol"]) await expectAdmitted(site, before.caCertPem, name, before.clients[name]);

            const mark = site.errorLog().length;
            const update = await site.run({ clients: everyone.filter((c) => c.name !== "bob") }, realNow());
            const c = changes(update);
            expect(c).toMatchObject({ "rot-client-bob": "delete", "rot-client-bob-cert": "delete", "rot-revocation-issuing": "update", "rot-site-install": "replace", "rot-site-served": "update" });
            const bare = (serial: string) => serial.toUpperCase().replace(/^0+/, "");
            expect(update.outputs.revoked.map((r) => [r.name, bare(r.serialHex), r.reason])).toEqual([["bob", bare(before.clients.bob.serialHex), "cessationOfOperation"]]);

            // bob still holds his certificate and key: refused; nginx says why.
            await expectRefused(site, before.caCertPem, "bob (removed)", before.clients.bob);
            expect(site.errorLog().slice(mark)).toMatch(/client SSL certificate verify error: \(23:certificate revoked\)/);
            await expectAdmitted(site, before.caCertPem, "alice", update.outputs.clients.alice);
            await expectAdmitted(site, before.caCertPem, "carol", update.outputs.clients.carol);
        } finally {
            await finish(site);
        }
    });

    test("(2a) a CRL due for re-signing is re-signed by a run: its nextUpdate moves and clients keep passing past the old nextUpdate", async () => {
        const site = await newSite("crlfresh");
        try {
            const options: ProgramOptions = { clients: [{ name: "alice" }, { name: "bob" }], revocation: { crlValidity: "2d" } };
            const signedAt = Date.now() - 1.9 * DAY;
            const first = await site.run(options, new Date(signedAt));
            const o = first.outputs;
            const oldNextUpdate = Date.parse(o.crlNextUpdate);
            expect(oldNextUpdate).toBeGreaterThan(Date.now()); // still valid: about 2h20m left
            await expectAdmitted(site, o.caCertPem, "alice", o.clients.alice);
            const oldCrls = site.installed("crl.pem");
            const oldRelease = site.currentRelease();
            const installsBefore = site.installs.length;

            // A preview past half of the validity plans the re-signing, and runs nothing.
            const preview = await site.run(options, realNow(), true);
            expect(changes(preview)).toEqual({ "rot-revocation-root": "update", "rot-revocation-issuing": "update", "rot-site-install": "replace", "rot-site-served": "update" });
            expect(site.installs.length).toBe(installsBefore);
            expect(site.currentRelease()).toBe(oldRelease);

            const refreshed = await site.run(options, realNow());
            expect(changes(refreshed)).toEqual(changes(preview));
            const newNextUpdate = Date.parse(refreshed.outputs.crlNextUpdate);
            expect(newNextUpdate).toBeGreaterThan(oldNextUpdate + DAY);
            expect(site.currentRelease()).not.toBe(oldRelease);
            // What nginx now reads: both CRLs re-signed, valid well past the old nextUpdate.
            const installed = site.installed("crl.pem");
            const times = crlTimes(site.dir, installed);
            expect(times).toHaveLength(2);
            for (const t of times) expect(t.nextUpdate).toBe(Math.floor(newNextUpdate / SECOND) * SECOND);
            await expectAdmitted(site, o.caCertPem, "alice", o.clients.alice);
            await expectAdmitted(site, o.caCertPem, "bob", o.clients.bob);

            // Past the OLD nextUpdate (one hour after it), the installed CRLs still admit alice; the old ones would not.
            const past = new Date(oldNextUpdate + HOUR);
            const trust = site.installed("client-ca.pem");
            const withNew = verifyAt(site.dir, past, trust, installed, o.clients.alice);
            expect([withNew.ok, withNew.out]).toEqual([true, expect.stringContaining("OK")]);
            const withOld = verifyAt(site.dir, past, trust, oldCrls, o.clients.alice);
            expect(withOld.ok).toBe(false);
            expect(withOld.out).toContain("CRL has expired");
        } finally {
            await finish(site);
        }
    });

    test("(2b) without that run the CRL expires: nginx refuses everyone (\"CRL has expired\"); the next run re-signs and lets them back in", async () => {
        const site = await newSite("crllapsed");
        try {
            const options: ProgramOptions = { clients: [{ name: "alice" }, { name: "bob" }], revocation: { crlValidity: "2d" } };
            // Last run 2.1 days ago with 2-day CRLs: their nextUpdate passed about 2h30m ago.
            const first = await site.run(options, new Date(Date.now() - 2.1 * DAY));
            const o = first.outputs;
            expect(Date.parse(o.crlNextUpdate)).toBeLessThan(Date.now());
            const mark = site.errorLog().length;
            await expectRefused(site, o.caCertPem, "alice (expired CRL)", o.clients.alice);
            await expectRefused(site, o.caCertPem, "bob (expired CRL)", o.clients.bob);
            expect(site.errorLog().slice(mark)).toMatch(/client SSL certificate verify error: \(12:CRL has expired\)/);

            const refreshed = await site.run(options, realNow());
            expect(changes(refreshed)).toEqual({ "rot-revocation-root": "update", "rot-revocation-issuing": "update", "rot-site-install": "replace", "rot-site-served": "update" });
            expect(Date.parse(refreshed.outputs.crlNextUpdate)).toBeGreaterThan(Date.now() + DAY);
            await expectAdmitted(site, o.caCertPem, "alice", o.clients.alice);
            await expectAdmitted(site, o.caCertPem, "bob", o.clients.bob);
        } finally {
            await finish(site);
        }
    });

    test("(3) CA rotation, part 2: once the old CA's certificates have expired, a run drops the old intermediate from the trust bundle", async () => {
        const { site, options, expiry, oldAlice, oldIntermediate, after } = rotation;
        if (!site || !options || !expiry || !oldAlice || !oldIntermediate || !after) throw new Error("part 1 did not complete");
        try {
            // Nothing to do while an old certificate is valid...
            const wait = expiry + 4 * SECOND - Date.now();
            if (wait > 0) await sleep(wait);
            // ...then the retired intermediate has nothing valid left: the next run drops it.
            const run = await site.run(options, realNow());
            expect(changes(run)).toEqual({ "rot-revocation-issuing": "update", "rot-site-install": "replace", "rot-site-served": "update" });
            const trust = pemBlocks(run.outputs.trustBundlePem, "CERTIFICATE").map(fingerprintOf);
            expect(trust).not.toContain(fingerprintOf(oldIntermediate));
            expect(trust.sort()).toEqual([after.caCertPem, after.intermediatePem].map(fingerprintOf).sort());
            expect(pemBlocks(site.installed("client-ca.pem"), "CERTIFICATE").map(fingerprintOf).sort()).toEqual(trust.sort());
            expect(pemBlocks(site.installed("crl.pem"), "X509 CRL")).toHaveLength(2);

            await expectAdmitted(site, after.caCertPem, "alice with her NEW-CA certificate", after.clients.alice);
            await expectRefused(site, after.caCertPem, "alice with her OLD-CA certificate (expired, CA dropped)", oldAlice);
        } finally {
            await finish(site);
        }
    });

    test("(4) server-certificate rotation and a CRL refresh under steady load: zero failed requests, the new certificate is served", async () => {
        const site = await newSite("load");
        try {
            const options: ProgramOptions = {
                server: { validity: "12d" }, // renewAt: issue + 8 days
                clients: [{ name: "alice", validity: "30d" }],
                revocation: { crlValidity: "4d" }, // re-signed after 2 days
            };
            const now = Date.now();
            // History: issued 10 days ago; 2.5 days ago a run re-signed the CRLs (valid until now + 1.5d, due again
            // at now - 0.5d); the server certificate is due since now - 2d.
            await site.run(options, new Date(now - 10 * DAY));
            const steady = await site.run(options, new Date(now - 2.5 * DAY));
            expect(changes(steady)).toEqual({ "rot-revocation-root": "update", "rot-revocation-issuing": "update", "rot-site-install": "replace", "rot-site-served": "update" });
            const o = steady.outputs;
            const oldServer = o.serverFingerprint;
            const oldCrlTimes = crlTimes(site.dir, site.installed("crl.pem"));
            await expectAdmitted(site, o.caCertPem, "alice", o.clients.alice);

            const load = new SteadyLoad({
                port: site.port,
                caPem: o.caCertPem,
                certPem: o.clients.alice.fullChainPem,
                keyPem: o.clients.alice.keyPem,
                expectBody: ADMITTED.source,
                rate: 60,
                minMs: 20 * SECOND,
                maxMs: 60 * SECOND,
            });
            const updates: { label: string; result: RunResult & { outputs: Outputs }; installs: InstallTiming[] }[] = [];
            try {
                await sleep(3 * SECOND);
                // Update 1 (a day ago): the server certificate is renewed; the CRLs are not due yet.
                let before = site.installs.length;
                const rotated = await site.run(options, new Date(now - DAY));
                updates.push({ label: "server rotation", result: rotated, installs: site.installs.slice(before) });
                await sleep(3 * SECOND);
                // Update 2 (now): the CRLs are re-signed.
                before = site.installs.length;
                const refreshed = await site.run(options, realNow());
                updates.push({ label: "CRL refresh", result: refreshed, installs: site.installs.slice(before) });
            } catch (e) {
                await load.kill();
                throw e;
            }
            load.stop();
            const { outcomes, seconds } = await load.result();

            const [rotation1, refresh] = updates;
            expect(changes(rotation1.result)).toMatchObject({ "rot-server-renewal": "replace", "rot-server-key": "replace", "rot-server-cert": "replace", "rot-site-install": "replace", "rot-site-served": "update" });
            expect(changes(rotation1.result)["rot-revocation-root"]).toBeUndefined();
            expect(changes(refresh.result)).toEqual({ "rot-revocation-root": "update", "rot-revocation-issuing": "update", "rot-site-install": "replace", "rot-site-served": "update" });
            const newServer = rotation1.result.outputs.serverFingerprint;
            expect(newServer).not.toBe(oldServer);
            expect(refresh.result.outputs.serverFingerprint).toBe(newServer);
            const newCrlTimes = crlTimes(site.dir, site.installed("crl.pem"));
            for (let i = 0; i < 2; i++) expect(newCrlTimes[i].nextUpdate).toBeGreaterThan(oldCrlTimes[i].nextUpdate);

            const failed = outcomes.filter((r) => !r.ok);
            const installWindows = updates.map((u) => u.installs.find((i) => i.op === "create")!);
            const during = installWindows.map((w) => outcomes.filter((r) => r.start < w.end && r.end > w.start).length);
            const firstNew = outcomes.filter((r) => r.ok && r.serverFingerprint === newServer).sort((a, b) => a.end - b.end)[0];
            console.log(
                [
                    `(4) load: ${outcomes.length} requests in ${seconds.toFixed(1)} s (${(outcomes.length / seconds).toFixed(1)} req/s), ${failed.length} failed` +
                        (failed.length ? ` (first: ${failed.slice(0, 3).map((f) => f.failure).join("; ")})` : ""),
                    ...updates.map((u, i) => `(4) ${u.label}: install step ${Math.round(installWindows[i].end - installWindows[i].start)} ms, ${during[i]} requests in flight during it; ${/ms: [^;]*/.exec(installWindows[i].stdout)?.[0] ?? ""}`),
                    `(4) install start -> first response with the new server certificate: ${firstNew ? Math.round(firstNew.end - installWindows[0].start) : "never"} ms`,
                ].join("\n"),
            );

            expect(failed.map((f) => f.failure)).toEqual([]);
            expect(outcomes.length).toBeGreaterThan(0);
            // Requests were in flight while each install ran (the reload happened under load).
            for (const n of during) expect(n).toBeGreaterThan(0);
            // The served certificate: the old one before the rotation, the new one after it, nothing else.
            const seen = new Set(outcomes.map((r) => r.serverFingerprint));
            expect([...seen].sort()).toEqual([oldServer, newServer].sort());
            expect(outcomes.filter((r) => r.end < installWindows[0].start).every((r) => r.serverFingerprint === oldServer)).toBe(true);
            expect(firstNew).toBeDefined();
            for (let i = 0; i < 3; i++) expect((await expectAdmitted(site, o.caCertPem, "alice after the updates", o.clients.alice)).serverFingerprint).toBe(newServer);
        } finally {
            await finish(site);
        }
    });
});
