/**
 * Turns the stack's outputs into files a person can use: per client `<name>.p12` and `<name>.password`
 * (0600), `ca.crt`, a Chrome/Chromium AutoSelectCertificateForUrls policy, and short import steps.
 * Pure apart from the file writes in `writeBundles`; the CLI is scripts/export-bundles.ts.
 */
import * as fs from "fs";
import * as path from "path";

export interface ExportedClient {
    /** Subject CN of the certificate (the policy filter); the client name when absent. */
    commonName?: string;
    pkcs12Base64: string;
    password: string;
    fingerprintSha256?: string;
    notAfter?: string;
    renewAt?: string;
    serial?: string;
}

export interface StackOutputsForExport {
    url: string;
    caCertPem: string;
    clients: Record<string, ExportedClient>;
}

export class ExportError extends Error {}

/** What `pulumi stack output --json` prints for a secret without --show-secrets. */
const SECRET = "[secret]";

/** Checks `pulumi stack output --json --show-secrets` output; explains what is missing. */
export function parseStackOutputs(json: string, source: string): StackOutputsForExport {
    let value: unknown;
    try {
        value = JSON.parse(json);
    } catch (e) {
        throw new ExportError(`${source} is not JSON (${(e as Error).message}). Fix: run \`pulumi stack output --json --show-secrets\` on a stack of this project`);
    }
    const o = value as Record<string, any>;
    if (!o || typeof o !== "object" || Array.isArray(o)) {
        throw new ExportError(`${source} holds no stack outputs. Fix: run \`pulumi up\` first`);
    }
    const missing = ["url", "caCertPem", "clients"].filter((k) => o[k] === undefined);
    if (missing.length > 0) {
        throw new ExportError(
            `${source} has no ${missing.map((k) => `\`${k}\``).join(", ")} output${missing.length > 1 ? "s" : ""}: is this a stack of pulumi-mtls-nginx, and has \`pulumi up\` run? Fix: select the right stack (--stack) or run \`pulumi up\``,
        );
    }
    if (o.clients === SECRET) {
        throw new ExportError(`${source}: \`clients\` is hidden as [secret]. Fix: add --show-secrets (pulumi stack output --json --show-secrets)`);
    }
    if (typeof o.clients !== "object" || Array.isArray(o.clients)) {
        throw new ExportError(`${source}: \`clients\` is not an object of clients. Fix: run \`pulumi up\` with this version of the program`);
    }
    for (const [name, c] of Object.entries(o.clients as Record<string, any>)) {
        if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) {
            throw new ExportError(`${source}: client name ${JSON.stringify(name)} is not a safe file name`);
        }
        if (typeof c?.pkcs12Base64 !== "string" || typeof c?.password !== "string" || c.pkcs12Base64 === SECRET || c.password === SECRET) {
            const secretHint = c?.pkcs12Base64 === SECRET || c?.password === SECRET ? " (secrets are hidden: add --show-secrets)" : "";
            throw new ExportError(`${source}: client ${name} has no PKCS#12 bundle or password${secretHint}. Fix: run \`pulumi stack output --json --show-secrets\`, and keep pkcs12 enabled for the client`);
        }
    }
    return o as StackOutputsForExport;
}

/** The origin Chrome's content-setting pattern matches, e.g. `https://localhost:8443`. */
export function originOf(url: string): string {
    return new URL(url).origin;
}

/** A Chrome/Chromium policy that picks this client's certificate for the site without asking. */
export function chromePolicy(url: string, clientCommonName: string): string {
    const rule = { pattern: originOf(url), filter: { SUBJECT: { CN: clientCommonName } } };
    return JSON.stringify({ AutoSelectCertificateForUrls: [JSON.stringify(rule)] }, null, 2) + "\n";
}

