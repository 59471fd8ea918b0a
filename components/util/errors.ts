/**
 * An error in a user-supplied input, raised while components are being constructed
 * (so `pulumi preview` fails before any resource is registered).
 *
 * The message always names the input (as a dotted path such as `clients[2].commonName`)
 * and says how to fix it.
 */
export class InputError extends Error {
    /** Dotted path of the offending input, e.g. `clients[1].name`. */
    readonly input: string;
    /** Pulumi's mark of a RunError (duck-typed, so this module needs no Pulumi): the engine prints the message, not a stack trace. */
    readonly __pulumiRunError = true;

    constructor(input: string, problem: string, fix: string) {
        // A backstop for messages that echo a value without showValue: no part may flood a log.
        const path = cutText(input, MAX_INPUT_PATH_CHARS);
        const message = `${path}: ${cutText(problem, MAX_MESSAGE_PART_CHARS)}. Fix: ${cutText(fix, MAX_MESSAGE_PART_CHARS)}`;
        super(message);
        keepErrorShape(this, "InputError", message);
        this.input = path;
    }
}

/** The most characters of a user value a message echoes: enough to recognize it, never a flood. */
export const MAX_ECHOED_CHARS = 80;
/** Longest input path and longest problem or fix an InputError keeps (values are echoed much shorter). */
export const MAX_INPUT_PATH_CHARS = 200;
export const MAX_MESSAGE_PART_CHARS = 1000;

/**
 * A user value as messages echo it: a string JSON-quoted (blanks and control characters show), other
 * values as JSON (numbers as JavaScript prints them: NaN, Infinity); anything longer than
 * {@link MAX_ECHOED_CHARS} characters is cut, marked with "…" and its full length.
 */
export function showValue(value: unknown): string {
    if (typeof value === "string") {
        const head = firstCodePoints(value, MAX_ECHOED_CHARS);
        return head === undefined ? quote(value) : `${quote(head)}… (${value.length} characters)`;
    }
    return cutText(plainText(value), MAX_ECHOED_CHARS);
}

/** JSON quoting, plus escapes for the invisible characters JSON keeps (a U+202E would reverse the message itself). */
function quote(text: string): string {
    return JSON.stringify(text).replace(/[\p{C}\u2028\u2029]/gu, (ch) => {
        const code = (ch.codePointAt(0) ?? 0).toString(16).toUpperCase();
        return ch.length === 1 ? `\\u${code.padStart(4, "0")}` : `\\u{${code}}`;
    });
}

function plainText(value: unknown): string {
    if (value === undefined || typeof value === "number" || typeof value === "bigint" || typeof value === "symbol" || typeof value === "function") {
        return typeof value === "function" ? "a function" : String(value);
    }
    try {
        return JSON.stringify(value) ?? String(value);
    } catch {
        return String(value); // e.g. a circular object
    }
}

/** `text` itself when it has at most `max` characters, else its first `max` characters, "…" and its length. */
export function cutText(text: string, max: number): string {
    const head = firstCodePoints(text, max);
    return head === undefined ? text : `${head}… (${text.length} characters)`;
}

/** The first `max` code points of `text` (never half a surrogate pair), or undefined when it is not longer. */
function firstCodePoints(text: string, max: number): string | undefined {
    if (text.length <= max) return undefined;
    let units = 0;
    let count = 0;
    for (const ch of text) {
        if (count === max) return text.slice(0, units);
        units += ch.length;
        count++;
    }
    return undefined;
}

/** Collects several input errors so a user sees all of them in one preview. */
export class InputErrors extends Error {
    /** As on {@link InputError}: printed by the engine without a stack trace. */
    readonly __pulumiRunError = true;
    readonly errors: InputError[];

    constructor(errors: InputError[]) {
        const message = errors.length === 1 ? errors[0].message : `${errors.length} invalid inputs:\n` + errors.map((e) => `  - ${e.message}`).join("\n");
        super(message);
        keepErrorShape(this, "InputErrors", message);
        this.errors = errors;
    }
}

/**
 * Dynamic providers are serialized with `pulumi.runtime.serializeFunction`, which rewrites these
 * classes as plain functions: the `super` call (`Error.call(this, message)`) then sets nothing on
 * `this`, and the prototype is no longer linked to Error.prototype, so a thrown error would print as
 * "[object Object]". Restore the link, the message and the stack when that happened; in normal code
 * this only sets the name.
 */
function keepErrorShape(error: Error, name: string, message: string): void {
    if (!(error instanceof Error)) {
        const proto = Object.getPrototypeOf(error);
        if (proto && proto !== Object.prototype) Object.setPrototypeOf(proto, Error.prototype);
    }
    if (error.message !== message) {
        Object.defineProperty(error, "message", { value: message, writable: true, configurable: true, enumerable: false });
        if (typeof Error.captureStackTrace === "function") Error.captureStackTrace(error, keepErrorShape);
    }
    error.name = name;
}

/** Throws when `errors` is non-empty; a single error is thrown as itself. */
export function throwIfAny(errors: InputError[]): void {
    if (errors.length === 1) {
        throw errors[0];
    }
    if (errors.length > 1) {
        throw new InputErrors(errors);
    }
}
