/**
 * The NGINX mTLS site on a host, end to end: MtlsNginx (CA with an intermediate, server certificate,
 * clients, revocation, NginxSite with a local dedicated target) runs under the DeploymentSimulator with
 * `localCommandExecutor`, so the component's own install/uninstall scripts run for real and start, reload
 * and stop a private nginx on 127.0.0.1:<free port>. Real clients (curl with PKCS#12 from the component's
 * outputs, `openssl s_client`, Node https with pfx) then prove what the site admits and refuses.
 *
 * Each describe block is one stack whose runs build on each other (jest runs a file's tests in order).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import "reflect-metadata"; // before @peculiar/x509
import { X509Certificate } from "@peculiar/x509";
import { MtlsNginx } from "../../components/mtlsNginx";
import { SiteDefinition } from "../../components/nginx/release";
import { DEFAULT_ERROR_PAGES } from "../../components/nginx/errorPages";
import { SiteAllowList, TlsProtocols } from "../../components/nginx/siteSpec";
import { ClientCredential, curlGet, fixtureFromPem, firstPem, httpsGet, opensslX509, sClient, startRecordingUpstream, Target, writeFile } from "../support/clients";
import { DeploymentSimulator, localCommandExecutor, RunResult, SimResource } from "../support/engine";
import { adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { freePort } from "../support/ports";
import { issue } from "../support/x509";

const describeIf = hasNginx() ? describe : describe.skip;

const DAY = 86400_000;
const INSTALL_TYPE = "command:local:Command";

/** Visible text of our built-in pages: the <h1> of each. */
const PAGE_TITLE = {
    495: "Your client certificate was not accepted",
    496: "A client certificate is required",
    403: "Your certificate is not allowed here",
} as const;
const YOU_ARE_IN = "<h1>You are in.</h1>";

interface ClientOut {
    certPem: string;
    keyPem: string;
    fullChainPem: string;
    chainPem: string;
    pkcs12Base64: string;
    pkcs12Password: string;
    serialHex: string;
    fingerprintSha1: string;
    subject: string;
    notAfter: string;
}

interface StackOut {
    url: string;
    caCertPem: string;
    issuingCaCertPem: string;
    issuingCaKeyPem: string;
    releaseId: string;
    clients: Record<string, ClientOut>;
}

interface Variant {
    clients: string[];
    mode: SiteDefinition["mode"];
    allow?: SiteAllowList;
    tlsProtocols?: TlsProtocols;
}

/** The Pulumi program under test: one MtlsNginx; its stack outputs are what the tests need. */
function program(env: { name: string; installDir: string; port: number }, v: Variant) {
    return () => {
        const mtls = new MtlsNginx(env.name, {
            ca: { commonName: `${env.name} Root CA`, organization: "mtls-nginx tests", intermediate: true },
            server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] },
            clients: v.clients.map((name) =>
                // bob: RSA key and the modern PKCS#12 profile, so both key types and both bundle profiles are exercised.
                name === "bob" ? { name, organization: "mtls-nginx tests", keyAlgorithm: "RSA-2048" as const, pkcs12: { profile: "modern" as const } } : { name, organization: "mtls-nginx tests" },
            ),
            site: { listen: { address: "127.0.0.1", port: env.port }, mode: v.mode, allow: v.allow, tlsProtocols: v.tlsProtocols },
            target: { kind: "local", installDir: env.installDir, nginx: { kind: "dedicated" } },
        });
        const clients: Record<string, unknown> = {};
        for (const [name, c] of Object.entries(mtls.clients)) {
            clients[name] = {
                certPem: c.certPem,
                keyPem: c.keyPem,
                fullChainPem: c.fullChainPem,
                chainPem: c.chainPem,
                pkcs12Base64: c.pkcs12Base64,
                pkcs12Password: c.pkcs12Password,
                serialHex: c.serialHex,
                fingerprintSha1: c.fingerprintSha1,
                subject: c.subject,
                notAfter: c.notAfter,
            };
        }
        return {
            url: mtls.url,
            caCertPem: mtls.caCertPem,
            issuingCaCertPem: mtls.ca.certPem,
            issuingCaKeyPem: mtls.ca.keyPem,
            releaseId: mtls.site.releaseId,
            clients,
        };
    };
}

