/**
 * A fleet for real: the fleet stack (stacks/Pulumi.fleet.yaml: the prod stack's site on a list of SSH hosts,
 * one at a time behind the mTLS gate) under the REAL engine, whose remote.Command logs in over real SSH
 * to three hosts, each a network namespace of the test's own with its own sshd and "system" nginx
 * (netnsHost.ts). The hosts share one install directory path, each with its own files behind it (a
 * private mount per host), as separate machines would: every host gets the same release.
 *
 * 1. A server-certificate rotation under load: clients on all three hosts see no failed request; the
 *    per-host install times (and what the clients were served) show one host at a time, in list order.
 * 2. A fault on host 2 (its nginx binary fails `nginx -t`): host 1 takes the new release, host 2 keeps
 *    serving the old one, host 3 is not touched, and `pulumi up` fails naming host 2 and nginx's reason;
 *    once fixed, the next `pulumi up` completes hosts 2 and 3 without reinstalling host 1.
 * 3. Removing a host uninstalls the site there only; adding one installs the current release there only;
 *    reordering the list changes nothing.
 * 4. Revocation reaches every host: a client removed from the stack is refused on all three.
 * 5. Drift per host: the site removed by hand from one host is noticed by `pulumi refresh` there only,
 *    and the next `pulumi up` restores that host only.
 */
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { pemSha256, writeFile } from "../support/clients";
import { SteadyLoad } from "../support/load";
import { authorizeClientKey, namespaceHostsUnavailable, NamespaceHost, siteGet, siteServedSha256, sshTargetConfig, startNamespaceHost } from "../support/netnsHost";
import { makeTestDir } from "../support/nginx";
import { changedSteps, describeEngine, EngineProject, pemFromP12, StateResource, urnName } from "../support/realEngine";
import { issue, makeHierarchy, FixtureCert } from "../support/x509";

const SITE_NAME = "mtls.example.com";
const NAMES = ["eu-1", "eu-2", "us-1"];

const get = (host: NamespaceHost, caFile: string, client?: { cert: string; key: string }) => siteGet(host, SITE_NAME, caFile, client);
const servedSha256 = (host: NamespaceHost) => siteServedSha256(host, SITE_NAME);

/** What an install resource last ran (its id and output: secrets are re-encrypted on every checkpoint, so not compared). */
function ran(r: StateResource): unknown {
    return { id: r.id, stdout: r.outputs?.stdout };
}

/** Whether a symlink is there (its target may only resolve inside the host's own mount namespace). */
function linkExists(file: string): boolean {
    try {
        return fs.lstatSync(file).isSymbolicLink();
    } catch {
        return false;
    }
}

const unavailable = namespaceHostsUnavailable();

