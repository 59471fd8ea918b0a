/**
 * The rendered config doing its job in a real nginx 1.22, with real client certificates:
 * verification, the 495/496/403 pages, allowlists of all four kinds (with the exact value formats
 * nginx uses for $ssl_client_serial, $ssl_client_fingerprint and $ssl_client_s_dn), identity headers
 * that cannot be spoofed, revocation, response headers on every response, and HTTP/2 via the
 * 1.22 `listen ... http2` syntax.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import * as tls from "tls";
import { renderNginxConf, renderSite } from "../../../components/nginx/render";
import { withDefaults, type SiteSpec } from "../../../components/nginx/siteSpec";
import { DEFAULT_ERROR_PAGES } from "../../../components/nginx/errorPages";
import { normalizeFingerprintSha1, normalizeSerial } from "../../../components/nginx/validate";
import { hasNginx, makeTestDir, startNginx, stopAll } from "../../support/nginx";
import { makeCrl, writeTestPki, type TestPki } from "../../support/nginxConf";
import { freePort } from "../../support/ports";
import { issue, makeHierarchy, writeFixture, type FixtureCert } from "../../support/x509";

interface Client {
    cert: string;
    key: string;
}

interface Reply {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
}

function request(port: number, urlPath: string, client?: Client, headers: Record<string, string> = {}): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: "127.0.0.1",
                port,
                path: urlPath,
                servername: "localhost",
                ca: fs.readFileSync(pki.files.rootCa),
                ...(client ? { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) } : {}),
                agent: false,
                headers: { Host: "localhost", ...headers },
            },
            (res) => {
                let body = "";
                res.setEncoding("utf8");
                res.on("data", (chunk) => (body += chunk));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
            },
        );
        req.on("error", reject);
        req.end();
    });
}

/** A client certificate made by the openssl CLI (for subjects @peculiar/x509 cannot express). */
function opensslClient(dir: string, name: string, subject: string, issuer: { cert: string; key: string }, serialHex: string): Client {
    const key = path.join(dir, `${name}.key`);
    const csr = path.join(dir, `${name}.csr`);
    const cert = path.join(dir, `${name}.crt`);
    const ext = path.join(dir, "client-ext.cnf");
    fs.writeFileSync(ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
    execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-utf8", "-subj", subject, "-out", csr], { stdio: "pipe" });
    execFileSync("openssl", ["x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key, "-set_serial", `0x${serialHex}`, "-days", "5", "-extfile", ext, "-out", cert], { stdio: "pipe" });
    return { cert, key };
}

function fingerprintOf(certPem: string): string {
    return crypto.createHash("sha1").update(new crypto.X509Certificate(certPem).raw).digest("hex");
}

let pki: TestPki;

(hasNginx() ? describe : describe.skip)("rendered sites in a running nginx", () => {
    let dir: string;
    let guardedPort: number;
    let strictPort: number;
    let crlAllPort: number;
    let upstream: http.Server;
    let lastUpstream: http.IncomingHttpHeaders | undefined;
    const clients: Record<string, Client> = {};
    const certs: Record<string, FixtureCert> = {};
    const SPECIAL_CN = '#lead,b+c"d\\e<f>g;h=i é ';

    beforeAll(async () => {
        dir = makeTestDir("render-live");
        pki = await writeTestPki(path.join(dir, "pki"));
        const c = path.join(dir, "clients");
        const int = pki.intermediate;
        const add = async (name: string, fixture: FixtureCert) => {
            certs[name] = fixture;
            const files = writeFixture(c, name, fixture);
            clients[name] = { cert: files.cert, key: files.key };
        };
        await add("alice", await issue({ subject: "CN=alice, O=Example", usage: "client", serialHex: "0a11ce" }, int));
        await add("ALICE", await issue({ subject: "CN=ALICE, O=Example", usage: "client" }, int));
        await add("bySerial", await issue({ subject: "CN=serial-holder", usage: "client", serialHex: "00fab1" }, int));
        await add("byFingerprint", await issue({ subject: "CN=fingerprint-holder", usage: "client" }, int));
        await add("revoked", await issue({ subject: "CN=alice, O=Example", usage: "client", serialHex: "7e7e7e" }, int));
        await add("expired", await issue({ subject: "CN=alice, O=Example", usage: "client", notBefore: new Date(Date.now() - 10 * 86400_000), notAfter: new Date(Date.now() - 86400_000) }, int));
        const other = await makeHierarchy({ name: "Other" });
        await add("otherCa", await issue({ subject: "CN=alice, O=Example", usage: "client" }, other.root));
        const issuer = { cert: pki.files.intermediateCa, key: pki.files.intermediateCa.replace(/\.crt$/, ".key") };
        clients.specialCn = opensslClient(c, "special-cn", `/O=Example/CN=${SPECIAL_CN.replace(/\\/g, "\\\\").replace(/\+/g, "\\+")}`, issuer, "5c01");
        clients.specialDn = opensslClient(c, "special-dn", '/O=Ex"ample/CN=Bob, Jr.', issuer, "5c02");
        clients.cnInOtherAttribute = opensslClient(c, "cn-in-o", "/O=x,CN=alice/CN=mallory", issuer, "5c03");
        clients.cnAsValue = opensslClient(c, "cn-as-value", "/O=CN=alice/CN=mallory", issuer, "5c04");

        // CRLs: root + intermediate (the intermediate revokes one client), and an intermediate-only file.
        const crl = path.join(dir, "pki", "revoked.crl.pem");
        fs.writeFileSync(crl, (await makeCrl(pki.root)) + (await makeCrl(int, ["7e7e7e"])));
        const crlIntermediateOnly = path.join(dir, "pki", "intermediate-only.crl.pem");
        fs.writeFileSync(crlIntermediateOnly, await makeCrl(int));

        // An upstream that echoes the headers it got.
        const upstreamPort = await freePort();
        upstream = http.createServer((req, res) => {
            lastUpstream = req.headers;
            res.setHeader("X-Mtls-Release", "forged-by-upstream");
            res.end("upstream ok");
        });
        await new Promise<void>((r) => upstream.listen(upstreamPort, "127.0.0.1", r));

        [guardedPort, strictPort, crlAllPort] = [await freePort(), await freePort(), await freePort()];
        const errorPagesDir = path.join(dir, "errors");
        const www = path.join(dir, "www");
        fs.mkdirSync(www, { recursive: true });
        fs.writeFileSync(path.join(www, "index.html"), "static index\n");
        const common = {
            serverNames: ["localhost"],
            verifyDepth: 2,
            paths: { certificate: pki.files.serverCert, certificateKey: pki.files.serverKey, clientCa: pki.files.intermediateCa, trustedCa: pki.files.rootCa, crl, errorPagesDir },
        };
        const guarded: SiteSpec = withDefaults({
            ...common,
            siteName: "guarded",
            listen: { address: "127.0.0.1", port: guardedPort },
            verifyClient: "optional",
            mode: { kind: "proxy", upstream: `http://127.0.0.1:${upstreamPort}` },
            locations: [
                { path: "/", requireClientCertificate: true },
                { path: "/public/", requireClientCertificate: false },
            ],
            allow: {
                commonNames: ["alice", SPECIAL_CN],
                subjectDns: ['CN=Bob\\, Jr.,O=Ex\\"ample'],
                serials: ["0x00:fa:b1"],
                fingerprintsSha1: [fingerprintOf(certs.byFingerprint.certPem).toUpperCase().replace(/(..)(?!$)/g, "$1:")],
            },
            releaseMarker: "rel-1234",
        });
        const strict: SiteSpec = withDefaults({
            ...common,
            siteName: "strict",
            listen: { address: "127.0.0.1", port: strictPort, http2: true },
            mode: { kind: "static", root: www },
            hsts: { maxAgeSeconds: 600, includeSubDomains: true },
        });
        const crlAll: SiteSpec = withDefaults({
            ...common,
            siteName: "crl-intermediate-only",
            listen: { address: "127.0.0.1", port: crlAllPort },
            paths: { ...common.paths, crl: crlIntermediateOnly },
            mode: { kind: "static", root: www },
        });
        const includes: string[] = [];
        for (const spec of [guarded, strict, crlAll]) {
            const rendered = renderSite(spec);
            const file = path.join(dir, `${spec.siteName}.conf`);
            fs.writeFileSync(file, rendered.siteConf);
            includes.push(file);
            fs.mkdirSync(errorPagesDir, { recursive: true });
            for (const [name, html] of Object.entries(rendered.errorPages)) fs.writeFileSync(path.join(errorPagesDir, name), html);
        }
        fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
        fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
        const conf = path.join(dir, "nginx.conf");
        fs.writeFileSync(conf, renderNginxConf({ prefix: dir, pidFile: path.join(dir, "logs/nginx.pid"), errorLog: path.join(dir, "logs/error.log"), errorLogLevel: "info", tempDir: path.join(dir, "tmp"), siteIncludes: includes, workerProcesses: 1 }));
        await startNginx(dir, conf);
    });

    afterAll(async () => {
        await stopAll();
        await new Promise((r) => upstream?.close(r));
    });

    describe("optional verification, allowlists, identity headers", () => {
        test("an allowed client reaches the upstream with exact identity headers; forged ones never pass", async () => {
            lastUpstream = undefined;
            const reply = await request(guardedPort, "/x", clients.alice, {
                "X-Client-Verify": "SUCCESS-forged",
                "x-client-cert": "forged",
                "X-CLIENT-SERIAL": "forged",
                X_Client_Fingerprint: "forged",
                "X-Forwarded-For": "203.0.113.1",
            });
            expect(reply.status).toBe(200);
            expect(reply.body).toBe("upstream ok");
            const cert = new crypto.X509Certificate(certs.alice.certPem);
            expect(lastUpstream).toMatchObject({
                "x-client-verify": "SUCCESS",
                "x-client-subject-dn": "O=Example,CN=alice",
                "x-client-issuer-dn": "CN=Config Test Intermediate CA",
                // nginx prints whole bytes of uppercase hex: 0x0a11ce -> "0A11CE"; our normalization agrees.
                "x-client-serial": "0A11CE",
                "x-client-fingerprint": fingerprintOf(certs.alice.certPem),
                "x-client-not-after": expect.stringMatching(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT$/),
                "x-client-days-remaining": expect.stringMatching(/^\d+$/),
                "x-forwarded-for": "127.0.0.1",
                "x-forwarded-proto": "https",
            });
            expect(normalizeSerial("0a11ce")).toBe(lastUpstream!["x-client-serial"]);
            expect(normalizeFingerprintSha1(cert.fingerprint)).toBe(lastUpstream!["x-client-fingerprint"]);
            expect(new Date(lastUpstream!["x-client-not-after"] as string).getTime()).toBe(new Date(cert.validTo).getTime());
            expect(lastUpstream!["x-client-cert"]).toBeUndefined();
            expect(Object.keys(lastUpstream!).filter((h) => h.includes("_"))).toEqual([]);
            // Upstream cannot forge the release marker.
            expect(reply.headers["x-mtls-release"]).toBe("rel-1234");
            expect(reply.headers["strict-transport-security"]).toBe("max-age=63072000");
        });

        test("CN and DN entries match case-sensitively (plain map keys would not)", async () => {
            const reply = await request(guardedPort, "/x", clients.ALICE);
            expect(reply.status).toBe(403);
            expect(reply.body).toBe(DEFAULT_ERROR_PAGES[403]);
            expect(reply.headers["x-mtls-release"]).toBe("rel-1234");
        });

        test("a CN with every RFC 2253 special character, a leading # and trailing space, and non-ASCII is matched", async () => {
            const reply = await request(guardedPort, "/x", clients.specialCn);
            expect(reply.status).toBe(200);
            expect(lastUpstream!["x-client-subject-dn"]).toBe('CN=\\#lead\\,b\\+c\\"d\\\\e\\<f\\>g\\;h=i \\C3\\A9\\ ,O=Example');
        });

        test("a DN entry with escaped characters is matched exactly", async () => {
            const reply = await request(guardedPort, "/x", clients.specialDn);
            expect(reply.status).toBe(200);
            expect(lastUpstream!["x-client-subject-dn"]).toBe('CN=Bob\\, Jr.,O=Ex\\"ample');
        });

        test('"CN=alice" inside another attribute, or as its value, does not pass for CN alice', async () => {
            for (const client of [clients.cnInOtherAttribute, clients.cnAsValue]) {
                const reply = await request(guardedPort, "/x", client);
                expect(reply.status).toBe(403);
            }
        });

        test("serial (written 0x00:fa:b1) and fingerprint (uppercase, colons) entries match nginx's formats", async () => {
            expect((await request(guardedPort, "/x", clients.bySerial)).status).toBe(200);
            expect(lastUpstream!["x-client-serial"]).toBe("FAB1");
            expect((await request(guardedPort, "/x", clients.byFingerprint)).status).toBe(200);
        });

        test("without a certificate: protected location 403 with the no-certificate page, public location passes with Verify NONE only", async () => {
            const denied = await request(guardedPort, "/x");
            expect(denied.status).toBe(403);
            expect(denied.body).toBe(DEFAULT_ERROR_PAGES[496]);
            expect(denied.headers["x-mtls-release"]).toBe("rel-1234");

            lastUpstream = undefined;
            const open = await request(guardedPort, "/public/page", undefined, { "X-Client-Subject-DN": "CN=admin", "X-Client-Verify": "SUCCESS" });
            expect(open.status).toBe(200);
            expect(lastUpstream!["x-client-verify"]).toBe("NONE");
            for (const header of ["x-client-subject-dn", "x-client-issuer-dn", "x-client-serial", "x-client-fingerprint", "x-client-not-after", "x-client-days-remaining", "x-client-cert"]) {
                expect(lastUpstream![header]).toBeUndefined();
            }
        });

        test("a revoked certificate gets 400 with the 495 page even with optional verification", async () => {
            const reply = await request(guardedPort, "/public/x", clients.revoked);
            expect(reply.status).toBe(400);
            expect(reply.body).toBe(DEFAULT_ERROR_PAGES[495]);
        });

        test("the internal error location cannot be requested directly", async () => {
            expect((await request(guardedPort, "/.mtls-errors/403.html", clients.alice)).status).toBe(404);
        });
    });

    describe("verifyClient on", () => {
        test("an accepted client gets the static files; HSTS with includeSubDomains", async () => {
            const reply = await request(strictPort, "/", clients.alice);
            expect(reply.status).toBe(200);
            expect(reply.body).toBe("static index\n");
            expect(reply.headers["strict-transport-security"]).toBe("max-age=600; includeSubDomains");
        });

        test.each([
            { label: "no certificate", client: undefined, page: 496 as const },
            { label: "a certificate from another CA", client: "otherCa", page: 495 as const },
            { label: "an expired certificate", client: "expired", page: 495 as const },
            { label: "a revoked certificate", client: "revoked", page: 495 as const },
        ])("$label: nginx answers 400 with our $page page and the response headers", async ({ client, page }) => {
            const reply = await request(strictPort, "/", client ? clients[client] : undefined);
            expect(reply.status).toBe(400);
            expect(reply.body).toBe(DEFAULT_ERROR_PAGES[page]);
            expect(reply.headers["content-type"]).toBe("text/html");
            expect(reply.headers["strict-transport-security"]).toBe("max-age=600; includeSubDomains");
        });

        test("listen ... ssl http2 (nginx 1.22 syntax) negotiates h2", async () => {
            const protocol = await new Promise<string | false | null>((resolve, reject) => {
                const socket = tls.connect(
                    { host: "127.0.0.1", port: strictPort, servername: "localhost", ca: fs.readFileSync(pki.files.rootCa), ALPNProtocols: ["h2", "http/1.1"], cert: fs.readFileSync(clients.alice.cert), key: fs.readFileSync(clients.alice.key) },
                    () => {
                        resolve(socket.alpnProtocol);
                        socket.end();
                    },
                );
                socket.on("error", reject);
            });
            expect(protocol).toBe("h2");
        });

        test("ssl_crl needs a CRL from every CA in the chain: with the intermediate's alone, a valid client is refused", async () => {
            const reply = await request(crlAllPort, "/", clients.alice);
            expect(reply.status).toBe(400);
            expect(reply.body).toBe(DEFAULT_ERROR_PAGES[495]);
            expect(fs.readFileSync(path.join(dir, "logs/error.log"), "utf8")).toMatch(/unable to get certificate CRL/);
        });
    });
});
