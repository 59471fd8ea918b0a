/**
 * Crash safety of the install script against a real nginx, for a dedicated instance and for a system
 * nginx that includes the site through its include link: the script is killed (SIGKILL of its whole
 * process group, as a CI timeout, an OOM kill or a lost runner would) at every step boundary, and then:
 * - `nginx -t` passes on the configuration a restart would load;
 * - a restart of nginx serves the release `current` names: the last confirmed one when the kill came
 *   before the swap, the new one (which passed nginx -t in its full context) after it;
 * - `previous` names a release that was confirmed live, and never one that was not;
 * - the next run (a third release) succeeds, and its `previous` is the last release confirmed live.
 * Also with a release nginx -t rejects: whatever the kill point, nginx keeps a valid configuration.
 */
import * as fs from "fs";
import * as path from "path";
import { INSTALL_STEPS, InstallScriptInput, renderInstallScript } from "../../components/nginx/install";
import { FixtureCert } from "../support/x509";
import { Pki, currentOf, curl, dedicatedConf, killAt, makePki, runScript, serverBlock, serverCert, siteFiles, systemControl, writeMainConf } from "../support/installHarness";
import { NGINX_BIN, NginxInstance, adopt, hasNginx, makeTestDir, nginxTest, startNginx, stopAll, waitForOldWorkers, workersOf } from "../support/nginx";
import { freePort } from "../support/ports";

const describeNginx = hasNginx() ? describe : describe.skip;

/** Steps after which the new release has been confirmed live. */
const CONFIRMED_AT = new Set(["live", "previous", "pruned"]);
/** The first step at which `current` names the new release. */
const SWAP_STEP = "swapped";

