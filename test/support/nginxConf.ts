/**
 * A small nginx config parser for tests: the tokenizer is a transcription of nginx 1.22's
 * `ngx_conf_read_token` (src/core/ngx_conf_file.c), so it splits a file into directives exactly
 * where nginx does (quotes, backslash escapes, `#` comments only at the start of a token, `${var}`
 * not ending a word at `{`, `"..")` in `if` conditions). It works on bytes (latin1 internally) and
 * hands back arguments as UTF-8 strings.
 *
 * It knows nothing about directives: `map`, `types`, `geo`, `split_clients` blocks hold entries, not
 * directives, and {@link outline} labels them as such.
 *
 * The second half holds fixtures for config tests: a real PKI with CRLs, and `nginx -t` of rendered sites.
 */
import "reflect-metadata"; // before @peculiar/x509 (tsyringe needs it)
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as x509 from "@peculiar/x509";
import { renderNginxConf } from "../../components/nginx/render";
import { nginxTest } from "./nginx";
import { issue, makeHierarchy, writeFixture, type FixtureCert } from "./x509";

/** One directive (or one entry of a map/types block). */
export interface ConfNode {
    name: string;
    args: string[];
    /** Line of the directive's first token (1-based). */
    line: number;
    /** Children when the directive opens a block. */
    block?: ConfNode[];
}

export class ConfSyntaxError extends Error {
    constructor(message: string, readonly line: number) {
        super(`${message} in line ${line}`);
        this.name = "ConfSyntaxError";
    }
}

/** One step of the tokenizer: the words of a directive and what ended it. */
export type TokenResult = { kind: "ok" | "block-start" | "block-done" | "eof"; args: string[]; line: number };

const CR = "\r";
const LF = "\n";

class Tokenizer {
    private pos = 0;
    line = 1;
    constructor(private readonly text: string) {}

    /** ngx_conf_read_token: reads one directive's words up to ";", "{" or "}". */
    read(): TokenResult {
        const args: string[] = [];
        let found = false;
        let needSpace = false;
        let lastSpace = true;
        let sharpComment = false;
        let variable = false;
        let quoted = false;
        let sQuoted = false;
        let dQuoted = false;
        let start = this.pos;
        let startLine = this.line;
        const text = this.text;

        for (;;) {
            if (this.pos >= text.length) {
                // nginx only complains when a word was completed; a trailing unterminated word is dropped.
                if (args.length > 0) {
                    throw new ConfSyntaxError('unexpected end of file, expecting ";" or "}"', this.line);
                }
                return { kind: "eof", args, line: this.line };
            }
            const ch = text[this.pos++];
            if (ch === LF) {
                this.line++;
                if (sharpComment) sharpComment = false;
            }
            if (sharpComment) continue;
            if (quoted) {
                quoted = false;
                continue;
            }
            if (needSpace) {
                if (ch === " " || ch === "\t" || ch === CR || ch === LF) {
                    lastSpace = true;
                    needSpace = false;
                    continue;
                }
                if (ch === ";") return { kind: "ok", args, line: startLine };
                if (ch === "{") return { kind: "block-start", args, line: startLine };
                if (ch === ")") {
                    lastSpace = true;
                    needSpace = false;
                } else {
                    throw new ConfSyntaxError(`unexpected "${ch}"`, this.line);
                }
            }
            if (lastSpace) {
                if (ch === " " || ch === "\t" || ch === CR || ch === LF) continue;
                start = this.pos - 1;
                if (args.length === 0) startLine = this.line;
                switch (ch) {
                    case ";":
                    case "{":
                        if (args.length === 0) throw new ConfSyntaxError(`unexpected "${ch}"`, this.line);
                        return { kind: ch === "{" ? "block-start" : "ok", args, line: startLine };
                    case "}":
                        if (args.length !== 0) throw new ConfSyntaxError('unexpected "}"', this.line);
                        return { kind: "block-done", args, line: this.line };
                    case "#":
                        sharpComment = true;
                        continue;
                    case "\\":
                        quoted = true;
                        lastSpace = false;
                        continue;
                    case '"':
                        start++;
                        dQuoted = true;
                        lastSpace = false;
                        continue;
                    case "'":
                        start++;
                        sQuoted = true;
                        lastSpace = false;
                        continue;
                    case "$":
                        variable = true;
                        lastSpace = false;
                        continue;
                    default:
                        lastSpace = false;
                }
            } else {
                if (ch === "{" && variable) continue;
                variable = false;
                if (ch === "\\") {
                    quoted = true;
                    continue;
                }
                if (ch === "$") {
                    variable = true;
                    continue;
                }
                if (dQuoted) {
                    if (ch === '"') {
                        dQuoted = false;
                        needSpace = true;
                        found = true;
                    }
                } else if (sQuoted) {
                    if (ch === "'") {
                        sQuoted = false;
                        needSpace = true;
                        found = true;
                    }
                } else if (ch === " " || ch === "\t" || ch === CR || ch === LF || ch === ";" || ch === "{") {
                    lastSpace = true;
                    found = true;
                }
                if (found) {
                    args.push(unescape(text.slice(start, this.pos - 1)));
                    if (ch === ";") return { kind: "ok", args, line: startLine };
                    if (ch === "{") return { kind: "block-start", args, line: startLine };
                    found = false;
                }
            }
        }
    }
}