export function importSteps(outputs: StackOutputsForExport, names: string[]): string {
    const example = names[0] ?? "<client>";
    return `# Importing your mTLS client certificate

Site: ${outputs.url}
Files: \`<name>.p12\` (your certificate and key), \`<name>.password\` (its password), \`ca.crt\` (the CA).
Keep the .p12 and its password private. Each client has its own.

## macOS (Safari, Chrome, Edge)
1. Double-click \`${example}.p12\`, choose the "login" keychain, paste the password from \`${example}.password\`.
2. Double-click \`ca.crt\`, then in Keychain Access open it and set "When using this certificate" to "Always Trust"
   (only needed when the site's server certificate is issued by this CA).
3. Open the site; pick the certificate when asked. (macOS rejects bundles made with OpenSSL 3's defaults as
   "wrong password": these use the \`compat\` profile unless \`modern\` was chosen.)

## Windows (Edge, Chrome)
1. Double-click \`${example}.p12\` -> Current User -> paste the password -> "Automatically select the certificate store".
2. Double-click \`ca.crt\` -> Install Certificate -> Current User -> "Trusted Root Certification Authorities".

## Firefox (any OS)
Settings -> Privacy & Security -> Certificates -> View Certificates -> Your Certificates -> Import \`${example}.p12\`.
For the CA: Authorities -> Import \`ca.crt\` -> "Trust this CA to identify websites".

## Linux: Chrome/Chromium (NSS database)
    pk12util -i ${example}.p12 -d sql:$HOME/.pki/nssdb -w ${example}.password
    certutil -A -d sql:$HOME/.pki/nssdb -n "mtls-nginx CA" -t "C,," -i ca.crt
To skip the certificate prompt, install \`${example}.chrome-policy.json\` as a managed policy
(/etc/chromium/policies/managed/ or /etc/opt/chrome/policies/managed/).

## curl
    curl --cacert ca.crt --cert-type P12 --cert "${example}.p12:$(cat ${example}.password)" ${outputs.url}
`;
}

export interface ExportFile {
    path: string;
    content: string | Buffer;
    mode: number;
}

/** The files to write for the given clients (all of them by default). */
export function exportFiles(outputs: StackOutputsForExport, outDir: string, only?: string[]): ExportFile[] {
    const names = only && only.length > 0 ? only : Object.keys(outputs.clients).sort();
    for (const name of names) {
        if (!outputs.clients[name]) {
            throw new ExportError(`no client named ${JSON.stringify(name)} in the stack outputs (have: ${Object.keys(outputs.clients).join(", ") || "none"})`);
        }
    }
    const files: ExportFile[] = [{ path: path.join(outDir, "ca.crt"), content: outputs.caCertPem, mode: 0o644 }];
    for (const name of names) {
        const c = outputs.clients[name];
        files.push({ path: path.join(outDir, `${name}.p12`), content: Buffer.from(c.pkcs12Base64, "base64"), mode: 0o600 });
        files.push({ path: path.join(outDir, `${name}.password`), content: c.password, mode: 0o600 });
        files.push({ path: path.join(outDir, `${name}.chrome-policy.json`), content: chromePolicy(outputs.url, c.commonName ?? name), mode: 0o644 });
    }
    files.push({ path: path.join(outDir, "IMPORT.md"), content: importSteps(outputs, names), mode: 0o644 });
    return files;
}

/**
 * Writes the files. Refuses, before writing anything, when one exists and `force` is not set.
 * Secret files are created with mode 0600 from the start (never world-readable, even briefly).
 */
export function writeBundles(files: ExportFile[], outDir: string, force: boolean): void {
    const existing = files.filter((f) => fs.existsSync(f.path)).map((f) => f.path);
    if (existing.length > 0 && !force) {
        throw new ExportError(`refusing to overwrite ${existing.join(", ")}. Fix: pass --force to replace them, or --out to write elsewhere`);
    }
    fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
    for (const f of files) {
        if (force && fs.existsSync(f.path)) fs.rmSync(f.path);
        fs.writeFileSync(f.path, f.content, { mode: f.mode, flag: "wx" });
        fs.chmodSync(f.path, f.mode);
    }
}
