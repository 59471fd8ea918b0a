/**
 * InputError / InputErrors keep their message, stack and Error-ness when thrown from code that went
 * through pulumi.runtime.serializeFunction (every dynamic provider).
 */
import * as pulumi from "@pulumi/pulumi";
import { InputError, InputErrors, throwIfAny } from "../../../components/util/errors";

function caught(fn: () => unknown): any {
    try {
        fn();
    } catch (e) {
        return e;
    }
    throw new Error("expected a throw");
}

async function deserialize<T>(factory: () => T): Promise<T> {
    const sf = await pulumi.runtime.serializeFunction(factory);
    const mod = { exports: {} as Record<string, any> };
    new Function("exports", "require", "module", sf.text)(mod.exports, require, mod);
    return mod.exports[sf.exportName]() as T;
}

describe("in normal code", () => {
    it("is exactly an InputError / InputErrors", () => {
        const e = new InputError("a.b", "is bad", "make it good");
        expect(e).toBeInstanceOf(InputError);
        expect(e.message).toBe("a.b: is bad. Fix: make it good");
        expect(e.input).toBe("a.b");
        const many = caught(() => throwIfAny([e, new InputError("c", "is missing", "add it")]));
        expect(many).toBeInstanceOf(InputErrors);
        expect(many.message).toBe("2 invalid inputs:\n  - a.b: is bad. Fix: make it good\n  - c: is missing. Fix: add it");
        expect(caught(() => throwIfAny([e]))).toBe(e);
        expect(() => throwIfAny([])).not.toThrow();
    });
});

describe("after serializeFunction", () => {
    it("keeps message, name, input, stack and instanceof Error", async () => {
        const throwOne = await deserialize(() => () => {
            throw new InputError("clients[0].pkcs12.password", "is empty", "pass one");
        });
        const e = caught(throwOne);
        expect(e).toBeInstanceOf(Error);
        expect(e.message).toBe("clients[0].pkcs12.password: is empty. Fix: pass one");
        expect(e.name).toBe("InputError");
        expect(e.input).toBe("clients[0].pkcs12.password");
        expect(typeof e.stack).toBe("string");
        expect(String(e)).toBe("InputError: clients[0].pkcs12.password: is empty. Fix: pass one");
    });

    it("keeps the combined message of several errors", async () => {
        const throwMany = await deserialize(() => () => throwIfAny([new InputError("a", "is bad", "fix a"), new InputError("b", "is bad", "fix b")]));
        const e = caught(throwMany);
        expect(e).toBeInstanceOf(Error);
        expect(e.name).toBe("InputErrors");
        expect(e.message).toBe("2 invalid inputs:\n  - a: is bad. Fix: fix a\n  - b: is bad. Fix: fix b");
        expect(e.errors).toHaveLength(2);
    });
});
