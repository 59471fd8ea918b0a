/**
 * The Docker target without Docker: the CONTAINER's release (rendered by the one renderer for the
 * container layout) and the GENERATED commands (`docker exec -i <container> /bin/sh -c '<install script>'`,
 * the uninstall command, the entry script, the healthcheck), run against a real local nginx.
 *
 * - The install directory in the container (/etc/nginx/mtls) is stood in for by a temporary directory:
 *   the release is rendered with installDir = that directory, and the test first shows that it holds the
 *   same files at the same relative paths as the release rendered for /etc/nginx/mtls (identical up to
 *   the directory and the release id it names).
 * - The site listens on 0.0.0.0 in the container (Docker publishes to the container's interface). Here
 *   nothing may listen beyond 127.0.0.1, so site.conf's `listen 0.0.0.0:<port>` becomes
 *   `listen 127.0.0.1:<port>`: the one change made to the rendered files.
 * - `docker` is a shim first on PATH: `docker exec -i <name> /bin/sh -c <script> <argv0>` runs the script
 *   here (stdin passed through), `docker container inspect <name>` answers for that one container; it
 *   records DOCKER_HOST, which the command gets from its environment like local.Command gives it.
 * The commands are built by the same functions NginxSite uses (the unit test checks the recorded
 * command is exactly that composition) and run as local.Command runs them: `/bin/sh -c <command>`,
 * the payload on stdin.
 */
import { spawn, spawnSync, ChildProcess } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import {
    DockerTargetSettings,
    dockerInstallCommand,
    dockerUninstallCommand,
    renderContainerEntrypoint,
    renderHealthcheck,
    resolveDockerTarget,
} from "../../components/nginx/dockerTarget";
import { uninstallInput } from "../../components/nginx/hostTarget";
import { InstallFile, contentHash, encodePayload, renderInstallScript, renderUninstallScript } from "../../components/nginx/install";
import { buildSiteRelease, SiteDefinition, SiteMaterial, validateSiteDefinition } from "../../components/nginx/release";
import { curlGet, writeFile } from "../support/clients";
import { NGINX_BIN, adopt, hasNginx, makeTestDir, nginxTest, processRunning, stopAll } from "../support/nginx";
import { freePort } from "../support/ports";
import { FixtureCert, issue, makeHierarchy } from "../support/x509";

const describeIf = hasNginx() ? describe : describe.skip;
const CONTAINER_NAME = "mtls-nginx-box";
const DOCKER_HOST = "ssh://deploy@docker.example.com";

const DOCKER_SHIM = `#!/bin/sh
# A fake docker CLI for tests: the "container" is this machine.
printf '%s DOCKER_HOST=%s\\n' "$1" "\${DOCKER_HOST:-}" >> "$FAKE_DOCKER_LOG"
if [ -n "\${FAKE_DOCKER_DOWN:-}" ]; then
    echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
    exit 1
fi
case $1 in
exec)
    shift
    [ "$1" = -i ] || { echo "fake docker: expected exec -i" >&2; exit 2; }
    shift
    if [ "$1" = --user ]; then shift 2; fi
    if [ "$1" != "$FAKE_DOCKER_CONTAINER" ]; then echo "Error response from daemon: No such container: $1" >&2; exit 1; fi
    shift
    exec "$@"
    ;;
container)
    [ "$2" = inspect ] || { echo "fake docker: unsupported: $*" >&2; exit 2; }
    for last; do :; done
    if [ "$last" = "$FAKE_DOCKER_CONTAINER" ]; then echo 0123456789abcdef; exit 0; fi
    echo "Error: No such container: $last" >&2
    exit 1
    ;;
*)
    echo "fake docker: unsupported: $*" >&2
    exit 2
    ;;
esac
`;

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
}

function fingerprint(certPem: string): string {
    return new crypto.X509Certificate(certPem).fingerprint256.replace(/:/g, "").toLowerCase();
}

/** The certificate nginx serves on 127.0.0.1:port (SNI localhost), without a client certificate. */
function servedFingerprint(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false }, () => {
            const fp = socket.getPeerCertificate().fingerprint256.replace(/:/g, "").toLowerCase();
            socket.destroy();
            resolve(fp);
        });
        socket.setTimeout(5000, () => socket.destroy(new Error("timeout")));
        socket.on("error", reject);
    });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (await check()) return;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** A PATH directory holding every tool of this machine but openssl (an image without openssl). */
function pathWithoutOpenssl(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const d of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])) {
        let names: string[] = [];
        try {
            names = fs.readdirSync(d);
        } catch {
            continue;
        }
        for (const n of names) {
            if (n === "openssl" || fs.existsSync(path.join(dir, n))) continue;
            try {
                fs.symlinkSync(path.join(d, n), path.join(dir, n));
            } catch {
                /* a name seen twice */
            }
        }
    }
    return dir;
}

