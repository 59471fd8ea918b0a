/** Small wrappers around the openssl CLI for the revocation tests. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const made: string[] = [];

export function tmpDir(label: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `revocation-${label}-`));
    made.push(dir);
    return dir;
}

/** Removes every directory tmpDir made (call in afterAll). */
export function cleanupTmp(): void {
    for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export function write(dir: string, name: string, text: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
}

export function openssl(args: string[]): { ok: boolean; out: string } {
    const r = spawnSync("openssl", args, { encoding: "utf8" });
    return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** `openssl crl -verify -CAfile` on a CRL (signature check) plus its text dump. */
export function crlText(dir: string, crlPem: string, caPem: string): { verified: boolean; text: string } {
    const crl = write(dir, `c-${Math.random().toString(16).slice(2)}.crl`, crlPem);
    const ca = write(dir, `ca-${Math.random().toString(16).slice(2)}.pem`, caPem);
    const r = openssl(["crl", "-in", crl, "-noout", "-text", "-verify", "-CAfile", ca]);
    return { verified: r.ok && /verify OK/.test(r.out), text: r.out };
}

/** Splits a PEM bundle into its blocks. */
export function pemBlocks(bundle: string): string[] {
    return bundle.match(/-----BEGIN [^-]+-----[\s\S]+?-----END [^-]+-----\n?/g) ?? [];
}