/** The word-copy loop of ngx_conf_read_token: `\" \' \\` lose the backslash, `\t \r \n` become control characters. */
function unescape(raw: string): string {
    let out = "";
    for (let i = 0; i < raw.length; ) {
        if (raw[i] === "\\") {
            const next = raw[i + 1];
            if (next === '"' || next === "'" || next === "\\") {
                i++;
            } else if (next === "t" || next === "r" || next === "n") {
                out += next === "t" ? "\t" : next === "r" ? "\r" : "\n";
                i += 2;
                continue;
            }
        }
        out += raw[i++];
    }
    return Buffer.from(out, "latin1").toString("utf8");
}

/**
 * Reads a config one directive at a time, as nginx does (it acts on each directive before reading
 * the next, so the first error it reports may come before a later syntax error). `read()` throws
 * {@link ConfSyntaxError} where nginx would report a syntax error.
 */
export function confTokenizer(source: string | Buffer): { read(): TokenResult } {
    const bytes = typeof source === "string" ? Buffer.from(source, "utf8") : source;
    return new Tokenizer(bytes.toString("latin1"));
}

/** Parses a config file's text (or bytes) into directives, as nginx's ngx_conf_parse would split it. */
export function parseNginxConf(source: string | Buffer): ConfNode[] {
    const tokenizer = confTokenizer(source) as Tokenizer;
    const parseBlock = (inBlock: boolean): ConfNode[] => {
        const nodes: ConfNode[] = [];
        for (;;) {
            const token = tokenizer.read();
            if (token.kind === "eof") {
                if (inBlock) throw new ConfSyntaxError('unexpected end of file, expecting "}"', tokenizer.line);
                return nodes;
            }
            if (token.kind === "block-done") {
                if (!inBlock) throw new ConfSyntaxError('unexpected "}"', token.line);
                return nodes;
            }
            const [name, ...args] = token.args;
            const node: ConfNode = { name, args, line: token.line };
            if (token.kind === "block-start") node.block = parseBlock(true);
            nodes.push(node);
        }
    };
    return parseBlock(false);
}

/** Blocks whose children are data entries handled by the directive itself, not directives. */
export const ENTRY_BLOCKS = new Set(["map", "types", "geo", "split_clients", "match"]);

/**
 * The structure of a config: one line per directive, `context/name/argc`, e.g. `http>server>location>if/return/1`.
 * Entries of {@link ENTRY_BLOCKS} appear as `(entry)`. Two configs with equal outlines have the same
 * directives in the same places with the same numbers of arguments; only argument values may differ.
 */
export function outline(nodes: ConfNode[], context: string[] = []): string[] {
    const out: string[] = [];
    const ctx = context.join(">");
    const inEntryBlock = context.length > 0 && ENTRY_BLOCKS.has(context[context.length - 1]);
    for (const node of nodes) {
        const name = inEntryBlock ? "(entry)" : node.name;
        out.push(`${ctx}/${name}/${node.args.length}${node.block ? "{}" : ""}`);
        if (node.block) out.push(...outline(node.block, [...context, node.name]));
    }
    return out;
}

/** Directives named `name` anywhere in the tree (depth first), with their context. */
export function findDirectives(nodes: ConfNode[], name: string, context: string[] = []): { node: ConfNode; context: string[] }[] {
    const found: { node: ConfNode; context: string[] }[] = [];
    for (const node of nodes) {
        if (node.name === name) found.push({ node, context });
        if (node.block) found.push(...findDirectives(node.block, name, [...context, node.name]));
    }
    return found;
}

