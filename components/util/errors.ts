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

    constructor(input: string, problem: string, fix: string) {
        const message = `${input}: ${problem}. Fix: ${fix}`;
        super(message);
        keepErrorShape(this, "InputError", message);
        this.input = input;
    }
}

/** Collects several input errors so a user sees all of them in one preview. */
export class InputErrors extends Error {
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
