import * as https from "https";
import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { judgeServedRelease, servedReleaseProvider, ServedReleaseOutputs } from "../../../components/nginx/drift";
import { issue } from "../../support/x509";

describe("judgeServedRelease", () => {
    it.each([
        [{ release: "abc" }, "served"],
        [{ release: "def" }, "drift"],
        [{ errorCode: "ECONNREFUSED" }, "drift"],
        [{ errorCode: "NO_RELEASE_HEADER" }, "drift"],
        [{ errorCode: "ETIMEDOUT" }, "unknown"],
        [{ errorCode: "EHOSTUNREACH" }, "unknown"],
        [{ errorCode: "ENOTFOUND" }, "unknown"],
    ])("%j -> %s", (seen, verdict) => {
        expect(judgeServedRelease("abc", seen)).toBe(verdict);
    });
});

describe("ServedRelease provider", () => {
    type P = Required<Pick<pulumi.dynamic.ResourceProvider, "diff" | "create" | "update" | "read">>;
    const provider = servedReleaseProvider as P;
    let server: https.Server;
    let port: number;
    let served: string | undefined = "r1";

    beforeAll(async () => {
        const cert = await issue({ subject: "CN=localhost", dnsNames: ["localhost"], usage: "server" });
        server = https.createServer({ cert: cert.certPem, key: cert.key.privateKeyPem }, (_req, res) => {
            if (served) res.setHeader("X-Mtls-Release", served);
            res.writeHead(400).end();
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
        port = (server.address() as net.AddressInfo).port;
    });

    afterAll(async () => {
        await new Promise((r) => server.close(r));
    });

    const inputs = () => ({ host: "127.0.0.1", port, serverName: "localhost", releaseId: "r1" });

    it("creates with no restores and probes nothing until a refresh; diff and update keep the count", async () => {
        const { id, outs } = await provider.create(inputs());
        expect(outs).toMatchObject({ restores: 0, lastDrift: "" });
        expect(await provider.diff(id, outs, inputs())).toMatchObject({ changes: false });
        expect(await provider.diff(id, outs, { ...inputs(), releaseId: "r2" })).toMatchObject({ changes: true, replaces: [] });
        const updated = await provider.update(id, { ...outs, restores: 2 }, { ...inputs(), releaseId: "r2" });
        expect(updated.outs).toMatchObject({ releaseId: "r2", restores: 2 });
    });

    it("a refresh counts a restore when another release answers, when nothing listens, or when the answer is not ours", async () => {
        const { id, outs } = await provider.create(inputs());
        served = "r1";
        expect((await provider.read(id, outs)).props).toEqual(outs);
        served = "r0";
        const other = (await provider.read(id, outs)).props as ServedReleaseOutputs;
        expect(other.restores).toBe(1);
        expect(other.lastDrift).toMatch(/release r0 served, expected r1$/);
        served = undefined;
        expect(((await provider.read(id, other)).props as ServedReleaseOutputs).restores).toBe(2);
        const closed = await new Promise<number>((resolve) => {
            const s = net.createServer().listen(0, "127.0.0.1", () => {
                const p = (s.address() as net.AddressInfo).port;
                s.close(() => resolve(p));
            });
        });
        const refused = (await provider.read(id, { ...outs, port: closed })).props as ServedReleaseOutputs;
        expect(refused.restores).toBe(1);
        expect(refused.lastDrift).toMatch(/connection ECONNREFUSED/);
    });

    it("serializes with serializeFunction (self-contained) and still reads", async () => {
        const sf = await pulumi.runtime.serializeFunction(() => servedReleaseProvider);
        const mod: { exports: any } = { exports: {} };
        new Function("exports", "require", "module", sf.text)(mod.exports, require, mod);
        const copy = mod.exports[sf.exportName]() as P;
        served = "r9";
        const { id, outs } = await copy.create(inputs());
        expect(((await copy.read(id, outs)).props as ServedReleaseOutputs).restores).toBe(1);
        served = undefined; // every verdict path, in the serialized copy
        expect(((await copy.read(id, outs)).props as ServedReleaseOutputs).restores).toBe(1);
        served = "r1";
        expect((await copy.read(id, outs)).props).toEqual(outs);
    });
});
