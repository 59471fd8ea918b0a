/**
 * Real TLS clients for integration tests: curl, `openssl s_client` and Node's https, each pointed at a
 * site on 127.0.0.1 with the server name the certificate carries; a recording HTTP upstream; and a way to
 * sign test certificates with a CA key the components produced (x509.ts fixtures from PEM).
 *
 * Every helper bounds its run (curl --max-time, spawn timeouts, request timeouts) so a hung handshake
 * fails a test instead of hanging it. Nothing here asserts: the tests do.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as path from "path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { FixtureCert, FixtureKey, FixtureKeyType } from "./x509";

x509.cryptoProvider.set(crypto.webcrypto as unknown as Crypto);

/** What a client sends to identify itself. */
export type ClientCredential =
    | { kind: "p12"; file: string; password: string }
    /** `cert`: the leaf (curl also sends intermediates following it in the file); `chain`: intermediates for s_client. */
    | { kind: "pem"; cert: string; key: string; chain?: string }
    | { kind: "none" };

export interface Target {
    /** Port on 127.0.0.1. */
    port: number;
    /** SNI and Host: a name in the server certificate. @default "localhost" */
    serverName?: string;
    /** CA file that verifies the server certificate. */
    caFile: string;
}

export interface HttpAnswer {
    /** HTTP status, 0 when no response was read. */
    status: number;
    body: string;
    /** curl/openssl exit status (0 = fine). */
    exitCode: number;
    /** What the tool printed on stderr (TLS errors...). */
    stderr: string;
}

const CLIENT_TIMEOUT_S = 15;

// ---------------------------------------------------------------------------------------------
// curl
// ---------------------------------------------------------------------------------------------

/**
 * `curl` GET of `https://<serverName>:<port><path>` resolved to 127.0.0.1, verifying the server against
 * `caFile`. `extraArgs` go before the URL (e.g. `["--tlsv1.3"]`, `["-H", "X-Foo: bar"]`).
 */
export function curlGet(target: Target, credential: ClientCredential, urlPath = "/", extraArgs: string[] = []): HttpAnswer {
    const name = target.serverName ?? "localhost";
    const args = ["-sS", "--max-time", String(CLIENT_TIMEOUT_S), "-o", "-", "-w", "\n%{http_code}", "--resolve", `${name}:${target.port}:127.0.0.1`, "--cacert", target.caFile];
    if (credential.kind === "p12") {
        // curl splits "file:password" at the first unescaped colon; escape any in the password.
        args.push("--cert-type", "P12", "--cert", `${credential.file}:${credential.password.replace(/\\/g, "\\\\").replace(/:/g, "\\:")}`);
    } else if (credential.kind === "pem") {
        args.push("--cert", credential.cert, "--key", credential.key);
    }
    args.push(...extraArgs, `https://${name}:${target.port}${urlPath}`);
    const r = spawnSync("curl", args, { encoding: "utf8", timeout: (CLIENT_TIMEOUT_S + 5) * 1000 });
    const out = r.stdout ?? "";
    const cut = out.lastIndexOf("\n");
    const code = Number(out.slice(cut + 1));
    return { status: Number.isFinite(code) ? code : 0, body: cut >= 0 ? out.slice(0, cut) : "", exitCode: r.status ?? -1, stderr: r.stderr ?? "" };
}

// ---------------------------------------------------------------------------------------------
// openssl s_client
// ---------------------------------------------------------------------------------------------

export interface SClientResult extends HttpAnswer {
    /** s_client's stdout (handshake report, then the response). */
    stdout: string;
    /** Negotiated protocol ("TLSv1.3"...), when the handshake completed. */
    protocol?: string;
}

/**
 * `openssl s_client` to 127.0.0.1:<port> with SNI, verifying the server (`-verify_return_error`),
 * then one `GET <path>` (Connection: close). `tlsArgs` selects protocols/ciphers, e.g. `["-tls1_2"]`.
 * With a `pem` credential, s_client sends the leaf from `cert` and the certificates of `chain`, if given.
 */