/** Directive names per context: `{ "http>server": ["listen", "server_name", ...], ... }` (entries excluded). */
export function directivesByContext(nodes: ConfNode[], context: string[] = []): Record<string, string[]> {
    const result: Record<string, string[]> = {};
    const walk = (list: ConfNode[], ctx: string[]) => {
        if (ctx.length > 0 && ENTRY_BLOCKS.has(ctx[ctx.length - 1])) return;
        const key = ctx.join(">");
        for (const node of list) {
            (result[key] ??= []).push(node.name);
            if (node.block) walk(node.block, [...ctx, node.name]);
        }
    };
    walk(nodes, context);
    return result;
}

// ---------------------------------------------------------------------------------------------
// Fixtures for config tests: a real PKI on disk (with CRLs) and `nginx -t` of rendered sites.
// ---------------------------------------------------------------------------------------------


/** A CRL (PEM) issued by `issuer`, revoking `revokedSerials` (hex). */
export async function makeCrl(issuer: FixtureCert, revokedSerials: string[] = [], opts: { thisUpdate?: Date; nextUpdate?: Date } = {}): Promise<string> {
    const thisUpdate = opts.thisUpdate ?? new Date(Date.now() - 60_000);
    const signingAlgorithm = issuer.key.type.startsWith("rsa")
        ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }
        : { name: "ECDSA", hash: issuer.key.type === "ecdsa-p384" ? "SHA-384" : "SHA-256" };
    const crl = await x509.X509CrlGenerator.create({
        issuer: issuer.cert.subject,
        thisUpdate,
        nextUpdate: opts.nextUpdate ?? new Date(thisUpdate.getTime() + 7 * 86400_000),
        signingAlgorithm,
        signingKey: issuer.key.keys.privateKey,
        entries: revokedSerials.map((serialNumber) => ({ serialNumber, revocationDate: thisUpdate })),
    });
    // @peculiar labels the PEM "CRL"; OpenSSL (and so nginx) only reads "X509 CRL".
    return crl.toString("pem").replace(/-----(BEGIN|END) CRL-----/g, "-----$1 X509 CRL-----") + "\n";
}

/** Files of {@link writeTestPki}. */
export interface TestPki {
    dir: string;
    root: FixtureCert;
    intermediate: FixtureCert;
    server: FixtureCert;
    files: {
        serverCert: string;
        serverKey: string;
        rootCa: string;
        intermediateCa: string;
        /** CRLs of the root and the intermediate, concatenated (what `ssl_crl` needs with an intermediate). */
        crl: string;
    };
}

/** A root, an intermediate, a server certificate for localhost/127.0.0.1 and empty CRLs, written to `dir`. */
export async function writeTestPki(dir: string): Promise<TestPki> {
    const { root, intermediate } = await makeHierarchy({ name: "Config Test", intermediate: true });
    const server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, root);
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    const serverFiles = writeFixture(dir, "server", server);
    const rootFiles = writeFixture(dir, "root", root);
    const intFiles = writeFixture(dir, "intermediate", intermediate!);
    const crl = path.join(dir, "ca.crl.pem");
    fs.writeFileSync(crl, (await makeCrl(root)) + (await makeCrl(intermediate!)));
    return {
        dir,
        root,
        intermediate: intermediate!,
        server,
        files: { serverCert: serverFiles.cert, serverKey: serverFiles.key, rootCa: rootFiles.cert, intermediateCa: intFiles.cert, crl },
    };
}

/**
 * Writes `siteConfs` as include files and a complete nginx.conf (renderNginxConf) under `dir`, and runs
 * `nginx -t` on it. The instance directories (logs, temp) are created first, as an installer would.
 */
export function nginxTestSites(dir: string, siteConfs: string[]): { ok: boolean; output: string; conf: string } {
    fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
    fs.mkdirSync(path.join(dir, "tmp"), { recursive: true });
    const includes = siteConfs.map((text, i) => {
        const file = path.join(dir, `site-${i}.conf`);
        fs.writeFileSync(file, text);
        return file;
    });
    const conf = path.join(dir, "nginx.conf");
    fs.writeFileSync(
        conf,
        renderNginxConf({ prefix: dir, pidFile: path.join(dir, "logs/nginx.pid"), errorLog: path.join(dir, "logs/error.log"), tempDir: path.join(dir, "tmp"), siteIncludes: includes }),
    );
    return { ...nginxTest(dir, conf), conf };
}

/** A short random name for test directories and sites. */
export function shortId(): string {
    return crypto.randomBytes(4).toString("hex");
}
