/**
 * Reads PKCS#12 files with real tools (OpenSSL 3, Java keytool, NSS pk12util/certutil) for the
 * PKCS#12 tests. Passwords go through 0600 files, never through argv or logs; every helper works in a
 * temp dir the caller removes with `cleanup()`.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface ToolResult {
    status: number | null;
    stdout: string;
    stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): ToolResult {
    const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: "utf8", timeout: 60_000 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like `run` but throws (with the tool's stderr, which never holds the password) on a non-zero exit. */
export function runOk(cmd: string, args: string[], opts: { cwd?: string } = {}): ToolResult {
    const r = run(cmd, args, opts);
    if (r.status !== 0) {
        throw new Error(`${cmd} ${args[0]} exited ${r.status}: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    return r;
}

/** A temp workspace holding a .p12 and its password file. */
export class P12Workspace {
    readonly dir: string;

    constructor(prefix = "pkcs12-test-") {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    }

    /** Writes `der` as `<name>.p12` and `password` as `<name>.pw` (0600); returns both paths. */
    write(name: string, der: Buffer, password: string): { p12: string; passwordFile: string } {
        const p12 = path.join(this.dir, `${name}.p12`);
        const passwordFile = path.join(this.dir, `${name}.pw`);
        fs.writeFileSync(p12, der, { mode: 0o600 });
        fs.writeFileSync(passwordFile, password + "\n", { mode: 0o600 });
        return { p12, passwordFile };
    }

    /** Writes only a password file `<name>.pw` (0600), e.g. a wrong password. */
    writePassword(name: string, password: string): string {
        const passwordFile = path.join(this.dir, `${name}.pw`);
        fs.writeFileSync(passwordFile, password + "\n", { mode: 0o600 });
        return passwordFile;
    }

    cleanup(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** `openssl pkcs12 -info -noout`: structure summary (MAC, bag encryption), verifies the MAC. */
export function opensslInfo(p12: string, passwordFile: string): ToolResult {
    return run("openssl", ["pkcs12", "-info", "-noout", "-in", p12, "-passin", `file:${passwordFile}`]);
}

export interface OpensslBag {
    kind: "certificate" | "key";
    /** The bag's attributes as OpenSSL prints them, e.g. { friendlyName: "alice", localKeyID: "F9 A2 ..." }. */
    attributes: Record<string, string>;
    pem: string;
}

export interface OpensslDump {
    /** stderr of -info (MAC and bag encryption lines). */
    info: string;
    /** PEM certificates in bag order. */
    certificates: string[];
    /** The private key (PKCS#8 PEM) as OpenSSL decrypted it. */
    privateKeyPem: string;
    /** Every bag in output order with its attributes. */
    bags: OpensslBag[];
}

/** Decrypts everything with `openssl pkcs12 -info -nodes` (no -legacy) and splits the output. */
export function opensslDump(p12: string, passwordFile: string): OpensslDump {
    const r = runOk("openssl", ["pkcs12", "-info", "-nodes", "-in", p12, "-passin", `file:${passwordFile}`]);
    const bags: OpensslBag[] = [];
    let attributes: Record<string, string> = {};
    let inBagAttributes = false;
    let pem: string[] | undefined;
    for (const line of r.stdout.split("\n")) {
        if (pem) {
            pem.push(line);
            if (line.startsWith("-----END ")) {
                bags.push({ kind: pem[0].includes("CERTIFICATE") ? "certificate" : "key", attributes, pem: pem.join("\n") + "\n" });
                pem = undefined;
                attributes = {};
            }
        } else if (line.startsWith("Bag Attributes")) {
            attributes = {};
            inBagAttributes = true;
        } else if (inBagAttributes && /^\s+[A-Za-z]+:/.test(line)) {
            const m = /^\s+([A-Za-z]+):\s?(.*)$/.exec(line)!;
            attributes[m[1]] = m[2].trim();
        } else if (line.startsWith("-----BEGIN ")) {
            pem = [line];
            inBagAttributes = false;
        } else {
            inBagAttributes = false;
        }
    }
    const keys = bags.filter((b) => b.kind === "key");
    if (keys.length !== 1) throw new Error(`expected one private key in the bundle, found ${keys.length}`);
    return { info: r.stderr, certificates: bags.filter((b) => b.kind === "certificate").map((b) => b.pem), privateKeyPem: keys[0].pem, bags };
}

/** SPKI DER of a PEM certificate's or private key's public key, for comparisons. */
export function spkiOf(pem: string): string {
    const key = pem.includes("CERTIFICATE") ? new crypto.X509Certificate(pem).publicKey : crypto.createPublicKey(pem);
    return key.export({ type: "spki", format: "der" }).toString("hex");
}

/** "F9 A2 11 ..." as OpenSSL prints localKeyID: SHA-1 of the certificate DER. */
export function opensslKeyId(certPem: string): string {
    return crypto
        .createHash("sha1")
        .update(new crypto.X509Certificate(certPem).raw)
        .digest("hex")
        .toUpperCase()
        .match(/../g)!
        .join(" ");
}

export interface KeytoolEntry {
    alias: string;
    entryType: string;
    chainLength: number;
    owners: string[];
}

/** `keytool -list -v -storetype PKCS12`; password via -storepass:file. */
export function keytoolList(p12: string, passwordFile: string): { result: ToolResult; entries: KeytoolEntry[] } {
    // English messages, UTF-8 output whatever the locale (aliases may be non-ASCII).
    const result = run("keytool", ["-J-Duser.language=en", "-J-Dsun.stdout.encoding=UTF-8", "-list", "-v", "-storetype", "PKCS12", "-keystore", p12, "-storepass:file", passwordFile]);
    const entries: KeytoolEntry[] = [];
    for (const block of result.stdout.split(/^Alias name: /m).slice(1)) {
        entries.push({
            alias: block.split("\n")[0].trim(),
            entryType: /^Entry type: (.*)$/m.exec(block)?.[1].trim() ?? "",
            chainLength: Number(/^Certificate chain length: (\d+)$/m.exec(block)?.[1] ?? "0"),
            owners: [...block.matchAll(/^Owner: (.*)$/gm)].map((m) => m[1].trim()),
        });
    }
    return { result, entries };
}

/** Imports into a fresh NSS database (empty DB password); returns pk12util's result and `certutil -L`/`-K`. */
export function nssImport(workspaceDir: string, p12: string, passwordFile: string): { importResult: ToolResult; certList: string; keyList: string } {
    const db = fs.mkdtempSync(path.join(workspaceDir, "nssdb-"));
    runOk("certutil", ["-N", "-d", `sql:${db}`, "--empty-password"]);
    const importResult = run("pk12util", ["-i", p12, "-d", `sql:${db}`, "-w", passwordFile]);
    const certList = run("certutil", ["-L", "-d", `sql:${db}`]).stdout;
    const keyList = run("certutil", ["-K", "-d", `sql:${db}`]).stdout;
    return { importResult, certList, keyList };
}