export function sClient(target: Target, credential: ClientCredential, tlsArgs: string[] = [], urlPath = "/"): SClientResult {
    const name = target.serverName ?? "localhost";
    const args = ["s_client", "-connect", `127.0.0.1:${target.port}`, "-servername", name, "-CAfile", target.caFile, "-verify_return_error", "-ign_eof"];
    if (credential.kind === "pem") {
        args.push("-cert", credential.cert, "-key", credential.key);
        if (credential.chain) args.push("-cert_chain", credential.chain);
    } else if (credential.kind === "p12") {
        throw new Error("sClient: use a pem credential (s_client reads PEM certificates and keys)");
    }
    args.push(...tlsArgs);
    const request = `GET ${urlPath} HTTP/1.1\r\nHost: ${name}:${target.port}\r\nConnection: close\r\n\r\n`;
    const r = spawnSync("openssl", args, { input: request, encoding: "utf8", timeout: CLIENT_TIMEOUT_S * 1000 });
    const stdout = r.stdout ?? "";
    const statusLine = /^HTTP\/1\.[01] (\d{3})/m.exec(stdout);
    const headerEnd = stdout.indexOf("\r\n\r\n", statusLine?.index ?? 0);
    const protocol = /^\s*Protocol\s*:\s*(\S+)/m.exec(stdout)?.[1] ?? /^New, (TLSv[\d.]+),/m.exec(stdout)?.[1];
    return {
        status: statusLine ? Number(statusLine[1]) : 0,
        body: statusLine && headerEnd >= 0 ? stdout.slice(headerEnd + 4) : "",
        exitCode: r.status ?? -1,
        stderr: r.stderr ?? "",
        stdout,
        protocol,
    };
}

// ---------------------------------------------------------------------------------------------
// Node https
// ---------------------------------------------------------------------------------------------

export interface NodeCredential {
    pfx?: Buffer;
    passphrase?: string;
    cert?: string;
    key?: string;
}

export interface NodeAnswer {
    status: number;
    body: string;
    headers: http.IncomingHttpHeaders;
}

/** One `https.request` (no agent: no session reuse between calls). Rejects on TLS/socket errors. */
export function httpsGet(target: Target, credential: NodeCredential, urlPath = "/", headers: Record<string, string> = {}): Promise<NodeAnswer> {
    const name = target.serverName ?? "localhost";
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: "127.0.0.1",
                port: target.port,
                servername: name,
                path: urlPath,
                method: "GET",
                headers: { host: `${name}:${target.port}`, ...headers },
                ca: fs.readFileSync(target.caFile),
                ...credential,
                agent: false,
                timeout: CLIENT_TIMEOUT_S * 1000,
            },
            (res) => {
                let body = "";
                res.setEncoding("utf8");
                res.on("data", (chunk) => (body += chunk));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
                res.on("error", reject);
            },
        );
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error(`no answer from 127.0.0.1:${target.port} within ${CLIENT_TIMEOUT_S} s`)));
        req.end();
    });
}

// ---------------------------------------------------------------------------------------------
// A recording upstream
// ---------------------------------------------------------------------------------------------

export interface RecordedRequest {
    method: string;
    url: string;
    /** Lower-cased names; Node joins repeated headers. */
    headers: http.IncomingHttpHeaders;
    /** Name/value pairs as received, in order (repeats kept). */
    rawHeaders: string[];
}

export interface RecordingUpstream {
    port: number;
    requests: RecordedRequest[];
    /** Every value received for a header name (any case), in order. */
    valuesOf(request: RecordedRequest, name: string): string[];
    close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1:<port> that records each request and answers 200 "upstream saw <url>". */
export async function startRecordingUpstream(port: number): Promise<RecordingUpstream> {
    const requests: RecordedRequest[] = [];
    const server = http.createServer((req, res) => {
        requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: [...req.rawHeaders] });
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`upstream saw ${req.url}`);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => resolve());
    });
    return {
        port,
        requests,
        valuesOf(request, name) {
            const out: string[] = [];
            for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
                if (request.rawHeaders[i].toLowerCase() === name.toLowerCase()) out.push(request.rawHeaders[i + 1]);
            }
            return out;
        },
        close: () =>
            new Promise<void>((resolve) => {
                server.closeAllConnections();
                server.close(() => resolve());
            }),
    };
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

