/**
 * POSIX shell quoting helpers (pure).
 *
 * Everything the install scripts embed in their text goes through {@link shQuote}: a value is
 * wrapped in single quotes, inside which a POSIX shell (dash, bash, busybox ash, ksh, zsh) gives
 * no character a special meaning; a single quote in the value is written as `'\''` (close the
 * quote, an escaped quote, reopen). That is the only safe quoting for arbitrary text: double
 * quotes still expand `$`, backquotes and `\`.
 *
 * The scripts themselves are shell files in `./scripts/` ({@link SCRIPTS}): TypeScript only writes a
 * header of such assignments and joins the files ({@link joinScript}).
 */
import * as fs from "fs";
import * as path from "path";

/** Characters a shell word may contain without any quoting (kept readable in generated scripts). */
const BARE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes `value` as ONE shell word that expands to exactly `value`.
 *
 * Throws on NUL, which no argument, variable or file name can hold (it would be silently cut).
 */
export function shQuote(value: string): string {
    if (typeof value !== "string") {
        throw new TypeError(`shQuote: expected a string, got ${typeof value}`);
    }
    if (value.includes("\0")) {
        throw new Error("shQuote: a NUL byte cannot be passed through a shell");
    }
    if (value !== "" && BARE_WORD.test(value)) {
        return value;
    }
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Quotes every word and joins them with spaces: a command line that runs exactly `argv`. */
export function shJoin(argv: readonly string[]): string {
    return argv.map(shQuote).join(" ");
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `NAME='value'`: a shell assignment whose right-hand side is taken literally. */
export function shAssign(name: string, value: string): string {
    if (!SHELL_NAME.test(name)) {
        throw new Error(`shAssign: ${JSON.stringify(name)} is not a shell variable name`);
    }
    return `${name}=${shQuote(value)}`;
}

/**
 * Wraps a script so it runs as root through `sudo -n` (never prompts: a password prompt would
 * hang a Pulumi command; it fails instead with sudo's "a password is required").
 * Standard input passes through sudo unchanged, so the payload still reaches the script.
 * `name` becomes `$0` of the inner shell (it shows in its error messages).
 */
export function sudoWrap(script: string, name = "mtls-nginx"): string {
    return `sudo -n /bin/sh -c ${shQuote(script)} ${shQuote(name)}`;
}

/**
 * Runs a script with `/bin/sh -c` explicitly, whatever the login shell that receives the command
 * string is (an SSH session runs the command with the user's login shell, which may not be POSIX).
 */
export function shWrap(script: string, name = "mtls-nginx"): string {
    return `/bin/sh -c ${shQuote(script)} ${shQuote(name)}`;
}

/**
 * The command that runs `script` inside a running container with `docker exec -i` (stdin kept
 * open so the payload reaches the script). Run it on the Docker host, e.g. with a local.Command.
 */
export function dockerExecWrap(container: string, script: string, opts: { user?: string; docker?: string } = {}): string {
    const argv = [opts.docker ?? "docker", "exec", "-i"];
    if (opts.user !== undefined) {
        argv.push("--user", opts.user);
    }
    argv.push(container, "/bin/sh", "-c", script, "mtls-nginx");
    return shJoin(argv);
}

/** The shell files that make up the scripts (components/nginx/scripts/, copied next to the compiled JS by `npm run build`). */
export const SCRIPT_FILES = [
    "common.sh",
    "decode.sh",
    "decode-main.sh",
    "version.sh",
    "lock.sh",
    "control.sh",
    "live.sh",
    "context.sh",
    "install.sh",
    "uninstall.sh",
    "container-entrypoint.sh",
] as const;

export type ScriptFile = (typeof SCRIPT_FILES)[number];

/** Where the shell files are: next to this module, in the sources as in the compiled package. */
export const SCRIPTS_DIR = path.join(__dirname, "scripts");

/** The text of every shell file, read once when this module loads. */
export const SCRIPTS: Readonly<Record<ScriptFile, string>> = Object.freeze(
    Object.fromEntries(SCRIPT_FILES.map((f) => [f, fs.readFileSync(path.join(SCRIPTS_DIR, f), "utf8")])) as Record<ScriptFile, string>,
);

/** A script: the header lines (comments and {@link shAssign} assignments), then the shell files in order. */
export function joinScript(header: readonly string[], files: readonly ScriptFile[]): string {
    return [...header, ...files.map((f) => SCRIPTS[f])].join("\n");
}
