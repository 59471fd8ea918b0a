import { fakePem } from "../../support/x509";
import * as pulumi from "@pulumi/pulumi";
import { InputError, InputErrors } from "../../../components/util/errors";
import { RevocationList, RevocationListArgs } from "../../../components/revocation/revocationList";

interface Registered {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}
const registered: Registered[] = [];

beforeAll(() => {
    pulumi.runtime.setMocks(
        {
            newResource: (args: pulumi.runtime.MockResourceArgs) => {
                registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                return { id: `${args.name}-id`, state: { ...args.inputs, crlPem: "CRL", trustedCaPem: "CA", changes: [] } };
            },
            call: () => ({}),
        },
        "project",
        "stack",
        false,
    );
});

const base: RevocationListArgs = {
    issuerCertPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    issuerKeyPem: fakePem("PRIVATE KEY", "MIIB"),
    issued: [],
};

function errorOf(args: RevocationListArgs): InputError[] {
    try {
        new RevocationList("bad", args);
    } catch (e) {
        if (e instanceof InputErrors) return e.errors;
        if (e instanceof InputError) return [e];
        throw e;
    }
    throw new Error("no error");
}

describe("RevocationList", () => {
    test("validates plain inputs at construction, naming the input and the fix", () => {
        expect(errorOf({ ...base, crlValidityHours: 0 }).map((e) => e.input)).toEqual(["args.crlValidityHours"]);
        expect(errorOf({ ...base, crlValidityHours: 0 })[0].message).toMatch(/args\.crlValidityHours: 0 is not a positive number of hours\. Fix: /);
        expect(errorOf({ ...base, refreshFraction: 1 }).map((e) => e.input)).toEqual(["args.refreshFraction"]);
        const errors = errorOf({
            ...base,
            revocations: [
                { client: "alice", serial: "0A", reason: "keyCompromise" },
                { reason: "keyCompromise" },
                { serial: "not-hex", reason: "keyCompromise" },
                { client: "bob", reason: "stolen" as never },
            ],
        });
        expect(errors.map((e) => e.input)).toEqual(["args.revocations[0]", "args.revocations[1]", "args.revocations[2].serial", "args.revocations[3].reason"]);
        expect(errors[0].message).toContain("gives both client and serial");
        expect(errors[3].message).toContain("use one of unspecified, keyCompromise");
        expect(errorOf({ ...base, issued: undefined as never }).map((e) => e.input)).toEqual(["args.issued"]);
        const dup = errorOf({ ...base, issued: [{ name: "alice", certPem: "a" }, { name: "bob", certPem: "b" }, { name: "alice", certPem: "c" }] });
        expect(dup.map((e) => e.message)).toEqual([expect.stringMatching(/^args\.issued\[2\]\.name: "alice" is also issued\[0\]\.name\. Fix: /)]);
        expect(registered).toHaveLength(0); // nothing registered before validation passed
    });

    test("unknown (Output) inputs are left to the provider; the resource is a dynamic revocation:RevocationList", async () => {
        const res = new RevocationList("crl", {
            ...base,
            issued: [{ name: "alice", certPem: pulumi.output("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n") }],
            revocations: [{ serial: "0a:1b", reason: "keyCompromise" }, pulumi.output({ client: "bob", reason: "cessationOfOperation" as const })],
            crlValidityHours: pulumi.output(0),
        });
        const crlPem = await new Promise((resolve) => res.crlPem.apply(resolve));
        expect(crlPem).toBe("CRL");
        expect(registered.map((r) => [r.type, r.name])).toEqual([["pulumi-nodejs:dynamic/revocation:RevocationList", "crl"]]);
        expect(registered[0].inputs).toMatchObject({ revokeSuperseded: false, refreshFraction: 0.5 });
        expect(typeof registered[0].inputs.__provider).toBe("string");
        // The key reaches the engine as a secret (the mock sees the secret envelope).
        expect(registered[0].inputs.issuerKeyPem).toEqual({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: base.issuerKeyPem });
    });
});
