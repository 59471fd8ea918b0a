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
        super(`${input}: ${problem}. Fix: ${fix}`);
        this.name = "InputError";
        this.input = input;
    }
}

/** Collects several input errors so a user sees all of them in one preview. */
export class InputErrors extends Error {
    readonly errors: InputError[];

    constructor(errors: InputError[]) {
        super(errors.length === 1 ? errors[0].message : `${errors.length} invalid inputs:\n` + errors.map((e) => `  - ${e.message}`).join("\n"));
        this.name = "InputErrors";
        this.errors = errors;
    }
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
