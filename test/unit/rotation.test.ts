/**
 * Rotation and revocation on a plain `pulumi up`, under mocks: MtlsNginx run by the deployment simulator
 * across simulated time (MTLS_NGINX_CLOCK), with the real-crypto @pulumi/tls double and the dynamic
 * providers (RenewalSchedule, Pkcs12Bundle, RevocationList) running for real. The install command is
 * recorded, never executed (no nginx here; test/integration/rotation.test.ts drives a real one).
 *
 * What a `pulumi up` at a given time does, step by step: nothing before renewAt; at renewAt the schedule,
 * key, CSR and certificate of exactly that certificate are replaced (a preview shows it and executes
 * nothing); the superseded certificate stays valid and off the CRL unless revokeSuperseded; keyRotation
 * "never" keeps the key; CRLs are re-signed past half their validity; a CA renewal re-issues everything
 * below it; cadence warnings flag policies a missed run could break.
 */
import "reflect-metadata";
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as x509 from "@peculiar/x509";
import { MtlsNginx, ClientSpec, MtlsNginxArgs } from "../../components/mtlsNginx";
import { CertificateAuthorityArgs } from "../../components/pki/certificateAuthority";
import { CRL_BACKDATE_MS } from "../../components/revocation/ledger";
import { DeploymentSimulator, Executor, RunResult, StepOp } from "../support/engine";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------
// The program and helpers
// ---------------------------------------------------------------------------------------------

interface ProgramOptions {
    ca?: CertificateAuthorityArgs;
    server?: { validity?: string; renewal?: { renewBefore?: string }; generation?: number };
    clients?: ClientSpec[];
    revocation?: MtlsNginxArgs["revocation"];
    cadence?: string;
}

const DEFAULT_CLIENTS: ClientSpec[] = [
    { name: "alice", validity: "12d" }, // renewAt = issue + 8d
    { name: "bob", validity: "30d" }, // renewAt = issue + 20d
    { name: "carol", validity: "15d", renewal: { keyRotation: "never" } }, // renewAt = issue + 10d, same key
];

function program(o: ProgramOptions = {}) {
    return () => {
        const m = new MtlsNginx("m", {
            ca: o.ca ?? { commonName: "Rotation Root CA", organization: "Rotation", intermediate: true },
            server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], validity: "30d", ...o.server },
            clients: o.clients ?? DEFAULT_CLIENTS,
            revocation: o.revocation ?? { crlValidity: "30d" },
            cadence: o.cadence,
            site: { listen: { address: "127.0.0.1", port: 8443 }, mode: { kind: "static" } },
            // Never touched: the command executor only records.
            target: { kind: "local", installDir: "/nonexistent/mtls-rotation-unit/nginx" },
        });
        const clients: Record<string, pulumi.Output<Record<string, string>>> = {};
        for (const [name, c] of Object.entries(m.clients)) {
            clients[name] = pulumi.all({ certPem: c.certPem, renewAt: c.renewAt, notAfter: c.notAfter, keyPem: c.keyPem });
        }
        const ca = m.ca;
        return {
            root: pulumi.all({ certPem: ca.root.certPem, renewAt: ca.root.renewAt, notAfter: ca.root.facts.apply((f) => f.notAfter) }),
            intermediate: pulumi.all({ certPem: ca.intermediate!.certPem, renewAt: ca.intermediate!.renewAt, notAfter: ca.intermediate!.facts.apply((f) => f.notAfter) }),
            server: pulumi.all({ certPem: m.serverCertificate!.certPem, renewAt: m.serverCertificate!.renewAt, notAfter: m.serverCertificate!.notAfter }),
            clients,
            nextRenewal: m.nextRenewal,
            crlNextUpdate: m.crlNextUpdate,
            crlPem: m.revocation!.crlPem,
            trustBundlePem: m.trustBundlePem,
            revoked: m.revocation!.revoked,
        };
    };
}

/** A command executor that records what it would run and runs nothing. */
function recordingExecutor(): { executor: Executor; calls: string[] } {
    const calls: string[] = [];
    const executor: Executor = {
        create: (ctx) => {
            calls.push(`create ${ctx.name}`);
            return { outputs: { ...ctx.inputs, stdout: "", stderr: "" } };
        },
        update: (ctx) => {
            calls.push(`update ${ctx.name}`);
            return { outputs: { ...ctx.inputs, stdout: "", stderr: "" } };
        },
        delete: (ctx) => {
            calls.push(`delete ${ctx.name}`);
        },
    };
    return { executor, calls };
}

