/**
 * npm run export-bundles -- [--stack NAME] [--from outputs.json] [--out DIR] [--client NAME ...] [--force]
 *
 * Reads `pulumi stack output --json --show-secrets` (or a recorded copy with --from) and writes, per
 * client, <name>.p12 and <name>.password (0600), ca.crt, a Chrome policy and IMPORT.md into ./bundles.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import { parseArgs } from "util";
import { ExportError, exportFiles, parseStackOutputs, writeBundles } from "./exportBundles";

function main(argv: string[]): number {
    const { values } = parseArgs({
        args: argv,
        options: {
            stack: { type: "string" },
            from: { type: "string" },
            out: { type: "string", default: "bundles" },
            client: { type: "string", multiple: true },
            force: { type: "boolean", default: false },
            help: { type: "boolean", short: "h", default: false },
        },
        strict: true,
    });
    if (values.help) {
        process.stdout.write("usage: npm run export-bundles -- [--stack NAME] [--from outputs.json] [--out DIR] [--client NAME ...] [--force]\n");
        return 0;
    }
    let json: string;
    let source: string;
    if (values.from) {
        source = values.from;
        json = fs.readFileSync(values.from, "utf8");
    } else {
        const args = ["stack", "output", "--json", "--show-secrets", ...(values.stack ? ["--stack", values.stack] : [])];
        source = `pulumi ${args.join(" ")}`;
        try {
            json = execFileSync("pulumi", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        } catch (e) {
            const err = e as { code?: string; stderr?: string };
            throw new ExportError(err.code === "ENOENT" ? "the pulumi CLI is not on PATH. Fix: install it, or pass --from <recorded outputs.json>" : `${source} failed: ${err.stderr ?? e}`);
        }
    }
    const outputs = parseStackOutputs(json, source);
    const files = exportFiles(outputs, values.out!, values.client);
    writeBundles(files, values.out!, values.force!);
    for (const f of files) process.stdout.write(`wrote ${f.path} (${(f.mode & 0o777).toString(8)})\n`);
    return 0;
}

try {
    process.exitCode = main(process.argv.slice(2));
} catch (e) {
    process.stderr.write(`export-bundles: ${e instanceof ExportError || (e as Error).name === "TypeError" ? (e as Error).message : (e as Error).stack}\n`);
    process.exitCode = 1;
}
