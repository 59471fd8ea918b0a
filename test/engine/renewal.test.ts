/**
 * Renewal under the real engine: the dev stack, then one `pulumi up` with MTLS_NGINX_CLOCK past the
 * server's and the clients' renewAt. The plan (`pulumi preview --json`) and the resource ids before and
 * after show that exactly what the README's rotation table names is replaced or updated; nginx then
 * serves the new server certificate; a steady load of new-handshake mTLS requests running through the
 * update sees no failure; and the next nightly preview is empty.
 */
import { pemSha256, servedCertificateSha256 } from "../support/clients";
import { hasNginx } from "../support/nginx";
import { SteadyLoad } from "../support/load";
import { freePort } from "../support/ports";
import { changedSteps, describeEngine, EngineProject, idsByName, pemFromP12, urnName } from "../support/realEngine";

const HOUR = 3600_000;

/** What the README's rotation table says a renewal of these certificates does, as plan steps. */
function expectedRenewalPlan(renewed: string[]): string[] {
    const replaced = renewed.flatMap((prefix) => ["renewal", "key", "csr", "cert"].map((role) => `${prefix}-${role}`));
    const bundles = renewed.filter((p) => p.includes("-client-")).map((p) => `${p}-pkcs12: update`);
    const crls = ["mtls-revocation-issuing: update", "mtls-revocation-root: update"];
    return [...replaced.map((n) => `${n}: replace`), ...bundles, ...crls, "mtls-site-install: replace", "mtls-site-served: update"].sort();
}

describeEngine("renewal on a nightly pulumi up with the clock past renewAt", () => {
    let project: EngineProject;
    let port: number;

    beforeAll(async () => {
        if (!hasNginx()) throw new Error("nginx is required (apt-get install nginx)");
        project = new EngineProject("renewal");
        port = await freePort();
        await project.pulumi(["stack", "select", "--create", "dev"]);
        await project.setConfig("site.listen.port", port);
        await project.pulumi(["up", "--yes"]);
    });

    afterAll(async () => {
        await project?.cleanup();
    });

    it("replaces the keys, certificates and bundles that are due, updates the CRLs and the install, and nothing else; 0 failed requests under load", async () => {
        const before = await project.outputs(true);
        const idsBefore = idsByName((await project.exportState()).resources);
        const due = Math.max(Date.parse(before.nextRenewal.at), ...Object.values<any>(before.clients).map((c) => Date.parse(c.renewAt)));
        const clock = new Date(due + HOUR).toISOString();
        const env = { MTLS_NGINX_CLOCK: clock };

        // Both clients (same validity) and the server are due; the CRLs' refresh is due too (they are 7 days
        // long); the CAs are not.
        const renewed = ["mtls-server", "mtls-client-alice", "mtls-client-bob"];
        expect(changedSteps(await project.previewSteps({ env }))).toEqual(expectedRenewalPlan(renewed));

        const alice = pemFromP12(project.root, before.clients.alice.pkcs12Base64, before.clients.alice.password);
        const load = new SteadyLoad({ port, caPem: before.caCertPem, certPem: alice.certPem, keyPem: alice.keyPem, rate: 40, minMs: 5_000, maxMs: 240_000 });
        let up;
        try {
            await new Promise((r) => setTimeout(r, 1000));
            up = await project.pulumi(["up", "--yes"], { env });
        } finally {
            load.stop();
        }
        const { outcomes } = await load.result();
        const failures = outcomes.filter((o) => !o.ok);
        const servedFingerprints = [...new Set(outcomes.map((o) => o.serverFingerprint))];
        console.log(`renewal up: ${up.ms} ms; load: ${outcomes.length} requests, ${failures.length} failed, server certificates seen: ${servedFingerprints.length}`);
        expect(failures.slice(0, 3)).toEqual([]);
        expect(outcomes.length).toBeGreaterThan(100);

        const after = await project.outputs(true);
        const idsAfter = idsByName((await project.exportState()).resources);
        const changedIds = [...idsAfter.keys()].filter((name) => idsBefore.get(name) !== idsAfter.get(name)).sort();
        // New ids exactly for the replaced resources; bundles and CRL lists are updated in place.
        expect(changedIds).toEqual(expectedRenewalPlan(renewed).filter((s) => s.endsWith(": replace")).map((s) => s.split(":")[0]));
        expect([...idsAfter.keys()].sort()).toEqual([...idsBefore.keys()].sort());

        // nginx serves the new server certificate, the one now in the state; the load saw the old, then the new.
        const serverCert = (await project.exportState()).resources.find((r) => urnName(r.urn) === "mtls-server-cert")!;
        const newServer = pemSha256(serverCert.outputs!.certPem);
        expect(await servedCertificateSha256(port)).toBe(newServer);
        expect(outcomes[outcomes.length - 1].serverFingerprint).toBe(newServer);
        expect(servedFingerprints).toHaveLength(2);
        const newAlice = pemFromP12(project.root, after.clients.alice.pkcs12Base64, after.clients.alice.password);
        expect(newAlice.certPem).not.toEqual(alice.certPem);
        expect(after.clients.alice.fingerprintSha256).not.toBe(before.clients.alice.fingerprintSha256);
        expect(after.releaseId).not.toBe(before.releaseId);
    });

    it("the next nightly preview (real clock) shows no changes", async () => {
        await project.pulumi(["preview", "--expect-no-changes"]);
    });
});