function newSimulator() {
    const recorder = recordingExecutor();
    const sim = new DeploymentSimulator({ executors: { "command:local:Command": recorder.executor } });
    return { sim, calls: recorder.calls };
}

/** Every step that is not "same", by resource name. */
function changes(run: RunResult): Record<string, StepOp> {
    const out: Record<string, StepOp> = {};
    for (const s of run.steps) if (s.op !== "same") out[s.name] = s.op;
    return out;
}

/** Every custom resource step, by name (for "everything is same"). */
function customOps(run: RunResult): Set<StepOp> {
    return new Set(run.steps.filter((s) => s.custom).map((s) => s.op));
}

const iso = (ms: number) => new Date(ms).toISOString();

function certFacts(pem: string) {
    const c = new crypto.X509Certificate(pem);
    return {
        serial: c.serialNumber.toUpperCase(),
        spki: c.publicKey.export({ type: "spki", format: "der" }).toString("hex"),
        notBefore: new Date(c.validFrom).getTime(),
        notAfter: new Date(c.validTo).getTime(),
        fingerprint: c.fingerprint256,
        x509: c,
    };
}

function crls(bundle: string): x509.X509Crl[] {
    const blocks = bundle.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
    return blocks.map((b) => new x509.X509Crl(Buffer.from(b.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64")));
}

/** Serials (upper-case hex, no leading zero bytes) on any CRL of the bundle. */
function serialsOnCrls(bundle: string): string[] {
    return crls(bundle).flatMap((crl) => crl.entries.map((e) => e.serialNumber.toUpperCase().replace(/^(00)+(?=..)/, "")));
}

const normalizeSerial = (s: string) => s.toUpperCase().replace(/^(00)+(?=..)/, "");

function certsIn(bundle: string): string[] {
    return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new crypto.X509Certificate(b).fingerprint256);
}

/** pulumi.log.warn messages, collected (the SDK's own output is silenced). */
function collectWarnings() {
    const messages: string[] = [];
    const spy = jest.spyOn(pulumi.log, "warn").mockImplementation((message: string) => {
        messages.push(message);
        return Promise.resolve();
    });
    return { messages, restore: () => spy.mockRestore() };
}

const cadenceWarnings = (messages: string[]) => messages.filter((m) => /less than two runs|has passed; clients are refused/.test(m));

/** T0 on a whole second, like the certificates' times. */
function startTime(): number {
    return Math.floor(Date.now() / 1000) * 1000;
}

const ALICE_RENEWAL = ["m-client-alice-renewal", "m-client-alice-key", "m-client-alice-csr", "m-client-alice-cert"];
/**
 * What renewing alice changes: her chain is replaced, her bundle, the issuing CRL and the site install
 * follow, and the drift check (ServedRelease) then expects the new release.
 */
const ALICE_RENEWAL_CHANGES: Record<string, StepOp> = {
    ...Object.fromEntries(ALICE_RENEWAL.map((urn) => [urn, "replace" as StepOp])),
    "m-client-alice-pkcs12": "update",
    "m-revocation-issuing": "update",
    "m-site-install": "replace",
    "m-site-served": "update",
};

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("MtlsNginx across simulated time", () => {
    let warnings: ReturnType<typeof collectWarnings>;
    beforeEach(() => {
        warnings = collectWarnings();
    });
    afterEach(() => warnings.restore());

    test("issue, nothing before renewAt, preview then update at a client's renewAt, superseded certificate kept off the CRL, keyRotation never, CRL refresh at half its validity", async () => {
        const { sim, calls } = newSimulator();
        const T0 = startTime();
        const at = (days: number) => new Date(T0 + days * DAY);

        // --- T0: everything is created. ---
        const first = await sim.run(program(), { now: at(0) });
        expect(customOps(first)).toEqual(new Set(["create"]));
        expect(calls).toEqual(["create m-site-install"]);
        const o0 = first.outputs;
        const alice0 = o0.clients.alice;
        expect(alice0.notAfter).toBe(iso(T0 + 12 * DAY));
        expect(alice0.renewAt).toBe(iso(T0 + 8 * DAY));
        expect(o0.clients.carol.renewAt).toBe(iso(T0 + 10 * DAY));
        expect(o0.clients.bob.renewAt).toBe(iso(T0 + 20 * DAY));
        expect(o0.server.renewAt).toBe(iso(T0 + 20 * DAY));
        expect(o0.server.notAfter).toBe(iso(T0 + 30 * DAY));
        expect(o0.intermediate.renewAt).toBe(iso(T0 + 730 * DAY));
        expect(o0.root.notAfter).toBe(iso(T0 + 3650 * DAY));
        expect(o0.nextRenewal).toEqual({ at: iso(T0 + 8 * DAY), certificate: "client alice" });
        expect(o0.crlNextUpdate).toBe(iso(T0 - CRL_BACKDATE_MS + 30 * DAY));
        expect(o0.revoked).toEqual([]);

        // --- Day 1, before any renewAt: a preview and an update change nothing. ---
        const day1Preview = await sim.run(program(), { now: at(1), preview: true });
        expect(customOps(day1Preview)).toEqual(new Set(["same"]));
        const day1 = await sim.run(program(), { now: at(1) });
        expect(customOps(day1)).toEqual(new Set(["same"]));
        expect(day1.outputs).toEqual(o0);
        expect(calls).toEqual(["create m-site-install"]);

        // --- Day 8.1, past alice's renewAt: the preview shows alice's renewal and executes nothing. ---
        const stateBefore = JSON.stringify([...sim.state.entries()]);
        const preview = await sim.run(program(), { now: at(8.1), preview: true });
        expect(JSON.stringify([...sim.state.entries()])).toBe(stateBefore);
        expect(calls).toEqual(["create m-site-install"]);
        // The install command is replaced (any change of its triggers replaces a Command): in a preview the
        // issuing CRL is unknown until the RevocationList is updated, so the release may change.
        expect(changes(preview)).toEqual(ALICE_RENEWAL_CHANGES);
        expect(preview.stepFor("m-client-alice-renewal")?.reason).toBe("provider diff replaces: renewAt");
        expect(preview.stepFor("m-client-alice-key")?.reason).toMatch(/^replacementTrigger changed/);

        // --- Day 8.1, `pulumi up`: the same PKI steps are executed. ---
        const renewed = await sim.run(program(), { now: at(8.1) });
        const { "m-site-install": _maybe, "m-site-served": _maybeToo, ...previewPki } = changes(preview);
        expect(changes(renewed)).toEqual(previewPki);
        // With revokeSuperseded off the CRL does not change, so nginx needs no new release: the install is not run.
        expect(renewed.stepFor("m-site-install")?.op).toBe("same");
        expect(calls).toEqual(["create m-site-install"]);

        const T1 = T0 + 8.1 * DAY;
        const o1 = renewed.outputs;
        const oldAlice = certFacts(alice0.certPem);
        const newAlice = certFacts(o1.clients.alice.certPem);
        expect(newAlice.serial).not.toBe(oldAlice.serial);
        expect(newAlice.spki).not.toBe(oldAlice.spki);
        expect(o1.clients.alice.keyPem).not.toBe(alice0.keyPem);
        expect(newAlice.notBefore).toBe(T1);
        expect(o1.clients.alice.notAfter).toBe(iso(T1 + 12 * DAY));
        expect(o1.clients.alice.renewAt).toBe(iso(T1 + 8 * DAY));
        // Nobody else moved; the next renewal is now carol's.
        for (const other of ["bob", "carol"]) expect(o1.clients[other]).toEqual(o0.clients[other]);
        expect(o1.server).toEqual(o0.server);
        expect(o1.nextRenewal).toEqual({ at: iso(T0 + 10 * DAY), certificate: "client carol" });

        // The superseded certificate: still valid until its own notAfter (same issuer, signature verifies),
        // and not on any CRL.
        const issuer = new crypto.X509Certificate(o1.intermediate.certPem);
        expect(oldAlice.x509.checkIssued(issuer) && oldAlice.x509.verify(issuer.publicKey)).toBe(true);
        expect(oldAlice.notAfter).toBe(T0 + 12 * DAY);
        expect(oldAlice.notAfter).toBeGreaterThan(T1);
        expect(o1.revoked).toEqual([]);
        expect(serialsOnCrls(o1.crlPem)).not.toContain(normalizeSerial(oldAlice.serial));
        expect(o1.crlPem).toBe(o0.crlPem); // nothing re-signed

        // --- Day 9: alice is not re-issued again (her new renewAt is day 16.1). ---
        const day9 = await sim.run(program(), { now: at(9) });
        expect(customOps(day9)).toEqual(new Set(["same"]));
        expect(day9.outputs.clients.alice).toEqual(o1.clients.alice);

        // --- Day 10.1: carol (keyRotation "never") is renewed with the SAME key. ---
        const carolPreview = await sim.run(program(), { now: at(10.1), preview: true });
        expect(changes(carolPreview)).toMatchObject({
            "m-client-carol-renewal": "replace",
            "m-client-carol-csr": "replace",
            "m-client-carol-cert": "replace",
            "m-client-carol-pkcs12": "update",
        });
        expect(carolPreview.stepFor("m-client-carol-key")?.op).toBe("same");
        const carolRun = await sim.run(program(), { now: at(10.1) });
        expect(carolRun.stepFor("m-client-carol-key")?.op).toBe("same");
        expect(carolRun.stepFor("m-client-carol-cert")?.op).toBe("replace");
        const oldCarol = certFacts(o0.clients.carol.certPem);
        const newCarol = certFacts(carolRun.outputs.clients.carol.certPem);
        expect(newCarol.spki).toBe(oldCarol.spki);
        expect(carolRun.outputs.clients.carol.keyPem).toBe(o0.clients.carol.keyPem);
        expect(newCarol.serial).not.toBe(oldCarol.serial);
        expect(carolRun.outputs.clients.carol.notAfter).toBe(iso(T0 + 10.1 * DAY + 15 * DAY));
        expect(carolRun.outputs.nextRenewal).toEqual({ at: iso(T1 + 8 * DAY), certificate: "client alice" });

        // --- CRL refresh: due at half of its 30-day validity (day 15, less the 5-minute backdating). ---
        const beforeRefresh = await sim.run(program(), { now: at(14.9) });
        expect(customOps(beforeRefresh)).toEqual(new Set(["same"]));
        const refreshPreview = await sim.run(program(), { now: at(15.1), preview: true });
        expect(changes(refreshPreview)).toEqual({ "m-revocation-root": "update", "m-revocation-issuing": "update", "m-site-install": "replace", "m-site-served": "update" });
        const installsBefore = calls.length;
        const refreshed = await sim.run(program(), { now: at(15.1) });
        expect(changes(refreshed)).toEqual(changes(refreshPreview));
        // The site got a new release (new install, the old command's guarded delete).
        expect(calls.slice(installsBefore)).toEqual(["create m-site-install", "delete m-site-install"]);
        const T3 = T0 + 15.1 * DAY;
        expect(refreshed.outputs.crlNextUpdate).toBe(iso(T3 - CRL_BACKDATE_MS + 30 * DAY));
        const [rootCrl, issuingCrl] = crls(refreshed.outputs.crlPem);
        expect(rootCrl.thisUpdate.getTime()).toBe(T3 - CRL_BACKDATE_MS);
        expect(issuingCrl.nextUpdate?.getTime()).toBe(T3 - CRL_BACKDATE_MS + 30 * DAY);
        // Still nothing revoked: the superseded alice and carol certificates stay off the CRL.
        expect(serialsOnCrls(refreshed.outputs.crlPem)).toEqual([]);

        // Default-ish policies at a 24h cadence: no cadence warning at any point.
        expect(cadenceWarnings(warnings.messages)).toEqual([]);
    });

    test("revokeSuperseded: the renewed client's old certificate goes on the CRL and the site installs the new CRL", async () => {
        const { sim, calls } = newSimulator();
        const T0 = startTime();
        const at = (days: number) => new Date(T0 + days * DAY);
        const prog = program({ clients: DEFAULT_CLIENTS.slice(0, 2), revocation: { crlValidity: "30d", revokeSuperseded: true } });
        const first = await sim.run(prog, { now: at(0) });
        const oldAlice = certFacts(first.outputs.clients.alice.certPem);

        const renewed = await sim.run(prog, { now: at(8.1) });
        expect(changes(renewed)).toEqual(ALICE_RENEWAL_CHANGES);
        expect(calls).toEqual(["create m-site-install", "create m-site-install", "delete m-site-install"]);
        const o = renewed.outputs;
        expect(o.revoked).toEqual([
            expect.objectContaining({ name: "alice", serialHex: normalizeSerial(oldAlice.serial), reason: "superseded", notAfter: iso(T0 + 12 * DAY) }),
        ]);
        expect(serialsOnCrls(o.crlPem)).toEqual([normalizeSerial(oldAlice.serial)]);
        // The new certificate is not revoked.
        expect(serialsOnCrls(o.crlPem)).not.toContain(normalizeSerial(certFacts(o.clients.alice.certPem).serial));
        // The issuing CRL was re-signed now (content changed), the root's was not.
        const [rootCrl, issuingCrl] = crls(o.crlPem);
        expect(issuingCrl.thisUpdate.getTime()).toBe(T0 + 8.1 * DAY - CRL_BACKDATE_MS);
        expect(rootCrl.thisUpdate.getTime()).toBe(T0 - CRL_BACKDATE_MS);

        // After the old certificate's notAfter it leaves the CRL (the next run re-signs without it).
        const later = await sim.run(prog, { now: at(12.5) });
        expect(later.stepFor("m-revocation-issuing")?.op).toBe("update");
        expect(later.outputs.revoked).toEqual([]);
        expect(serialsOnCrls(later.outputs.crlPem)).toEqual([]);
    });

    test("cadence warnings: a renewal or CRL window shorter than two runs warns, and not otherwise", async () => {
        const clients: ClientSpec[] = [
            { name: "dave", validity: "12d", renewal: { renewBefore: "1d" } }, // 24h window
            { name: "erin", validity: "12d" }, // 4-day window
        ];
        const revocation = { crlValidity: "36h" }; // re-signed after 18h: an 18h window

        // Nightly runs: two runs take 48h, more than both windows.
        const nightly = newSimulator();
        await nightly.sim.run(program({ clients, revocation, cadence: "24h" }), { now: new Date(startTime()), preview: true });
        const found = cadenceWarnings(warnings.messages);
        expect(found).toEqual([
            expect.stringMatching(/^client dave: only 1d 0h between renewal .* and notAfter .*less than two runs at the stated cadence of 1d 0h/),
            expect.stringMatching(/^CRL: only 18h 0m between re-signing .* and nextUpdate .*less than two runs at the stated cadence of 1d 0h/),
        ]);
        expect(found.join("\n")).not.toContain("erin");
        expect(nightly.calls).toEqual([]); // a preview runs nothing

        // The same policies with a run every 6 hours: no warning.
        warnings.messages.splice(0);
        const frequent = newSimulator();
        await frequent.sim.run(program({ clients, revocation, cadence: "6h" }), { now: new Date(startTime()), preview: true });
        expect(cadenceWarnings(warnings.messages)).toEqual([]);

        // Defaults at the default (24h) cadence: no warning either.
        warnings.messages.splice(0);
        const defaults = newSimulator();
        await defaults.sim.run(program({ clients: [{ name: "frank" }], revocation: {} }), { now: new Date(startTime()), preview: true });
        expect(cadenceWarnings(warnings.messages)).toEqual([]);
    });

    test("intermediate renewal re-issues the server and every client under the new intermediate; the root stays", async () => {
        const { sim } = newSimulator();
        const T0 = startTime();
        const at = (days: number) => new Date(T0 + days * DAY);
        const leaf = { validity: "28d", renewal: { renewBefore: "3d" } }; // leaves renew at day 25
        const prog = program({
            ca: { commonName: "Rotation Root CA", validity: "365d", intermediate: { validity: "30d" } }, // intermediate renews at day 20
            server: leaf,
            clients: [{ name: "alice", ...leaf }, { name: "bob", ...leaf }],
            revocation: { crlValidity: "60d" }, // no CRL refresh before day 30
        });
        const first = await sim.run(prog, { now: at(0) });
        expect(first.outputs.nextRenewal).toEqual({ at: iso(T0 + 20 * DAY), certificate: "intermediate CA Rotation Root CA Intermediate" });
        expect(customOps(await sim.run(prog, { now: at(19.9), preview: true }))).toEqual(new Set(["same"]));

        const preview = await sim.run(prog, { now: at(20.1), preview: true });
        const run = await sim.run(prog, { now: at(20.1) });
        const below = ["m-server", "m-client-alice", "m-client-bob"];
        const expected: Record<string, StepOp> = {
            "m-ca-intermediate-renewal": "replace",
            "m-ca-intermediate-key": "replace",
            "m-ca-intermediate-csr": "replace",
            "m-ca-intermediate-cert": "replace",
            ...Object.fromEntries(below.flatMap((p) => ["renewal", "key", "csr", "cert"].map((r) => [`${p}-${r}`, "replace" as StepOp]))),
            "m-client-alice-pkcs12": "update",
            "m-client-bob-pkcs12": "update",
            "m-revocation-root": "update",
            "m-revocation-issuing": "update",
            "m-site-install": "replace",
            "m-site-served": "update",
        };
        expect(changes(preview)).toEqual(expected);
        expect(changes(run)).toEqual(expected);
        for (const p of below) expect(run.stepFor(`${p}-renewal`)?.reason).toBe("provider diff replaces: anchor");
        for (const r of ["renewal", "key", "cert"]) expect(run.stepFor(`m-ca-root-${r}`)?.op).toBe("same");

        const o0 = first.outputs;
        const o = run.outputs;
        expect(o.root).toEqual(o0.root);
        const newIntermediate = new crypto.X509Certificate(o.intermediate.certPem);
        expect(newIntermediate.fingerprint256).not.toBe(new crypto.X509Certificate(o0.intermediate.certPem).fingerprint256);
        for (const pem of [o.server.certPem, o.clients.alice.certPem, o.clients.bob.certPem]) {
            const leafCert = new crypto.X509Certificate(pem);
            expect(leafCert.checkIssued(newIntermediate) && leafCert.verify(newIntermediate.publicKey)).toBe(true);
        }
        expect(o.intermediate.renewAt).toBe(iso(T0 + 20.1 * DAY + 20 * DAY));
        expect(o.clients.alice.renewAt).toBe(iso(T0 + 20.1 * DAY + 25 * DAY));
        // The retired intermediate stays trusted (its clients keep working) with its own CRL.
        const trusted = certsIn(o.trustBundlePem);
        expect(trusted).toEqual(expect.arrayContaining([o.root, o.intermediate, o0.intermediate].map((c) => new crypto.X509Certificate(c.certPem).fingerprint256)));
        expect(trusted).toHaveLength(3);
        expect(crls(o.crlPem)).toHaveLength(3);
    });

    test("root renewal re-issues the intermediate and everything below it", async () => {
        const { sim } = newSimulator();
        const T0 = startTime();
        const at = (days: number) => new Date(T0 + days * DAY);
        const leaf = { validity: "28d", renewal: { renewBefore: "3d" } }; // day 25
        const prog = program({
            ca: { commonName: "Rotation Root CA", validity: "30d", intermediate: { validity: "30d", renewal: { renewBefore: "3d" } } }, // root day 20, intermediate day 27
            server: leaf,
            clients: [{ name: "alice", ...leaf }],
            revocation: { crlValidity: "60d" },
        });
        const first = await sim.run(prog, { now: at(0) });
        expect(first.outputs.nextRenewal).toEqual({ at: iso(T0 + 20 * DAY), certificate: "root CA Rotation Root CA" });
        const preview = await sim.run(prog, { now: at(20.1), preview: true });
        const run = await sim.run(prog, { now: at(20.1) });
        const replaced = [
            "m-ca-root-renewal",
            "m-ca-root-key",
            "m-ca-root-cert",
            ...["m-ca-intermediate", "m-server", "m-client-alice"].flatMap((p) => ["renewal", "key", "csr", "cert"].map((r) => `${p}-${r}`)),
        ];
        for (const r of [preview, run]) {
            const c = changes(r);
            for (const name of replaced) expect([name, c[name]]).toEqual([name, "replace"]);
            expect(c).toMatchObject({ "m-client-alice-pkcs12": "update", "m-revocation-root": "update", "m-revocation-issuing": "update", "m-site-install": "replace" });
        }
        expect(run.stepFor("m-ca-root-renewal")?.reason).toBe("provider diff replaces: renewAt");
        expect(run.stepFor("m-ca-intermediate-renewal")?.reason).toBe("provider diff replaces: anchor");

        const o = run.outputs;
        const root = new crypto.X509Certificate(o.root.certPem);
        const intermediate = new crypto.X509Certificate(o.intermediate.certPem);
        expect(root.fingerprint256).not.toBe(new crypto.X509Certificate(first.outputs.root.certPem).fingerprint256);
        expect(intermediate.checkIssued(root) && intermediate.verify(root.publicKey)).toBe(true);
        for (const pem of [o.server.certPem, o.clients.alice.certPem]) {
            const leafCert = new crypto.X509Certificate(pem);
            expect(leafCert.verify(intermediate.publicKey)).toBe(true);
        }
        expect(o.root.notAfter).toBe(iso(T0 + 20.1 * DAY + 30 * DAY));
        // Old and new root, old and new intermediate are all trusted during the overlap.
        expect(certsIn(o.trustBundlePem)).toHaveLength(4);
        expect(crls(o.crlPem)).toHaveLength(4);
    });
});