/** A stack of the program: a simulator, its nginx, and files for the clients. */
class Stack {
    readonly sim = new DeploymentSimulator({ executors: { [INSTALL_TYPE]: localCommandExecutor } });
    readonly dir: string;
    readonly installDir: string;
    readonly filesDir: string;
    port = 0;
    out!: StackOut;

    constructor(readonly name: string) {
        this.dir = makeTestDir(name);
        this.installDir = path.join(this.dir, "nginx");
        this.filesDir = path.join(this.dir, "clients");
        fs.mkdirSync(this.filesDir, { mode: 0o700 });
    }

    async init(): Promise<void> {
        this.port = await freePort();
    }

    async up(v: Variant): Promise<RunResult> {
        let result: RunResult;
        try {
            result = await this.sim.run(program({ name: this.name, installDir: this.installDir, port: this.port }, v));
        } finally {
            this.adoptNginx();
        }
        this.out = result.outputs as StackOut;
        writeFile(this.filesDir, "ca.crt", this.out.caCertPem);
        for (const [name, c] of Object.entries(this.out.clients)) {
            writeFile(this.filesDir, `${name}.p12`, Buffer.from(c.pkcs12Base64, "base64"), 0o600);
            writeFile(this.filesDir, `${name}.crt`, c.certPem);
            writeFile(this.filesDir, `${name}.key`, c.keyPem, 0o600);
        }
        return result;
    }

    private adopted = false;

    /** Whatever happens to the test, stopAll() ends the nginx the install script started. */
    adoptNginx(): void {
        const conf = path.join(this.installDir, "current", "nginx.conf");
        if (!this.adopted && fs.existsSync(conf)) {
            adopt(this.installDir, conf);
            this.adopted = true;
        }
    }

    get target(): Target {
        return { port: this.port, caFile: path.join(this.filesDir, "ca.crt") };
    }

    p12(name: string): ClientCredential {
        return { kind: "p12", file: path.join(this.filesDir, `${name}.p12`), password: this.out.clients[name].pkcs12Password };
    }

    pem(name: string): ClientCredential {
        return { kind: "pem", cert: path.join(this.filesDir, `${name}.crt`), key: path.join(this.filesDir, `${name}.key`) };
    }

    node(name: string) {
        return { pfx: Buffer.from(this.out.clients[name].pkcs12Base64, "base64"), passphrase: this.out.clients[name].pkcs12Password };
    }

    releaseDir(): string {
        return fs.realpathSync(path.join(this.installDir, "current"));
    }

    /** The install command resource as committed in the simulator's state. */
    installer(): SimResource {
        const found = [...this.sim.state.values()].filter((r) => r.type === INSTALL_TYPE);
        expect(found).toHaveLength(1);
        return found[0];
    }

    async down(): Promise<void> {
        try {
            await this.sim.destroy();
        } catch (e) {
            console.error(`destroy of ${this.name} failed (stopAll() still ends its nginx):`, e);
        }
    }
}

