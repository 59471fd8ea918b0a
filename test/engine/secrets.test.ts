/**
 * Secrets under the real engine. After `pulumi up` of the dev stack and a renewal:
 * - nothing the backend stores (checkpoint, backups, history: every file of the file backend) holds a
 *   private key, a PKCS#12 bundle, a password or a fragment of one in plain text, outputs and the install
 *   command's stored stdout/stderr included;
 * - neither does what `pulumi up` printed (default logging);
 * - `pulumi stack output --show-secrets` gives the bundles, which open with their passwords.
 * The secrets searched for are read back with `pulumi stack export --show-secrets`.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { hasNginx } from "../support/nginx";
import { freePort } from "../support/ports";
import { describeEngine, EngineProject, StateResource, urnName } from "../support/realEngine";
import { pemBegin, pemBlocks } from "../support/x509";

/** Every string value under `value`, with the JSON path it was found at. */
function strings(value: unknown, at = "$"): { at: string; text: string }[] {
    if (typeof value === "string") return [{ at, text: value }];
    if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${at}[${i}]`));
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => strings(v, `${at}.${k}`));
    return [];
}

/**
 * What must never appear in plain text, from one secret: the secret itself (also JSON-escaped); for a
 * base64 value (a PKCS#12 bundle) 16-character pieces of it; for each PKCS#1/SEC1/PKCS#8 private key in
 * it, the start of its body (version and private scalar) and the raw key material as hex and base64url
 * (d, p, q); for an OpenSSH key, the end of its body, where the private part is. Key bodies are not cut
 * into pieces everywhere: their public part (also in publicKeyPem) may show in plain text.
 */
export function fragmentsOf(secret: string): string[] {
    // As is, and with its line breaks escaped once or twice (JSON, and JSON text inside a JSON string).
    const out = new Set<string>([secret, secret.replace(/\n/g, "\\n"), secret.replace(/\n/g, "\\\\n")]);
    if (/^[A-Za-z0-9+/=]{32,}$/.test(secret)) for (let i = 0; i + 16 <= secret.length; i += 4) out.add(secret.slice(i, i + 16));
    for (const block of pemBlocks(secret, "OPENSSH PRIVATE KEY")) {
        // Its public key comes first; the private scalar sits near the end.
        out.add(block.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "").slice(-60, -12));
    }
    for (const block of pemBlocks(secret, "(?:RSA |EC )?PRIVATE KEY")) {
        out.add(block.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "").slice(0, 48));
        const jwk = crypto.createPrivateKey(block).export({ format: "jwk" }) as Record<string, string>;
        for (const part of ["d", "p", "q"].filter((k) => jwk[k])) {
            out.add(jwk[part].slice(0, 24));
            out.add(Buffer.from(jwk[part], "base64url").toString("hex").slice(0, 32));
        }
    }
    return [...out].filter((f) => f.length >= 12);
}

/**
 * The secret values of the state: everything the engine stores encrypted. `stack export --show-secrets`
 * shows each as `{ <SECRET_SIG>: <constant>, plaintext: <the value as JSON text> }`.
 */
function secretsOf(resources: StateResource[]): { where: string; value: string }[] {
    const out: { where: string; value: string }[] = [];
    for (const r of resources) {
        for (const s of strings(r.outputs ?? {})) {
            if (!s.at.endsWith(".plaintext")) continue;
            const where = `${urnName(r.urn)} ${s.at.slice(0, -".plaintext".length)}`;
            const value: unknown = JSON.parse(s.text);
            // A secret string is secret as a whole (a key, a bundle, a password); inside a secret object (the
            // revocation ledger) only the private keys are: its certificates and dates are public elsewhere.
            if (typeof value === "string") {
                if (value.length >= 12) out.push({ where, value });
            } else {
                for (const inner of strings(value)) if (/PRIVATE KEY-----/.test(inner.text)) out.push({ where: `${where}${inner.at.slice(1)}`, value: inner.text });
            }
        }
    }
    return out;
}

function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describeEngine("secrets: none in the backend, the engine's output or stored command output", () => {
    let project: EngineProject;
    const printed: string[] = [];

    beforeAll(async () => {
        if (!hasNginx()) throw new Error("nginx is required (apt-get install nginx)");
        project = new EngineProject("secrets");
        await project.pulumi(["stack", "select", "--create", "dev"]);
        await project.setConfig("site.listen.port", await freePort());
        const up = await project.pulumi(["up", "--yes"]);
        // A renewal, so that superseded keys and a second generation of everything are in history too.
        const outputs = await project.outputs();
        const renew = await project.pulumi(["up", "--yes"], { env: { MTLS_NGINX_CLOCK: new Date(Date.parse(outputs.nextRenewal.at) + 3600_000).toISOString() } });
        printed.push(up.stdout, up.stderr, renew.stdout, renew.stderr);
    });

    afterAll(async () => {
        await project?.cleanup();
    });

    it("the state holds the secrets we look for (private keys of every level, bundles, passwords, the revocation ledger)", async () => {
        const secrets = secretsOf((await project.exportState(true)).resources);
        const where = secrets.map((s) => s.where).join("\n");
        expect(where).toMatch(/mtls-server-key \$\.privateKeyPem/);
        expect(where).toMatch(/mtls-ca-root-key \$\.privateKeyPem/);
        expect(where).toMatch(/mtls-ca-intermediate-key \$\.privateKeyPem/);
        expect(where).toMatch(/mtls-client-bob-key \$\.privateKeyPem/);
        expect(where).toMatch(/mtls-client-alice-pkcs12 \$\.pfxBase64/);
        expect(where).toMatch(/mtls-client-alice-pkcs12 \$\.password/);
        expect(where).toMatch(/mtls-revocation-issuing \$\.state\.issuers\[0\]\.keyPem/); // the CA key the ledger signs CRLs with
        expect(secrets.length).toBeGreaterThan(20);
    });

    it("no file of the file backend (checkpoint, backups, history) holds one of them, or a fragment, in plain text", async () => {
        const secrets = secretsOf((await project.exportState(true)).resources);
        const files = filesUnder(project.backend);
        expect(files.some((f) => f.endsWith(".json"))).toBe(true);
        const leaks: string[] = [];
        for (const file of files) {
            const text = fs.readFileSync(file, "latin1");
            for (const s of secrets) for (const f of fragmentsOf(s.value)) if (text.includes(f)) leaks.push(`${path.relative(project.backend, file)}: ${s.where}`);
        }
        expect([...new Set(leaks)]).toEqual([]);
        // The same search does find them where they are meant to be: the export with --show-secrets.
        const shown = (await project.exportState(true)).text;
        expect(secrets.filter((s) => fragmentsOf(s.value).some((f) => shown.includes(f))).length).toBe(secrets.length);
        // The export without --show-secrets names them as secrets.
        const plain = (await project.exportState(false)).text;
        expect(plain).toMatch(/"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"/);
        // No PEM private key (a header followed by base64: the providers' own code mentions the header alone).
        expect(plain).not.toMatch(new RegExp(`${pemBegin("[A-Z ]*PRIVATE KEY")}(\\\\n|\\n)[A-Za-z0-9+/]{16}`));
    });

    it("the install command's stored stdout/stderr are plain, and hold no key material", async () => {
        const install = (await project.exportState(false)).resources.find((r) => urnName(r.urn) === "mtls-site-install")!;
        expect(typeof install.outputs!.stdout).toBe("string");
        expect(install.outputs!.stdout).toMatch(/release [0-9a-f]+/);
        const secrets = secretsOf((await project.exportState(true)).resources);
        for (const field of ["stdout", "stderr"]) {
            for (const s of secrets) for (const f of fragmentsOf(s.value)) expect(install.outputs![field].includes(f)).toBe(false);
        }
    });

    it("what pulumi up printed (default logging) holds no key material", async () => {
        const secrets = secretsOf((await project.exportState(true)).resources);
        const text = printed.join("\n");
        expect(text).toMatch(/created|replaced/);
        expect(text).not.toMatch(/PRIVATE KEY/);
        for (const s of secrets) for (const f of fragmentsOf(s.value)) expect(text.includes(f)).toBe(false);
    });

    it("a failing install (port taken) fails pulumi up with nginx's reason, and neither the message nor the state holds key material", async () => {
        const busy = net.createServer();
        await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", () => resolve()));
        const busyPort = (busy.address() as net.AddressInfo).port;
        try {
            await project.setConfig("site.listen.port", busyPort);
            const failed = await project.pulumi(["up", "--yes"], { allowFailure: true });
            expect(failed.code).not.toBe(0);
            const text = failed.stdout + failed.stderr;
            expect(text).toMatch(/Address already in use|bind\(\) to 127\.0\.0\.1/);
            const secrets = secretsOf((await project.exportState(true)).resources);
            for (const s of secrets) for (const f of fragmentsOf(s.value)) expect(text.includes(f)).toBe(false);
            const files = filesUnder(project.backend);
            for (const file of files) {
                const stored = fs.readFileSync(file, "latin1");
                for (const s of secrets) for (const f of fragmentsOf(s.value)) expect(stored.includes(f)).toBe(false);
            }
        } finally {
            busy.close();
        }
    });

    it("pulumi stack output --show-secrets gives the bundles, which open with their passwords", async () => {
        const outputs = await project.outputs(true);
        for (const name of ["alice", "bob"]) {
            const { pkcs12Base64, password } = outputs.clients[name];
            const file = path.join(project.root, `${name}.p12`);
            fs.writeFileSync(file, Buffer.from(pkcs12Base64, "base64"), { mode: 0o600 });
            const info = execFileSync("openssl", ["pkcs12", "-in", file, "-passin", "env:PW", "-nokeys", "-info"], { env: { ...process.env, PW: password }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
            expect(info).toMatch(new RegExp(`subject=.*CN ?= ?${name}`));
        }
        const hidden = await project.outputs(false);
        expect(hidden.clients.alice.pkcs12Base64).toBe("[secret]");
    });
});
