/**
 * RevocationList through the deployment simulator: the provider runs from its serialized form, across
 * simulated time, the way `pulumi preview` / `pulumi up` would drive it.
 */
import { DeploymentSimulator } from "../../support/engine";
import { RevocationList, IssuedCertificateArgs } from "../../../components/revocation/revocationList";
import { makeHierarchy, issue, FixtureCert } from "../../support/x509";
import { CRL_BACKDATE_MS, normalizeSerial } from "../../../components/revocation/ledger";
import { cleanupTmp, crlText, tmpDir } from "./opensslHelpers";

const HOUR = 3600_000;
afterAll(cleanupTmp);

describe("RevocationList in a simulated deployment", () => {
    let inter: FixtureCert;
    let alice: FixtureCert;
    let bob: FixtureCert;

    beforeAll(async () => {
        inter = (await makeHierarchy({ intermediate: true, name: "Sim" })).intermediate as FixtureCert;
        alice = await issue({ subject: "CN=alice", usage: "client", days: 30 }, inter);
        bob = await issue({ subject: "CN=bob", usage: "client", days: 30 }, inter);
    });

    const program = (issued: IssuedCertificateArgs[]) => () => {
        const list = new RevocationList("crl", { issuerCertPem: inter.certPem, issuerKeyPem: inter.key.privateKeyPem, issued, crlValidityHours: 24 });
        return { crlPem: list.crlPem, nextUpdate: list.nextUpdate, refreshAt: list.refreshAt, revoked: list.revoked, issuers: list.issuers, state: list.state };
    };
    test("create, no-op before refreshAt, update from refreshAt (CRL Number + 1), revocation on removal; the key and the ledger stay secret", async () => {
        const declared = () => [
            { name: "alice", certPem: alice.certPem },
            { name: "bob", certPem: bob.certPem },
        ];
        const warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
        const sim = new DeploymentSimulator();
        const T0 = new Date(Math.floor(Date.now() / 1000) * 1000);
        const at = (hours: number) => new Date(T0.getTime() + hours * HOUR);

        const first = await sim.run(program(declared()), { now: T0 });
        expect(first.stepFor("crl")?.op).toBe("create");
        expect(first.stepFor("crl")?.type).toBe("pulumi-nodejs:dynamic/revocation:RevocationList");
        expect(crlText(tmpDir("sim"), first.outputs.crlPem, inter.certPem).verified).toBe(true);
        expect(first.outputs.refreshAt).toBe(new Date(at(12).getTime() - CRL_BACKDATE_MS).toISOString());
        expect(first.secretOutputs).toContain("state");
        expect(first.secretOutputs).not.toContain("crlPem");
        const resource = first.resource("crl");
        expect(resource?.secretOutputs).toContain("state");
        expect(resource?.secretInputs).toContain("issuerKeyPem");

        // Nothing changed, refresh not due: no step.
        expect((await sim.run(program(declared()), { now: at(11), preview: true })).stepFor("crl")?.op).toBe("same");
        // Refresh due: the preview shows an update, and `up` re-signs.
        expect((await sim.run(program(declared()), { now: at(12), preview: true })).stepFor("crl")?.op).toBe("update");
        const refreshed = await sim.run(program(declared()), { now: at(12) });
        expect(refreshed.stepFor("crl")?.op).toBe("update");
        expect(refreshed.outputs.issuers[0].crlNumber).toBe(2);
        expect(refreshed.outputs.refreshAt).toBe(new Date(at(24).getTime() - CRL_BACKDATE_MS).toISOString());
        expect((await sim.run(program(declared()), { now: at(13), preview: true })).stepFor("crl")?.op).toBe("same");

        // bob leaves the program: never silent.
        const removed = await sim.run(program([{ name: "alice", certPem: alice.certPem }]), { now: at(13) });
        expect(removed.stepFor("crl")?.op).toBe("update");
        expect(removed.outputs.revoked.map((r: { name: string; serialHex: string; reason: string }) => [r.name, r.serialHex, r.reason])).toEqual([
            ["bob", normalizeSerial(bob.serialHex), "cessationOfOperation"],
        ]);
        const text = crlText(tmpDir("sim"), removed.outputs.crlPem, inter.certPem);
        expect(text.verified).toBe(true);
        expect(text.text).toContain(`Serial Number: ${normalizeSerial(bob.serialHex)}`);
        expect(removed.outputs.issuers[0].crlNumber).toBe(3);

        // The simulated clock (MTLS_NGINX_CLOCK) is called out at construction.
        expect(warn.mock.calls.some((args) => String(args[0]).includes("MTLS_NGINX_CLOCK=") && String(args[0]).includes("moves the clock for decisions"))).toBe(true);
        warn.mockRestore();
    });
});