(unavailable ? describe.skip : describeEngine)(`a fleet of three real hosts (network namespaces, own sshd and nginx) rolled out one at a time${unavailable ? ` [skipped: ${unavailable}]` : ""}`, () => {
    const hosts: Record<string, NamespaceHost> = {};
    let sharedDir: string;
    let project: EngineProject;
    let webCa: { root: FixtureCert; issuer: FixtureCert };
    let caFile: string;
    let clientKey: string;
    const credentials: Record<string, { cert: string; key: string; certPem: string; keyPem: string }> = {};

    /** The stack file's config, edited in place. */
    function editStack(change: (config: Record<string, any>) => void): void {
        const file = project.stackFile("fleet");
        const doc = parse(fs.readFileSync(file, "utf8"));
        change(doc.config);
        fs.writeFileSync(file, stringify(doc));
    }

    /** The stack's target entry for a namespace host (root over SSH, its nginx's config and reload command). */
    function entry(name: string, h: NamespaceHost): Record<string, unknown> {
        return sshTargetConfig(h, { name, installDir: path.join(sharedDir, "site") });
    }

    async function addHost(name: string): Promise<NamespaceHost> {
        const h = await startNamespaceHost(`fleet-${name}`, { privateDir: sharedDir });
        hosts[name] = h;
        // One deploy key for the fleet (sshPrivateKey), as the fleet stack says.
        authorizeClientKey(h, hosts[NAMES[0]]);
        return h;
    }

    /** A server certificate from the test's "public" CA, set as certbot's deploy hook would. */
    async function provideServerCertificate(): Promise<string> {
        const leaf = await issue({ subject: `CN=${SITE_NAME}`, dnsNames: [SITE_NAME], days: 90, usage: "server" }, webCa.issuer);
        await project.pulumi(["config", "set", "serverCertificatePem", "--", leaf.certPem + webCa.issuer.certPem]);
        await project.pulumi(["config", "set", "--secret", "serverPrivateKeyPem"], { input: leaf.key.privateKeyPem });
        return pemSha256(leaf.certPem);
    }

    async function installs(): Promise<Map<string, StateResource>> {
        const state = await project.exportState();
        return new Map(state.resources.filter((r) => /^mtls-site-host-.+-install$/.test(urnName(r.urn)) && !r.delete).map((r) => [urnName(r.urn), r]));
    }

    beforeAll(async () => {
        sharedDir = makeTestDir("fleet-shared");
        hosts[NAMES[0]] = await startNamespaceHost(`fleet-${NAMES[0]}`, { privateDir: sharedDir });
        for (const name of NAMES.slice(1)) await addHost(name);
        clientKey = hosts[NAMES[0]].clientKeyPem;
        project = new EngineProject("fleet");
        webCa = await makeHierarchy({ name: "Test Web PKI", intermediate: true });
        caFile = writeFile(project.root, "web-ca.crt", webCa.root.certPem);
        await project.pulumi(["stack", "select", "--create", "fleet"]);
        editStack((c) => {
            expect(c["mtls-nginx:target"].map((t: { name: string }) => t.name)).toEqual(NAMES);
            c["mtls-nginx:target"] = NAMES.map((n) => entry(n, hosts[n]));
        });
        await project.pulumi(["config", "set", "--secret", "sshPrivateKey"], { input: clientKey });
    });

    afterAll(async () => {
        try {
            await project?.cleanup();
        } finally {
            for (const h of Object.values(hosts)) await h.stop();
        }
    });

    it("pulumi up installs the same release on the three hosts over SSH, in list order, each gated by an mTLS request", async () => {
        const served = await provideServerCertificate();
        const up = await project.pulumi(["up", "--yes"]);
        expect(up.stdout).toMatch(/command:remote:Command/);
        const outputs = await project.outputs(true);
        for (const name of ["alice", "ci-deployer"]) {
            const pem = pemFromP12(project.root, outputs.clients[name].pkcs12Base64, outputs.clients[name].password);
            credentials[name] = { cert: writeFile(project.root, `${name}.crt`, pem.certPem), key: writeFile(project.root, `${name}.key`, pem.keyPem, 0o600), ...pem };
        }
        expect(Object.keys(outputs.hosts)).toEqual(NAMES);
        for (const name of NAMES) {
            const facts = outputs.hosts[name];
            expect(facts).toMatchObject({ host: name, releaseId: outputs.releaseId, fingerprintSha256: served, action: "reload", previousRelease: "none" });
            expect(facts.nginxVersion).toMatch(/^\d+\.\d+\.\d+$/);
            expect(facts.gate).toMatchObject({ ok: true, status: 200, release: outputs.releaseId, fingerprintSha256: served });
            expect(await servedSha256(hosts[name])).toBe(served);
            const alice = get(hosts[name], caFile, credentials.alice);
            expect(alice.status).toBe(200);
            expect(alice.body).toMatch(/^upstream on .*CN=alice/);
            expect(get(hosts[name], caFile).status).toBe(400);
            // The same path on every host, each host's own files behind it.
            expect(fs.readlinkSync(path.join(hosts[name].privateDir!, "site", "current"))).toBe(`releases/${outputs.releaseId}`);
            expect(fs.readlinkSync(path.join(hosts[name].nginx.confD, "mtls-example.conf"))).toBe(path.join(sharedDir, "site", "current", "site.conf"));
        }
        // One host at a time: each host started after the previous one's gate passed.
        for (let i = 1; i < NAMES.length; i++) {
            const before = outputs.hosts[NAMES[i - 1]];
            const next = outputs.hosts[NAMES[i]];
            expect(Date.parse(before.installedAt)).toBeLessThanOrEqual(Date.parse(before.gate.checkedAt));
            expect(Date.parse(before.gate.checkedAt)).toBeLessThanOrEqual(Date.parse(next.startedAt));
        }
        // The probe key is in the state only as the gate commands' secret stdin.
        const state = await project.exportState();
        const gate = state.resources.find((r) => urnName(r.urn) === "mtls-site-host-eu-2-gate")!;
        expect(gate.type).toBe("command:local:Command");
        expect(JSON.stringify(gate.inputs!.stdin)).toMatch(/4dabf18193072939515e22adb298388d/);
        expect(state.text).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
        await project.pulumi(["preview", "--expect-no-changes"]);
    });

    it("1. a rotation under load: no failed request on any host; one host at a time, in list order", async () => {
        const before = await servedSha256(hosts[NAMES[0]]);
        const renewed = await provideServerCertificate();
        const plan = changedSteps(await project.previewSteps());
        // In-place updates: nothing replaced, so nothing to delete after the rollout.
        expect(plan).toEqual(NAMES.flatMap((n) => [`mtls-site-host-${n}-gate: update`, `mtls-site-host-${n}-install: update`, `mtls-site-host-${n}-served: update`]).sort());
        const loads = NAMES.map(
            (n) =>
                new SteadyLoad({
                    host: hosts[n].address,
                    port: 443,
                    servername: SITE_NAME,
                    caPem: webCa.root.certPem,
                    certPem: credentials.alice.certPem,
                    keyPem: credentials.alice.keyPem,
                    rate: 10,
                    minMs: 2000,
                    maxMs: 300_000,
                    expectBody: "^upstream on ",
                }),
        );
        let results;
        try {
            await project.pulumi(["up", "--yes"]);
            await new Promise((r) => setTimeout(r, 1000));
        } finally {
            loads.forEach((l) => l.stop());
            results = await Promise.all(loads.map((l) => l.result()));
        }
        const outputs = await project.outputs();
        NAMES.forEach((n, i) => {
            const outcomes = results[i].outcomes;
            const failed = outcomes.filter((o) => !o.ok);
            expect({ host: n, failed: failed.slice(0, 3) }).toEqual({ host: n, failed: [] });
            expect(outcomes.length).toBeGreaterThan(20);
            expect(outcomes[0].serverFingerprint).toBe(before);
            expect(outcomes[outcomes.length - 1].serverFingerprint).toBe(renewed);
            expect(outputs.hosts[n]).toMatchObject({ fingerprintSha256: renewed, action: "reload" });
        });
        // The order: install times per host do not overlap, in list order, each after the previous gate;
        // and what clients were served switched host after host.
        const firstNew = NAMES.map((_, i) => results[i].outcomes.find((o) => o.serverFingerprint === renewed)!.start);
        for (let i = 1; i < NAMES.length; i++) {
            const prev = outputs.hosts[NAMES[i - 1]];
            const next = outputs.hosts[NAMES[i]];
            expect(Date.parse(prev.installedAt)).toBeLessThanOrEqual(Date.parse(next.startedAt));
            expect(Date.parse(prev.gate.checkedAt)).toBeLessThanOrEqual(Date.parse(next.startedAt));
            expect(firstNew[i - 1]).toBeLessThan(firstNew[i]);
        }
        const summary = NAMES.map((n, i) => `${n}: ${results[i].outcomes.length} requests, 0 failed, install ${outputs.hosts[n].startedAt}..${outputs.hosts[n].installedAt}, gate ${outputs.hosts[n].gate.checkedAt}`);
        console.log(`rotation under load:\n${summary.join("\n")}`);
        await project.pulumi(["preview", "--expect-no-changes"]);
    });

    it("2. a fault on host 2: host 1 updated, host 2 rolled back and serving, host 3 untouched, up fails naming host 2 and nginx's reason; fixed, the next up completes 2 and 3", async () => {
        const h2 = hosts[NAMES[1]];
        const fault = path.join(h2.dir, "fault-nginx-t");
        const wrapper = writeFile(
            h2.dir,
            "nginx-wrapper.sh",
            `#!/bin/sh\n# nginx, except that -t fails while ${fault} exists\nfor a in "$@"; do\n  if [ "$a" = -t ] && [ -e '${fault}' ]; then\n    echo "nginx: [emerg] injected fault: the test made nginx -t fail on this host" >&2\n    exit 1\n  fi\ndone\nexec /usr/sbin/nginx "$@"\n`,
            0o755,
        );
        fs.writeFileSync(fault, "");
        editStack((c) => (c["mtls-nginx:target"][1].nginx.binary = wrapper));
        const old = await servedSha256(hosts[NAMES[0]]);
        const beforeInstalls = await installs();
        const renewed = await provideServerCertificate();

        const failed = await project.pulumi(["up", "--yes"], { allowFailure: true });
        expect(failed.code).not.toBe(0);
        const said = failed.stdout + failed.stderr;
        const updating = failed.stdout.slice(failed.stdout.indexOf("Updating ("));
        expect(said).toMatch(/mtls-site-host-eu-2-install/);
        expect(said).toMatch(/mtls-nginx: nginx -t rejected the new configuration; the previous configuration is still being served:/);
        expect(said).toMatch(/injected fault: the test made nginx -t fail on this host/);
        expect(said).toMatch(/mtls-nginx: host eu-2: the install failed; the rollout stops here: the hosts after it were not started/);
        expect(updating).toMatch(/mtls-site-host-eu-1-install updated/);
        expect(updating).not.toMatch(/mtls-site-host-us-1-(install|gate)/);

        expect(await servedSha256(hosts[NAMES[0]])).toBe(renewed);
        expect(await servedSha256(h2)).toBe(old);
        expect(get(h2, caFile, credentials.alice).status).toBe(200);
        expect(await servedSha256(hosts[NAMES[2]])).toBe(old);
        const afterInstalls = await installs();
        expect(ran(afterInstalls.get("mtls-site-host-us-1-install")!)).toEqual(ran(beforeInstalls.get("mtls-site-host-us-1-install")!));
        expect(afterInstalls.get("mtls-site-host-eu-2-install")!.outputs!.stdout).toBe(beforeInstalls.get("mtls-site-host-eu-2-install")!.outputs!.stdout);

        // Fixed: the next up goes on from host 2; host 1, on the new release, is not reinstalled.
        fs.rmSync(fault);
        const plan = changedSteps(await project.previewSteps());
        expect(plan.filter((s) => s.includes("eu-1-install") || s.includes("eu-1-gate"))).toEqual([]);
        expect(plan).toEqual(expect.arrayContaining(["mtls-site-host-eu-2-install: update", "mtls-site-host-us-1-install: update"]));
        const host1 = afterInstalls.get("mtls-site-host-eu-1-install")!.outputs!.stdout;
        await project.pulumi(["up", "--yes"]);
        for (const n of NAMES) expect(await servedSha256(hosts[n])).toBe(renewed);
        const outputs = await project.outputs();
        expect((await installs()).get("mtls-site-host-eu-1-install")!.outputs!.stdout).toBe(host1);
        expect(Date.parse(outputs.hosts["eu-2"].gate.checkedAt)).toBeLessThanOrEqual(Date.parse(outputs.hosts["us-1"].startedAt));
        expect(get(hosts[NAMES[2]], caFile, credentials["ci-deployer"]).status).toBe(200);
        await project.pulumi(["preview", "--expect-no-changes"]);
    });

    it("3. removing a host uninstalls the site there only; adding one installs the current release there only; reordering changes nothing", async () => {
        const h3 = hosts[NAMES[2]];
        const link = path.join(h3.nginx.confD, "mtls-example.conf");
        expect(linkExists(link)).toBe(true);
        const beforeInstalls = await installs();
        editStack((c) => (c["mtls-nginx:target"] = c["mtls-nginx:target"].slice(0, 2)));
        expect(changedSteps(await project.previewSteps())).toEqual(["mtls-site-host-us-1-gate: delete", "mtls-site-host-us-1-install: delete", "mtls-site-host-us-1-served: delete", "mtls-site-host-us-1: delete"]);
        await project.pulumi(["up", "--yes"]);
        expect(linkExists(link)).toBe(false);
        expect(fs.existsSync(path.join(h3.privateDir!, "site", "releases"))).toBe(false);
        expect(h3.nginxRunning()).toBe(true);
        expect(h3.exec("curl", ["-s", "http://127.0.0.1:8080/"]).stdout).toMatch(/^upstream on /);
        const afterRemove = await installs();
        for (const n of NAMES.slice(0, 2)) expect(ran(afterRemove.get(`mtls-site-host-${n}-install`)!)).toEqual(ran(beforeInstalls.get(`mtls-site-host-${n}-install`)!));
        for (const n of NAMES.slice(0, 2)) expect(get(hosts[n], caFile, credentials.alice).status).toBe(200);

        const ap = await addHost("ap-1");
        editStack((c) => c["mtls-nginx:target"].push(entry("ap-1", ap)));
        expect(changedSteps(await project.previewSteps())).toEqual(["mtls-site-host-ap-1-gate: create", "mtls-site-host-ap-1-install: create", "mtls-site-host-ap-1-served: create", "mtls-site-host-ap-1: create"]);
        await project.pulumi(["up", "--yes"]);
        const outputs = await project.outputs();
        expect(Object.keys(outputs.hosts).sort()).toEqual(["ap-1", "eu-1", "eu-2"]);
        expect(outputs.hosts["ap-1"]).toMatchObject({ releaseId: outputs.releaseId, previousRelease: "none", gate: { ok: true } });
        expect(get(ap, caFile, credentials.alice).status).toBe(200);
        const afterAdd = await installs();
        for (const n of NAMES.slice(0, 2)) expect(ran(afterAdd.get(`mtls-site-host-${n}-install`)!)).toEqual(ran(beforeInstalls.get(`mtls-site-host-${n}-install`)!));

        // Reordering: names are the keys; the new order lives in dependencies only.
        editStack((c) => (c["mtls-nginx:target"] = [c["mtls-nginx:target"][2], c["mtls-nginx:target"][0], c["mtls-nginx:target"][1]]));
        await project.pulumi(["preview", "--expect-no-changes"]);
        await project.pulumi(["up", "--yes", "--expect-no-changes"]);
        const state = await project.exportState();
        const eu1 = state.resources.find((r) => urnName(r.urn) === "mtls-site-host-eu-1-install")!;
        expect((eu1.dependencies as string[]).map(urnName)).toContain("mtls-site-host-ap-1-gate");
    });

    it("4. revocation reaches every host: a client removed from the stack is refused on all three, the others still get in", async () => {
        const live = ["ap-1", "eu-1", "eu-2"];
        for (const n of live) expect(get(hosts[n], caFile, credentials["ci-deployer"]).status).toBe(200);
        editStack((c) => (c["mtls-nginx:clients"] = c["mtls-nginx:clients"].filter((x: { name: string }) => x.name !== "ci-deployer")));
        await project.pulumi(["up", "--yes"]);
        const outputs = await project.outputs();
        for (const n of live) {
            expect(get(hosts[n], caFile, credentials["ci-deployer"]).status).toBe(400);
            expect(get(hosts[n], caFile, credentials.alice).status).toBe(200);
            expect(outputs.hosts[n]).toMatchObject({ releaseId: outputs.releaseId, gate: { ok: true } });
        }
        // In the list's (new) order, one at a time.
        for (let i = 1; i < live.length; i++) expect(Date.parse(outputs.hosts[live[i - 1]].gate.checkedAt)).toBeLessThanOrEqual(Date.parse(outputs.hosts[live[i]].startedAt));
    });

    it("5. drift per host: a site removed by hand from one host is noticed by refresh there only and restored by up there only", async () => {
        const eu2 = hosts["eu-2"];
        const link = path.join(eu2.nginx.confD, "mtls-example.conf");
        fs.rmSync(link);
        expect(eu2.exec("/bin/sh", ["-c", eu2.nginx.reloadCommand]).code).toBe(0);
        await new Promise((r) => setTimeout(r, 1000));
        await expect(servedSha256(eu2)).rejects.toThrow(/ECONNREFUSED/);
        await project.pulumi(["refresh", "--yes"]);
        expect(changedSteps(await project.previewSteps())).toEqual(["mtls-site-host-eu-2-gate: update", "mtls-site-host-eu-2-install: update"]);
        await project.pulumi(["up", "--yes"]);
        expect(linkExists(link)).toBe(true);
        expect(get(eu2, caFile, credentials.alice).status).toBe(200);
        await project.pulumi(["preview", "--expect-no-changes"]);
    });
});