/** `openssl verify` of a leaf against the release's CA bundle (and its CRLs): its output. */
function opensslVerify(release: string, certFile: string, crl: boolean): { ok: boolean; output: string } {
    const args = ["verify", "-CAfile", path.join(release, "client-ca.pem")];
    if (crl) args.push("-crl_check_all", "-CRLfile", path.join(release, "crl.pem"));
    args.push(certFile);
    const r = spawnSync("openssl", args, { encoding: "utf8" });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

afterAll(async () => {
    await stopAll();
});

describeIf("mTLS site (static page) on the local host, driven by the component's install scripts", () => {
    const stack = new Stack("site-static");
    const mode = { kind: "static" as const };

    beforeAll(async () => {
        await stack.init();
        const first = await stack.up({ clients: ["alice", "bob", "mallory"], mode });
        expect(first.stepFor("site-static-site-install")?.op).toBe("create");
    });

    afterAll(async () => {
        await stack.down();
        // the uninstall script stopped nginx and removed the releases
        expect(fs.existsSync(path.join(stack.installDir, "current"))).toBe(false);
    });

    describe("first deployment", () => {
        it("admits a valid client certificate: curl with the PKCS#12 bundle and password from the outputs", () => {
            for (const name of ["alice", "bob", "mallory"]) {
                const r = curlGet(stack.target, stack.p12(name));
                expect({ name, exit: r.exitCode, stderr: r.stderr, status: r.status }).toEqual({ name, exit: 0, stderr: "", status: 200 });
                expect(r.body).toContain(YOU_ARE_IN);
            }
        });

        it("admits a valid client certificate: Node https with pfx/passphrase, openssl s_client with the PEM key and certificate", async () => {
            const viaNode = await httpsGet(stack.target, stack.node("alice"));
            expect(viaNode.status).toBe(200);
            expect(viaNode.body).toContain(YOU_ARE_IN);
            expect(viaNode.headers["x-mtls-release"]).toBe(stack.out.releaseId);

            const viaBobNode = await httpsGet(stack.target, stack.node("bob"));
            expect(viaBobNode.status).toBe(200);

            const viaOpenssl = sClient(stack.target, stack.pem("alice"));
            expect(viaOpenssl.stdout).toMatch(/Verify return code: 0 \(ok\)/); // the server chain verifies against our root
            expect(viaOpenssl.status).toBe(200);
            expect(viaOpenssl.body).toContain(YOU_ARE_IN);
        });

        it("answers a request without a certificate with 400 and the 496 page", async () => {
            const r = curlGet(stack.target, { kind: "none" });
            expect(r.exitCode).toBe(0);
            expect(r.status).toBe(400);
            expect(r.body).toContain(PAGE_TITLE[496]);
            expect(r.body).toBe(DEFAULT_ERROR_PAGES[496]);

            const viaNode = await httpsGet(stack.target, {});
            expect(viaNode.status).toBe(400);
            expect(viaNode.body).toContain(PAGE_TITLE[496]);
            expect(viaNode.headers["content-type"]).toBe("text/html");

            const viaOpenssl = sClient(stack.target, { kind: "none" });
            expect(viaOpenssl.status).toBe(400);
            expect(viaOpenssl.body).toContain(PAGE_TITLE[496]);
        });

        it("answers a certificate from another CA with 400 and the 495 page", async () => {
            // An impostor hierarchy with exactly our CA names (root and intermediate) but its own keys,
            // issuing a certificate for "alice": only the keys tell it apart.
            const ours = { root: new X509Certificate(stack.out.caCertPem), issuing: new X509Certificate(stack.out.issuingCaCertPem) };
            const impostorRoot = await issue({ subject: ours.root.subject, usage: "ca", days: 365 });
            const impostor = await issue({ subject: ours.issuing.subject, usage: "ca", pathLength: 0, days: 365 }, impostorRoot);
            expect(impostor.cert.subject).toBe(ours.issuing.subject);
            const stranger = await issue({ subject: "CN=alice, O=mtls-nginx tests", usage: "client", days: 30 }, impostor);
            const cert = writeFile(stack.filesDir, "stranger.crt", stranger.certPem + impostor.certPem);
            const key = writeFile(stack.filesDir, "stranger.key", stranger.key.privateKeyPem, 0o600);

            const r = curlGet(stack.target, { kind: "pem", cert, key });
            expect(r.status).toBe(400);
            expect(r.body).toContain(PAGE_TITLE[495]);
            expect(r.body).toBe(DEFAULT_ERROR_PAGES[495]);

            const viaNode = await httpsGet(stack.target, { cert: stranger.certPem, key: stranger.key.privateKeyPem });
            expect(viaNode.status).toBe(400);
            expect(viaNode.body).toContain(PAGE_TITLE[495]);
        });

        it("answers an expired certificate signed by the same issuing CA with 400 and the 495 page (a fresh one from the same signer gets in)", async () => {
            const ca = await fixtureFromPem(stack.out.issuingCaCertPem, stack.out.issuingCaKeyPem);
            const now = Date.now();
            const expired = await issue({ subject: "CN=alice-old, O=mtls-nginx tests", usage: "client", notBefore: new Date(now - 40 * DAY), notAfter: new Date(now - DAY) }, ca);
            const fresh = await issue({ subject: "CN=alice-new, O=mtls-nginx tests", usage: "client", notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY) }, ca);
            const files = (label: string, c: typeof expired): ClientCredential => ({
                kind: "pem",
                cert: writeFile(stack.filesDir, `${label}.crt`, c.certPem),
                key: writeFile(stack.filesDir, `${label}.key`, c.key.privateKeyPem, 0o600),
            });
            const expiredCred = files("expired", expired);
            const freshCred = files("fresh", fresh);

            // Control: the same signer and helper, a current window -> admitted. So the only difference is the dates.
            const control = curlGet(stack.target, freshCred);
            expect(control.status).toBe(200);
            // And OpenSSL's own verdict on the expired one, against the bundle nginx uses: expiry, nothing else.
            const verdict = opensslVerify(stack.releaseDir(), (expiredCred as { cert: string }).cert, true);
            expect(verdict.ok).toBe(false);
            expect(verdict.output).toMatch(/certificate has expired/);

            const r = curlGet(stack.target, expiredCred);
            expect(r.status).toBe(400);
            expect(r.body).toContain(PAGE_TITLE[495]);
            const viaNode = await httpsGet(stack.target, { cert: expired.certPem, key: expired.key.privateKeyPem });
            expect(viaNode.status).toBe(400);
            expect(viaNode.body).toContain(PAGE_TITLE[495]);
        });

        it("refuses TLS 1.1 at the handshake with a protocol_version alert; TLS 1.2 and 1.3 work", () => {
            const old = sClient(stack.target, stack.pem("alice"), ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
            expect(old.exitCode).not.toBe(0);
            expect(old.status).toBe(0);
            // The server's alert (not a local "no protocols available"): the client did offer TLS 1.1.
            expect(old.stderr).toMatch(/alert protocol version.*SSL alert number 70/);
            expect(old.stderr).not.toMatch(/no protocols available/);

            for (const [flag, protocol] of [
                ["-tls1_2", "TLSv1.2"],
                ["-tls1_3", "TLSv1.3"],
            ]) {
                const r = sClient(stack.target, stack.pem("alice"), [flag]);
                expect({ flag, protocol: r.protocol, status: r.status }).toEqual({ flag, protocol, status: 200 });
            }
            expect(curlGet(stack.target, stack.p12("alice"), "/", ["--tlsv1.2", "--tls-max", "1.2"]).status).toBe(200);
        });

        it("keeps private keys 0600 in the release directory, and only there", () => {
            const release = stack.releaseDir();
            expect(path.basename(release)).toBe(stack.out.releaseId);
            const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
            const files = walk(release);
            const withKeys = files.filter((f) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(fs.readFileSync(f, "utf8")));
            expect(withKeys.map((f) => path.relative(release, f))).toEqual(["server.key"]);
            expect(fs.statSync(path.join(release, "server.key")).mode & 0o777).toBe(0o600);
            for (const f of files.filter((f) => !withKeys.includes(f))) {
                expect({ file: path.relative(release, f), mode: (fs.statSync(f).mode & 0o777).toString(8) }).toEqual({ file: path.relative(release, f), mode: expect.stringMatching(/^6[04][04]$/) });
            }
        });

        it("never puts key material in the command strings or its output; stdin (the payload) is the only secret input", () => {
            const installer = stack.installer();
            const serverKey = fs.readFileSync(path.join(stack.releaseDir(), "server.key"), "utf8");
            const keyBody = serverKey.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
            const keys = [serverKey, keyBody, stack.out.issuingCaKeyPem, ...Object.values(stack.out.clients).map((c) => c.keyPem)];
            const texts = ["create", "update", "delete"].map((k) => installer.inputs[k] as string);
            texts.forEach((t) => expect(typeof t).toBe("string"));
            const visible = [...texts, installer.outputs.stdout ?? "", installer.outputs.stderr ?? ""].join("\n");
            expect(visible).not.toMatch(/PRIVATE KEY/);
            for (const k of keys) expect(visible.includes(k.trim())).toBe(false);
            // The key does travel on stdin, base64-encoded, and stdin is secret (inputs and state).
            expect(installer.inputs.stdin).toContain(Buffer.from(serverKey, "utf8").toString("base64"));
            expect(installer.secretInputs).toEqual(["stdin"]);
            expect(installer.secretOutputs).toContain("stdin");
            expect(installer.inputs.logging).toBe("none");
            // What the script printed: one summary line naming the release.
            expect(installer.outputs.stdout).toContain(`release ${stack.out.releaseId} is live`);
        });
    });

    describe("revocation: mallory removed from the program", () => {
        let before: StackOut;

        beforeAll(async () => {
            before = stack.out;
            const second = await stack.up({ clients: ["alice", "bob"], mode });
            expect(second.stepFor("site-static-site-install")?.op).toBe("replace");
        });

        it("installs a new release with a CRL listing mallory's serial", () => {
            expect(stack.out.releaseId).not.toBe(before.releaseId);
            const malloryCert = path.join(stack.filesDir, "mallory.crt"); // written by the first run
            const verdict = opensslVerify(stack.releaseDir(), malloryCert, true);
            expect(verdict.ok).toBe(false);
            expect(verdict.output).toMatch(/certificate revoked/);
            // crl.pem holds one CRL per CA of the chain (root, intermediate); mallory is on the intermediate's.
            const crls = fs.readFileSync(path.join(stack.releaseDir(), "crl.pem"), "utf8").match(/-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----\n/g) ?? [];
            expect(crls).toHaveLength(2);
            const listing = crls.map((crl) => spawnSync("openssl", ["crl", "-noout", "-text"], { input: crl, encoding: "utf8" }).stdout);
            const intermediateCrl = listing.find((text) => /Issuer: .*Intermediate/.test(text));
            expect(intermediateCrl?.toUpperCase()).toContain(`SERIAL NUMBER: ${before.clients.mallory.serialHex.toUpperCase()}`);
        });

        it("refuses mallory (400, 495 page) while alice and bob still get 200", async () => {
            const mallory = curlGet(stack.target, { kind: "p12", file: path.join(stack.filesDir, "mallory.p12"), password: before.clients.mallory.pkcs12Password });
            expect(mallory.status).toBe(400);
            expect(mallory.body).toContain(PAGE_TITLE[495]);
            const viaNode = await httpsGet(stack.target, { pfx: Buffer.from(before.clients.mallory.pkcs12Base64, "base64"), passphrase: before.clients.mallory.pkcs12Password });
            expect(viaNode.status).toBe(400);

            const alice = await httpsGet(stack.target, stack.node("alice"));
            expect(alice.status).toBe(200);
            expect(alice.headers["x-mtls-release"]).toBe(stack.out.releaseId); // nginx reloaded onto the new release
            expect(curlGet(stack.target, stack.p12("bob")).status).toBe(200);
            // alice's certificate was not re-issued by the change
            expect(stack.out.clients.alice.serialHex).toBe(before.clients.alice.serialHex);
        });
    });

    describe("allowlist: site.allow.commonNames = [alice]", () => {
        beforeAll(async () => {
            await stack.up({ clients: ["alice", "bob"], mode, allow: { commonNames: ["alice"] } });
        });

        it("gives bob (valid, not listed) 403 and our 403 page; alice 200", async () => {
            const bob = curlGet(stack.target, stack.p12("bob"));
            expect(bob.status).toBe(403);
            expect(bob.body).toContain(PAGE_TITLE[403]);
            expect(bob.body).toBe(DEFAULT_ERROR_PAGES[403]);
            const bobNode = await httpsGet(stack.target, stack.node("bob"));
            expect(bobNode.status).toBe(403);

            const alice = curlGet(stack.target, stack.p12("alice"));
            expect(alice.status).toBe(200);
            expect(alice.body).toContain(YOU_ARE_IN);
        });
    });

    describe("tlsProtocols: TLSv1.3 only", () => {
        beforeAll(async () => {
            await stack.up({ clients: ["alice", "bob"], mode, tlsProtocols: "TLSv1.3" });
        });

        it("refuses TLS 1.2 at the handshake and admits alice over TLS 1.3", () => {
            const tls12 = sClient(stack.target, stack.pem("alice"), ["-tls1_2"]);
            expect(tls12.exitCode).not.toBe(0);
            expect(tls12.status).toBe(0);
            expect(tls12.stderr).toMatch(/alert protocol version.*SSL alert number 70/);
            const curl12 = curlGet(stack.target, stack.p12("alice"), "/", ["--tlsv1.2", "--tls-max", "1.2"]);
            expect(curl12.status).toBe(0);
            expect(curl12.exitCode).toBe(35); // CURLE_SSL_CONNECT_ERROR

            const tls13 = sClient(stack.target, stack.pem("alice"), ["-tls1_3"]);
            expect(tls13.protocol).toBe("TLSv1.3");
            expect(tls13.status).toBe(200);
        });
    });
});

describeIf("mTLS site in reverse-proxy mode: identity headers to the upstream", () => {
    const stack = new Stack("site-proxy");
    let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
    let upstreamUrl: string;
    // Every spoofed value says "spoofed", which no real header value contains; names in several cases.
    const spoofed: Record<string, string> = {
        "X-Client-Verify": "SUCCESS-spoofed",
        "x-client-subject-dn": "CN=root,O=spoofed",
        "X-CLIENT-ISSUER-DN": "CN=spoofed CA",
        "X-Client-Serial": "spoofed-serial",
        "X-Client-Fingerprint": "spoofed-fingerprint",
        "X-Client-Not-After": "Jan  1 00:00:00 2099 GMT spoofed",
        "X-Client-Days-Remaining": "99999-spoofed",
        "X-Client-Cert": "-----BEGIN%20CERTIFICATE-----spoofed",
        X_Client_Verify: "SUCCESS-underscore-spoofed",
    };

    /** GET through nginx with alice's bundle and the spoofed headers; returns what the upstream recorded. */
    async function throughNginx(urlPath: string) {
        const before = upstream.requests.length;
        const t0 = Date.now();
        const r = await httpsGet(stack.target, stack.node("alice"), urlPath, spoofed);
        const t1 = Date.now();
        expect(r.status).toBe(200);
        expect(r.body).toBe(`upstream saw ${urlPath}`);
        expect(upstream.requests.length).toBe(before + 1);
        return { request: upstream.requests[before], t0, t1, response: r };
    }

    beforeAll(async () => {
        await stack.init();
        upstream = await startRecordingUpstream(await freePort());
        upstreamUrl = `http://127.0.0.1:${upstream.port}`;
        await stack.up({ clients: ["alice"], mode: { kind: "proxy", upstream: upstreamUrl } });
    });

    afterAll(async () => {
        await stack.down();
        await upstream?.close();
    });

    it("sends the verified identity of alice, with the component's serial and fingerprint", async () => {
        const alice = stack.out.clients.alice;
        const { request, t0, t1 } = await throughNginx("/whoami");
        const one = (name: string) => {
            const values = upstream.valuesOf(request, name);
            expect({ name, count: values.length }).toEqual({ name, count: 1 });
            return values[0];
        };
        expect(one("X-Client-Verify")).toBe("SUCCESS");
        expect(one("X-Client-Subject-DN")).toBe(opensslX509(alice.certPem, ["-subject", "-nameopt", "RFC2253"]).replace(/^subject=/, ""));
        expect(one("X-Client-Subject-DN")).toMatch(/^CN=alice,O=mtls-nginx tests$/);
        expect(one("X-Client-Issuer-DN")).toBe(opensslX509(alice.certPem, ["-issuer", "-nameopt", "RFC2253"]).replace(/^issuer=/, ""));
        expect(one("X-Client-Issuer-DN")).toContain(`CN=${stack.name} Root CA Intermediate`);
        expect(one("X-Client-Serial")).toBe(alice.serialHex);
        expect(one("X-Client-Fingerprint")).toBe(alice.fingerprintSha1);
        expect(one("X-Client-Not-After")).toBe(opensslX509(alice.certPem, ["-enddate"]).replace(/^notAfter=/, ""));
        expect(new Date(one("X-Client-Not-After")).getTime()).toBe(new Date(alice.notAfter).getTime());
        // nginx: floor((notAfter - now) / 1 day), now in whole seconds at the request
        const end = new Date(alice.notAfter).getTime();
        const days = Number(one("X-Client-Days-Remaining"));
        expect(days).toBeGreaterThanOrEqual(Math.floor((end - t1) / DAY));
        expect(days).toBeLessThanOrEqual(Math.floor((end - Math.floor(t0 / 1000) * 1000) / DAY));
        // Forwarding is off: no certificate header at all (the spoofed one is dropped too).
        expect(upstream.valuesOf(request, "X-Client-Cert")).toEqual([]);
        // The underscore variant is dropped by nginx (ignore_invalid_headers), not passed on.
        expect(upstream.valuesOf(request, "X_Client_Verify")).toEqual([]);
        expect(request.headers["x-mtls-release"]).toBeUndefined();
        expect(one("X-Forwarded-Proto")).toBe("https");
    });

    it("passes no spoofed copy of any identity header", async () => {
        const { request } = await throughNginx("/spoof");
        const received: string[] = [];
        for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) received.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
        expect(received.filter((h) => /spoofed/i.test(h))).toEqual([]);
        // ...while nginx's own values are there
        expect(upstream.valuesOf(request, "X-Client-Verify")).toEqual(["SUCCESS"]);
        expect(upstream.valuesOf(request, "X-Client-Serial")).toEqual([stack.out.clients.alice.serialHex]);
    });

    describe("forwardClientCertificate: true", () => {
        beforeAll(async () => {
            await stack.up({ clients: ["alice"], mode: { kind: "proxy", upstream: upstreamUrl, forwardClientCertificate: true } });
        });

        it("sends alice's certificate as URL-encoded PEM, and only that one", async () => {
            const { request } = await throughNginx("/cert");
            const values = upstream.valuesOf(request, "X-Client-Cert");
            expect(values).toHaveLength(1);
            expect(values[0]).toMatch(/^-----BEGIN%20CERTIFICATE-----%0A/);
            const pem = decodeURIComponent(values[0]);
            expect(firstPem(pem)).toBe(firstPem(stack.out.clients.alice.certPem));
            expect(upstream.valuesOf(request, "X-Client-Verify")).toEqual(["SUCCESS"]);
        });
    });

    describe("a broken update: the upstream host does not resolve", () => {
        let good: StackOut;
        let failure: unknown;

        beforeAll(async () => {
            good = stack.out;
            failure = await stack.sim
                .run(program({ name: stack.name, installDir: stack.installDir, port: stack.port }, { clients: ["alice"], mode: { kind: "proxy", upstream: "http://no-such-upstream.invalid:8080" } }))
                .then(
                    () => undefined,
                    (e) => e,
                );
        });

        it("fails the install with nginx's own message", () => {
            expect(failure).toBeDefined();
            const message = (failure as Error).message;
            expect(message).toMatch(/exit status 1/);
            expect(message).toContain("mtls-nginx: nginx -t rejected the new configuration;");
            // nginx's own words, from `nginx -t` on the new release's config (which was never swapped in)
            expect(message).toMatch(/nginx: \[emerg\] host not found in upstream "no-such-upstream\.invalid" in \S+\/releases\/[0-9a-f]{16}\/site\.conf:\d+/);
            expect(message).toContain("the previous configuration is still being served");
            expect(message).not.toMatch(/PRIVATE KEY/);
        });

        it("keeps the old release answering 200", async () => {
            expect(path.basename(stack.releaseDir())).toBe(good.releaseId);
            const { response, request } = await throughNginx("/still-up");
            expect(response.headers["x-mtls-release"]).toBe(good.releaseId);
            expect(upstream.valuesOf(request, "X-Client-Verify")).toEqual(["SUCCESS"]);
            // no half-installed release left behind
            expect(fs.readdirSync(path.join(stack.installDir, "releases")).filter((d) => !d.startsWith("."))).toContain(good.releaseId);
            expect(fs.readdirSync(path.join(stack.installDir, "releases")).some((d) => d.startsWith(".staging"))).toBe(false);
        });
    });
});