/** A certificate and its key as an x509.ts fixture, so `issue(..., fixture)` can sign with it. */
export async function fixtureFromPem(certPem: string, keyPem: string): Promise<FixtureCert> {
    const privateKey = crypto.createPrivateKey(keyPem);
    const publicKey = crypto.createPublicKey(privateKey);
    let type: FixtureKeyType;
    let importParams: EcKeyImportParams | RsaHashedImportParams;
    if (privateKey.asymmetricKeyType === "ec") {
        const curve = privateKey.asymmetricKeyDetails?.namedCurve;
        if (curve === "prime256v1") type = "ecdsa-p256";
        else if (curve === "secp384r1") type = "ecdsa-p384";
        else throw new Error(`fixtureFromPem: unsupported curve ${curve}`);
        importParams = { name: "ECDSA", namedCurve: type === "ecdsa-p256" ? "P-256" : "P-384" };
    } else if (privateKey.asymmetricKeyType === "rsa") {
        const bits = privateKey.asymmetricKeyDetails?.modulusLength;
        type = `rsa-${bits}` as FixtureKeyType;
        importParams = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    } else {
        throw new Error(`fixtureFromPem: unsupported key type ${privateKey.asymmetricKeyType}`);
    }
    const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
    const spki = publicKey.export({ type: "spki", format: "der" });
    const subtle = crypto.webcrypto.subtle;
    const keys = {
        privateKey: await subtle.importKey("pkcs8", pkcs8, importParams, true, ["sign"]),
        publicKey: await subtle.importKey("spki", spki, importParams, true, ["verify"]),
    } as unknown as CryptoKeyPair;
    const key: FixtureKey = {
        type,
        keys,
        privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
    const cert = new x509.X509Certificate(certPem);
    return { certPem, key, serialHex: cert.serialNumber, cert };
}

/** `openssl x509 -noout <flags>` on a PEM; returns stdout trimmed. */
export function opensslX509(certPem: string, flags: string[]): string {
    const r = spawnSync("openssl", ["x509", "-noout", ...flags], { input: certPem, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl x509 ${flags.join(" ")} failed: ${r.stderr}`);
    return r.stdout.trim();
}

/** The first certificate of a PEM bundle, normalized (trailing newline). */
export function firstPem(pem: string): string {
    const m = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
    if (!m) throw new Error("no certificate in PEM");
    return m[0] + "\n";
}

/** Writes `content` to `dir/name` with `mode`; returns the path. */
export function writeFile(dir: string, name: string, content: string | Buffer, mode = 0o644): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode);
    return file;
}

/** SHA-256 (lower-case hex) of the certificate a TLS server on 127.0.0.1:`port` presents to a client sending no certificate. */
export function servedCertificateSha256(port: number, serverName = "localhost"): Promise<string> {
    const tls: typeof import("tls") = require("tls");
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, servername: serverName, rejectUnauthorized: false }, () => {
            const der = socket.getPeerCertificate().raw;
            socket.destroy();
            resolve(crypto.createHash("sha256").update(der).digest("hex"));
        });
        socket.setTimeout(CLIENT_TIMEOUT_S * 1000, () => socket.destroy(new Error(`no TLS handshake with 127.0.0.1:${port}`)));
        socket.on("error", reject);
    });
}

/** SHA-256 (lower-case hex) of the first certificate in a PEM text. */
export function pemSha256(pem: string): string {
    return crypto.createHash("sha256").update(new crypto.X509Certificate(pem).raw).digest("hex");
}