describeIf("the Docker target's config and commands against a real nginx (no Docker engine needed)", () => {
    let dir: string;
    let installDir: string;
    let port: number;
    let shimDir: string;
    let dockerLog: string;
    let caFile: string;
    let alice: { cert: string; key: string };
    let issuer: FixtureCert;
    let def: SiteDefinition;
    let local: DockerTargetSettings;
    let container: DockerTargetSettings;
    let supervisor: ChildProcess | undefined;
    let supervisorOut = "";
    let supervisorExit: Promise<number | null>;

    const has = { trustedCa: false, crl: false };

    function material(server: FixtureCert, keyPem = server.key.privateKeyPem): SiteMaterial {
        return { serverFullChainPem: server.certPem, serverKeyPem: keyPem, clientCaPem: issuer.certPem };
    }

    /** The release rendered for the stand-in directory, with the one listen change; its install and uninstall commands. */
    function release(m: SiteMaterial) {
        const r = buildSiteRelease(def, m, { installDir: local.installDir, dedicated: true });
        let replaced = 0;
        const files: InstallFile[] = r.files.map((f) => {
            if (f.path !== "site.conf") return f;
            const content = f.content.replace(new RegExp(`listen 0\\.0\\.0\\.0:${port} `, "g"), () => (replaced++, `listen 127.0.0.1:${port} `));
            return { ...f, content };
        });
        expect(replaced).toBe(1);
        const hash = contentHash(files);
        const scriptInput = { ...local.script, releaseId: r.releaseId, expectedContentHash: hash };
        return {
            id: r.releaseId,
            files,
            payload: encodePayload(files),
            fingerprint: fingerprint(m.serverFullChainPem),
            install: dockerInstallCommand(local, CONTAINER_NAME, renderInstallScript(scriptInput)),
            uninstall: dockerUninstallCommand(local, CONTAINER_NAME, renderUninstallScript(uninstallInput(scriptInput))),
        };
    }

    /** Runs a command string as local.Command does (`/bin/sh -c`, stdin piped), with the shim docker first on PATH. */
    function runCommand(command: string, stdin: string, env: Record<string, string> = {}, basePath = process.env.PATH ?? ""): Run {
        const r = spawnSync("/bin/sh", ["-c", command], {
            input: stdin,
            encoding: "utf8",
            timeout: 90_000,
            env: { ...process.env, PATH: `${shimDir}:${basePath}`, DOCKER_HOST, FAKE_DOCKER_LOG: dockerLog, FAKE_DOCKER_CONTAINER: CONTAINER_NAME, ...env },
        });
        return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    }

    function current(): string {
        return fs.readlinkSync(path.join(installDir, "current")).replace(/^releases\//, "");
    }

    function healthcheck(): Run {
        const r = spawnSync("/bin/sh", ["-c", renderHealthcheck(local)], { encoding: "utf8", timeout: 30_000 });
        return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    }

    const aliceGet = () => curlGet({ port, caFile }, { kind: "pem", cert: alice.cert, key: alice.key });

    beforeAll(async () => {
        dir = makeTestDir("docker-config");
        installDir = path.join(dir, "etc-nginx-mtls"); // stands in for /etc/nginx/mtls
        port = await freePort();
        shimDir = path.join(dir, "bin");
        fs.mkdirSync(shimDir);
        fs.writeFileSync(path.join(shimDir, "docker"), DOCKER_SHIM, { mode: 0o755 });
        dockerLog = path.join(dir, "docker.log");

        ({ issuer } = await makeHierarchy({ name: "Docker Config" }));
        const client = await issue({ subject: "CN=alice", usage: "client" }, issuer);
        const files = path.join(dir, "client");
        fs.mkdirSync(files, { mode: 0o700 });
        caFile = writeFile(files, "ca.crt", issuer.certPem);
        alice = { cert: writeFile(files, "alice.crt", client.certPem), key: writeFile(files, "alice.key", client.key.privateKeyPem, 0o600) };

        def = { siteName: "box", serverNames: ["localhost"], verifyDepth: 1, listen: { address: "0.0.0.0", port }, mode: { kind: "static" } };
        const spec = validateSiteDefinition(def, { installDir: "/etc/nginx/mtls", dedicated: true }, has, "site");
        container = resolveDockerTarget({ kind: "docker", ports: [{ hostIp: "127.0.0.1", hostPort: port }] }, spec);
        local = resolveDockerTarget({ kind: "docker", installDir, nginxBinary: NGINX_BIN, ports: [{ hostIp: "127.0.0.1", hostPort: port }], liveCheck: { timeoutSeconds: 5 } }, spec);
    });

    afterAll(async () => {
        if (supervisor && supervisor.exitCode === null) supervisor.kill("SIGKILL");
        await stopAll();
    });

    it("renders the container's release: the same files at the same relative paths as for /etc/nginx/mtls", async () => {
        const server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, issuer);
        const inContainer = buildSiteRelease(def, material(server), { installDir: container.installDir, dedicated: true });
        const here = buildSiteRelease(def, material(server), { installDir: local.installDir, dedicated: true });
        expect(container.installDir).toBe("/etc/nginx/mtls");
        expect(here.files.map((f) => [f.path, f.mode])).toEqual(inContainer.files.map((f) => [f.path, f.mode]));
        const mapped = here.files.map((f) => f.content.split(installDir).join("/etc/nginx/mtls").split(here.releaseId).join(inContainer.releaseId));
        expect(mapped).toEqual(inContainer.files.map((f) => f.content));
        expect(inContainer.nginxConf).toContain("pid /etc/nginx/mtls/run/nginx.pid;");
        expect(inContainer.siteConf).toMatch(new RegExp(`listen 0\\.0\\.0\\.0:${port} ssl`));
    });

    it("the container's entry script waits for the first release", async () => {
        supervisor = spawn("/bin/sh", ["-c", renderContainerEntrypoint(local, { pollSeconds: 1 }), "mtls-nginx"], { stdio: ["ignore", "pipe", "pipe"] });
        supervisor.stdout!.on("data", (d) => (supervisorOut += d));
        supervisor.stderr!.on("data", (d) => (supervisorOut += d));
        supervisorExit = new Promise((resolve) => supervisor!.on("exit", (code) => resolve(code)));
        await waitFor("the entry script to wait", () => supervisorOut.includes(`waiting for a release in ${installDir}/current`));
        expect(healthcheck()).toMatchObject({ code: 1, stdout: expect.stringContaining("nginx is not running") });
    });

    let v1: ReturnType<typeof release>;
    let v3: ReturnType<typeof release>;

    it("installs the first release through docker exec: nginx -t, start, served; the key 0600; DOCKER_HOST passed on", async () => {
        const server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, issuer);
        v1 = release(material(server));
        expect(v1.install.startsWith(`docker exec -i ${CONTAINER_NAME} /bin/sh -c '# mtls-nginx install script for site box`)).toBe(true);
        expect(v1.install).not.toMatch(/PRIVATE KEY/);
        const r = runCommand(v1.install, v1.payload);
        adopt(installDir, path.join(installDir, "current", "nginx.conf"));
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        expect(r.stdout).toContain(`release ${v1.id} is live (start; previous: none`);
        expect(r.stdout).toContain(`certificate sha256 ${v1.fingerprint}`);
        expect(r.stdout).toMatch(/live check: openssl$/m);
        expect(fs.readFileSync(dockerLog, "utf8")).toContain(`exec DOCKER_HOST=${DOCKER_HOST}`);
        expect(fs.statSync(path.join(installDir, "current", "server.key")).mode & 0o777).toBe(0o600);
        expect(nginxTest(installDir, path.join(installDir, "current", "nginx.conf")).ok).toBe(true);

        const ok = aliceGet();
        expect(ok.status).toBe(200);
        expect(ok.body).toContain("You are in.");
        expect(curlGet({ port, caFile }, { kind: "none" }).status).toBe(400);
        expect(await servedFingerprint(port)).toBe(v1.fingerprint);
    });

    it("the healthcheck reports healthy while nginx serves TLS on the site's port", () => {
        expect(healthcheck()).toEqual({ code: 0, stdout: `nginx serves TLS on 127.0.0.1:${port}\n`, stderr: "" });
    });

    it("rotates the server certificate: the new one is served after a graceful reload", async () => {
        const server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, issuer);
        const v2 = release(material(server));
        const r = runCommand(v2.install, v2.payload);
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        expect(r.stdout).toContain(`release ${v2.id} is live (reload; previous: ${v1.id}`);
        expect(current()).toBe(v2.id);
        expect(await servedFingerprint(port)).toBe(v2.fingerprint);
        expect(aliceGet().status).toBe(200);
    });

    it("rotates in an image without openssl: the live check compares the served certificate with curl", async () => {
        const server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, issuer);
        v3 = release(material(server));
        const noOpenssl = pathWithoutOpenssl(path.join(dir, "no-openssl-bin"));
        expect(spawnSync("/bin/sh", ["-c", "command -v openssl"], { env: { PATH: noOpenssl } }).status).not.toBe(0);
        const r = runCommand(v3.install, v3.payload, {}, noOpenssl);
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        expect(r.stdout).toContain(`release ${v3.id} is live (reload;`);
        expect(r.stdout).toContain(`certificate sha256 ${v3.fingerprint}`);
        expect(r.stdout).toMatch(/live check: curl$/m);
        expect(await servedFingerprint(port)).toBe(v3.fingerprint);
    });

    it("with neither openssl nor curl, refuses before changing anything", async () => {
        const bare = path.join(dir, "bare-bin");
        fs.mkdirSync(bare);
        const noOpenssl = path.join(dir, "no-openssl-bin");
        for (const n of fs.readdirSync(noOpenssl)) if (n !== "curl") fs.symlinkSync(fs.readlinkSync(path.join(noOpenssl, n)), path.join(bare, n));
        const server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, issuer);
        const v = release(material(server));
        const r = runCommand(v.install, v.payload, {}, bare);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("neither openssl nor curl 7.88+");
        expect(current()).toBe(v3.id);
        expect(fs.existsSync(path.join(installDir, "releases", v.id))).toBe(false);
    });

    it("rolls back a broken update (a key that does not match the certificate): nginx -t refuses, the previous release stays served", async () => {
        const server = await issue({ subject: "CN=localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] }, issuer);
        const other = await issue({ subject: "CN=other", usage: "server", dnsNames: ["other"] }, issuer);
        const broken = release(material(server, other.key.privateKeyPem));
        const r = runCommand(broken.install, broken.payload);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("mtls-nginx: nginx -t rejected the new configuration; the previous configuration is still being served:");
        expect(r.stderr).not.toMatch(/PRIVATE KEY/);
        expect(current()).toBe(v3.id);
        expect(fs.existsSync(path.join(installDir, "releases", broken.id))).toBe(false);
        expect(await servedFingerprint(port)).toBe(v3.fingerprint);
        expect(aliceGet().status).toBe(200);
    });

    it("the entry script starts nginx again when it dies (as after a container restart), with the current release", async () => {
        const pid = Number(fs.readFileSync(path.join(installDir, "run", "nginx.pid"), "utf8").trim());
        const startLine = `starting nginx with release ${v3.id}`;
        const startsBefore = supervisorOut.split(startLine).length;
        process.kill(pid, "SIGQUIT");
        // The entry script may restart nginx within its poll, so the pid file's absence can be missed: watch the old master.
        await waitFor("nginx to stop", () => !processRunning(pid), 70_000);
        await waitFor("the entry script to start nginx", () => supervisorOut.split(startLine).length > startsBefore);
        await waitFor("the site to answer", async () => (await servedFingerprint(port).catch(() => "")) === v3.fingerprint);
        expect(aliceGet().status).toBe(200);
        expect(healthcheck().code).toBe(0);
    });

    it("uninstalls through docker exec; a container that is gone leaves nothing to do; an unreachable daemon fails the delete", async () => {
        const stillThere = runCommand(v1.uninstall, "");
        expect({ code: stillThere.code, stderr: stillThere.stderr }).toEqual({ code: 0, stderr: "" });
        expect(stillThere.stdout).toContain(`current is release ${v3.id}, not ${v1.id}`); // another release owns the site

        const removed = runCommand(v3.uninstall, "");
        expect({ code: removed.code, stderr: removed.stderr }).toEqual({ code: 0, stderr: "" });
        expect(removed.stdout).toMatch(new RegExp(`removed release ${v3.id} from .*; stopped nginx`));
        expect(curlGet({ port, caFile }, { kind: "none" }).exitCode).toBe(7); // connection refused
        await new Promise((r) => setTimeout(r, 2500)); // two polls of the entry script: no release, no restart
        expect(curlGet({ port, caFile }, { kind: "none" }).exitCode).toBe(7);

        const gone = runCommand(v3.uninstall, "", { FAKE_DOCKER_CONTAINER: "another" });
        expect({ code: gone.code, stdout: gone.stdout }).toEqual({ code: 0, stdout: `mtls-nginx: container ${CONTAINER_NAME} is gone; nothing to uninstall\n` });
        const down = runCommand(v3.uninstall, "", { FAKE_DOCKER_DOWN: "1" });
        expect(down.code).not.toBe(0);
        expect(down.stderr).toContain("Cannot connect to the Docker daemon");
    });

    it("docker stop (TERM to the entry script) stops nginx gracefully and exits 0", async () => {
        const r = runCommand(v3.install, v3.payload);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`release ${v3.id} is live (start;`);
        expect(aliceGet().status).toBe(200);
        supervisor!.kill("SIGTERM");
        expect(await supervisorExit).toBe(0);
        expect(supervisorOut).toMatch(/stopping nginx \(pid \d+\) gracefully/);
        expect(curlGet({ port, caFile }, { kind: "none" }).exitCode).toBe(7);
    });
});
