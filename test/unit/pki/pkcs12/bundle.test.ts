/**
 * Pkcs12Bundle under Pulumi mocks: construction-time validation, what is registered (type token,
 * inputs, secrets), and the outputs when the mock runs the real provider.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { InputError, InputErrors } from "../../../../components/util/errors";
import { Pkcs12Bundle } from "../../../../components/pki/pkcs12/bundle";
import { pkcs12Provider } from "../../../../components/pki/pkcs12/provider";
import { FixtureCert, issue, makeHierarchy } from "../../../support/x509";
import { opensslDump, P12Workspace, spkiOf } from "./p12Tools";

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const TYPE = "pulumi-nodejs:dynamic/pki:Pkcs12Bundle";

interface Registration {
    type: string;
    name: string;
    object: Record<string, any>;
    additionalSecretOutputs: string[];
}

const registrations: Registration[] = [];

/** The engine hands dynamic providers plain values (they do not accept secrets); do the same here. */
function unwrapSecrets(value: any): any {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value !== null && typeof value === "object") {
        if (value[pulumi.runtime.specialSigKey] === SECRET_SIG) return unwrapSecrets(value.value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}
let ws: P12Workspace;
let root: FixtureCert;
let leaf: FixtureCert;

beforeAll(async () => {
    ws = new P12Workspace("pkcs12-bundle-");
    const h = await makeHierarchy({ name: "Bundle" });
    root = h.root;
    leaf = await issue({ subject: "CN=carol", usage: "client" }, root);

    const original = MockMonitor.prototype.registerResource;
    jest.spyOn(MockMonitor.prototype, "registerResource").mockImplementation(function (this: MockMonitor, req: any, callback: any) {
        registrations.push({
            type: req.getType(),
            name: req.getName(),
            object: req.getObject().toJavaScript(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        });
        return original.call(this, req, callback);
    });
    await pulumi.runtime.setMocks(
        {
            // Run the real provider, as the engine would for a dynamic resource.
            newResource: async (args) => {
                if (args.type !== TYPE) return { id: `${args.name}-id`, state: args.inputs };
                const checked = await pkcs12Provider.check!({}, unwrapSecrets(args.inputs));
                if (checked.failures?.length) throw new Error(checked.failures.map((f) => f.reason).join("; "));
                const { id, outs } = await pkcs12Provider.create(checked.inputs);
                return { id, state: outs };
            },
            call: (args) => args.inputs,
        },
        "project",
        "stack",
        false,
    );
});

afterAll(() => {
    ws.cleanup();
    jest.restoreAllMocks();
});

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}

function thrown(fn: () => unknown): Error {
    try {
        fn();
    } catch (e) {
        return e as Error;
    }
    throw new Error("expected the constructor to throw");
}

describe("validation at construction", () => {
    it("rejects a plain invalid profile or password with InputError, before registering anything", async () => {
        const before = registrations.length;
        const profile = thrown(() => new Pkcs12Bundle("bad-profile", { privateKeyPem: leaf.key.privateKeyPem, certificatePem: leaf.certPem, profile: "legacy" as never }));
        expect(profile).toBeInstanceOf(InputError);
        expect(profile.message).toMatch(/^profile: "legacy" is not a PKCS#12 profile/);
        const password = thrown(() => new Pkcs12Bundle("bad-password", { privateKeyPem: leaf.key.privateKeyPem, certificatePem: leaf.certPem, password: "naïve" }));
        expect((password as InputError).input).toBe("password");
        const both = thrown(() => new Pkcs12Bundle("bad-both", { privateKeyPem: "", certificatePem: leaf.certPem, password: "", profile: "x" as never }));
        expect(both).toBeInstanceOf(InputErrors);
        expect((both as InputErrors).errors.map((e) => e.input).sort()).toEqual(["password", "privateKeyPem", "profile"]);
        await new Promise((resolve) => setTimeout(resolve, 200)); // registration is asynchronous
        expect(registrations.length).toBe(before);
    });

    it("leaves Output values to the provider's check", () => {
        expect(
            () =>
                new Pkcs12Bundle("later", {
                    privateKeyPem: pulumi.output(leaf.key.privateKeyPem),
                    certificatePem: pulumi.output(leaf.certPem),
                    profile: pulumi.output("modern" as const),
                    password: pulumi.output("fine-password"),
                }),
        ).not.toThrow();
    });
});

describe("registration and outputs", () => {
    it("registers the dynamic type with secret key and password, and marks pfxBase64/password as secret outputs", async () => {
        const bundle = new Pkcs12Bundle("carol", { privateKeyPem: leaf.key.privateKeyPem, certificatePem: leaf.certPem, chainPem: root.certPem, password: "carol-Password-1" });
        const pfxBase64 = await valueOf(bundle.pfxBase64);
        const reg = registrations.find((r) => r.name === "carol")!;
        expect(reg.type).toBe(TYPE);
        expect(reg.additionalSecretOutputs).toEqual(expect.arrayContaining(["pfxBase64", "password"]));
        expect(reg.object.privateKeyPem).toMatchObject({ [pulumi.runtime.specialSigKey]: SECRET_SIG, value: leaf.key.privateKeyPem });
        expect(reg.object.password).toMatchObject({ [pulumi.runtime.specialSigKey]: SECRET_SIG, value: "carol-Password-1" });
        expect(reg.object.certificatePem).toBe(leaf.certPem);
        expect(reg.object.profile).toBe("compat");
        expect(typeof reg.object.__provider).toBe("string");

        expect(await valueOf(bundle.password)).toBe("carol-Password-1");
        expect(await valueOf(bundle.friendlyName)).toBe("carol");
        expect(await valueOf(bundle.profile)).toBe("compat");
        const { p12, passwordFile } = ws.write("carol", Buffer.from(pfxBase64, "base64"), "carol-Password-1");
        const dump = opensslDump(p12, passwordFile);
        expect(spkiOf(dump.privateKeyPem)).toBe(spkiOf(leaf.certPem));
        expect(dump.certificates).toHaveLength(2);
    });

    it("without a password, the provider's generated one comes out as the password output", async () => {
        const bundle = new Pkcs12Bundle("carol-generated", { privateKeyPem: leaf.key.privateKeyPem, certificatePem: leaf.certPem, profile: "modern", friendlyName: "Carol's laptop" });
        const password = await valueOf(bundle.password);
        expect(password).toMatch(/^[A-Za-z0-9]{24}$/);
        const reg = registrations.find((r) => r.name === "carol-generated")!;
        expect(reg.object.password).toBeUndefined();
        const { p12, passwordFile } = ws.write("carol-generated", Buffer.from(await valueOf(bundle.pfxBase64), "base64"), password);
        expect(opensslDump(p12, passwordFile).bags[0].attributes.friendlyName).toBe("Carol's laptop");
    });
});