function previousOf(installDir: string): string | undefined {
    try {
        return fs.readlinkSync(path.join(installDir, "previous")).replace(/^releases\//, "");
    } catch {
        return undefined;
    }
}

function servedRelease(port: number, pki: Pki): string {
    const r = curl(port, pki.client);
    const m = /x-mtls-release: ([0-9a-f]+)/i.exec(r.headers);
    return `${r.code} ${m?.[1] ?? "none"}`;
}

interface Mode {
    name: "dedicated" | "system";
    installDir: string;
    /** The site's port (known after setup). */
    port(): number;
    /** Sets up the directories (and, for system, the main nginx). */
    setup(): Promise<void>;
    input(id: string): InstallScriptInput;
    render(broken: boolean): (rel: string, id: string) => { name: string; text: string };
    /** nginx -t on what a restart loads. */
    test(): { ok: boolean; output: string };
    /** Stops nginx and starts it again from its configuration. */
    restart(): Promise<void>;
    /** The master process of the nginx that serves the site. */
    masterPid(): number | undefined;
}

const timings: string[] = [];

/** Stops nginx at once (SIGTERM: as at a reboot, no graceful drain) and waits for it to exit. */
async function stopNow(instance: NginxInstance): Promise<void> {
    const pid = instance.pid();
    if (pid) {
        process.kill(pid, "SIGTERM");
        const deadline = Date.now() + 10_000;
        while (instance.pid() === pid && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    await instance.stop();
}

afterAll(async () => {
    await stopAll();
    if (timings.length) console.log(`kill test timings:\n${timings.join("\n")}`);
});

describeNginx("an install killed at any step leaves nginx valid, serving the last good release, and the next run succeeds", () => {
    let pki: Pki;
    let cert: FixtureCert;
    beforeAll(async () => {
        pki = await makePki(makeTestDir("crash-pki"));
        cert = await serverCert(pki);
    });

    const dedicated = (): Mode => {
        const dir = makeTestDir("crash-dedicated");
        const installDir = path.join(dir, "site");
        const prefix = path.join(dir, "prefix");
        let port = 0;
        let instance: NginxInstance | undefined;
        return {
            name: "dedicated",
            installDir,
            port: () => port,
            async setup() {
                port = await freePort();
            },
            input: (id) => ({
                installDir,
                releaseId: id,
                site: "crash",
                control: { kind: "dedicated", nginxBinary: NGINX_BIN, prefix, confFile: `${installDir}/current/nginx.conf` },
                sharedListen: false,
                liveCheck: { host: "127.0.0.1", port, timeoutSeconds: 5 },
                testHooks: true,
            }),
            render: (broken) => (rel, id) => ({ name: "nginx.conf", text: dedicatedConf({ prefix, rel, id, port, extra: broken ? "        ssl_crl /nonexistent/crl.pem;" : "" }) }),
            test: () => nginxTest(prefix, `${installDir}/current/nginx.conf`),
            async restart() {
                instance = instance ?? adopt(prefix, `${installDir}/current/nginx.conf`);
                await stopNow(instance);
                instance = await startNginx(prefix, `${installDir}/current/nginx.conf`);
            },
            masterPid: () => (instance ?? adopt(prefix, `${installDir}/current/nginx.conf`)).pid(),
        };
    };

    const system = (): Mode => {
        const dir = makeTestDir("crash-system");
        const prefix = path.join(dir, "nginx");
        const installDir = path.join(dir, "site");
        const confD = path.join(prefix, "conf.d");
        const mainConf = path.join(prefix, "nginx.conf");
        let port = 0;
        let main: NginxInstance | undefined;
        return {
            name: "system",
            installDir,
            port: () => port,
            async setup() {
                const mainPort = await freePort();
                port = await freePort();
                writeMainConf(prefix, mainPort);
                main = await startNginx(prefix, mainConf);
            },
            input: (id) => ({
                installDir,
                releaseId: id,
                site: "crash-system",
                control: systemControl(prefix, mainConf, path.join(confD, "mtls-crash.conf")),
                sharedListen: true,
                liveCheck: { port, serverName: "localhost", timeoutSeconds: 5 },
                testHooks: true,
            }),
            render: (broken) => (rel, id) => ({ name: "site.conf", text: serverBlock({ rel, id, port, extra: broken ? "        ssl_crl /nonexistent/crl.pem;" : "" }) }),
            test: () => nginxTest(prefix, mainConf),
            async restart() {
                await stopNow(main!);
                main = await startNginx(prefix, mainConf);
            },
            masterPid: () => main?.pid(),
        };
    };

    for (const make of [dedicated, system]) {
        describe(make.name, () => {
            const mode = make();
            let n = 0;
            /** Releases confirmed live so far. */
            const confirmed = new Set<string>();
            let last = "";
            const release = (broken = false) => siteFiles(cert, pki, mode.render(broken), mode.installDir, `${mode.name}-${n++}${broken ? "-broken" : ""}`);

            beforeAll(async () => {
                await mode.setup();
                const a = release();
                const r = await runScript(renderInstallScript(mode.input(a.id)), a.payload);
                expect(r.stderr).toBe("");
                expect(r.code).toBe(0);
                if (mode.name === "dedicated") adopt(path.join(path.dirname(mode.installDir), "prefix"), `${mode.installDir}/current/nginx.conf`);
                confirmed.add(a.id);
                last = a.id;
            });

            const cases: Array<[string, boolean]> = [...INSTALL_STEPS.map((s): [string, boolean] => [s, false]), ...["locked", "staged", "released", "tested", "swapped"].map((s): [string, boolean] => [s, true])];
            for (const [step, broken] of cases) {
                test(`killed at "${step}"${broken ? " installing a release nginx -t rejects" : ""}`, async () => {
                    const t0 = Date.now();
                    const installDir = mode.installDir;
                    const before = last;
                    expect(currentOf(installDir)).toBe(before);
                    const b = release(broken);
                    const killed = await killAt(renderInstallScript(mode.input(b.id)), b.payload, step);
                    if (!broken) expect({ step, reached: killed.reached, stderr: killed.stderr }).toEqual({ step, reached: true, stderr: expect.any(String) });
                    const tKilled = Date.now();
                    const swapped = killed.reached && !broken && INSTALL_STEPS.indexOf(step as (typeof INSTALL_STEPS)[number]) >= INSTALL_STEPS.indexOf(SWAP_STEP);
                    if (killed.reached && CONFIRMED_AT.has(step) && !broken) confirmed.add(b.id);

                    // nginx -t passes on what a restart would load; `previous` names a confirmed release.
                    const t = mode.test();
                    expect({ step, nginxTest: t.ok, output: t.output }).toEqual({ step, nginxTest: true, output: expect.any(String) });
                    const prev = previousOf(installDir);
                    if (prev !== undefined) expect({ step, previous: prev, confirmed: confirmed.has(prev) }).toEqual({ step, previous: prev, confirmed: true });
                    const expected = swapped ? b.id : before;
                    expect({ step, current: currentOf(installDir) }).toEqual({ step, current: expected });

                    // A restart serves that release.
                    await mode.restart();
                    expect({ step, served: servedRelease(mode.port(), pki) }).toEqual({ step, served: `200 ${expected}` });
                    const tRestarted = Date.now();

                    // The next run, with a third release, succeeds; its `previous` is the last release confirmed live.
                    const c = release();
                    const workersBefore = workersOf(mode.masterPid()!).map((w) => w.pid);
                    const r = await runScript(renderInstallScript(mode.input(c.id)), c.payload);
                    expect({ step, code: r.code, stderr: r.stderr }).toEqual({ step, code: 0, stderr: expect.not.stringMatching(/error|failed|rejected/i) });
                    // Killed between the swap and the confirmation: the journal made it restore the last confirmed release first.
                    const interrupted = swapped && !CONFIRMED_AT.has(step);
                    expect({ step, recovered: r.stderr.includes(`an earlier install of release ${b.id} was interrupted`) }).toEqual({ step, recovered: interrupted });
                    if (interrupted) expect(r.stderr).toContain(`restored: current -> releases/${before}, the last release confirmed live`);
                    expect(fs.existsSync(path.join(installDir, ".journal"))).toBe(false);
                    expect(currentOf(installDir)).toBe(c.id);
                    const lastConfirmed = CONFIRMED_AT.has(step) && !broken ? b.id : before;
                    expect({ step, previous: previousOf(installDir) }).toEqual({ step, previous: lastConfirmed });
                    confirmed.add(c.id);
                    last = c.id;
                    // Right after a reload, a worker of the old configuration may still take a new connection for a
                    // moment (it has not handled its QUIT yet): the new release is served within a few seconds.
                    await waitForOldWorkers(mode.masterPid()!, workersBefore);
                    const deadline = Date.now() + 10_000;
                    while (servedRelease(mode.port(), pki) !== `200 ${c.id}` && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
                    expect(servedRelease(mode.port(), pki)).toBe(`200 ${c.id}`);
                    timings.push(`  ${mode.name} ${broken ? "broken " : ""}${step}: killed after ${tKilled - t0} ms, checks + restart ${tRestarted - tKilled} ms, next run ${r.ms} ms`);
                }, 120_000);
            }
        });
    }
});
