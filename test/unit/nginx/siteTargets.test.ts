/**
 * NginxSite's SSH target, under the DeploymentSimulator (no SSH server here): the remote.Command it
 * registers gets the connection, the release payload on stdin (secret), `logging: "none"`, the content hash
 * as its trigger, and scripts wrapped for /bin/sh. Then the exact wrapped command string is run the way an
 * SSH server runs a command (`<login shell> -c '<command>'`, the payload on stdin) against a real nginx on
 * 127.0.0.1: the same code path a remote host runs, end to end (install, serve, uninstall).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MtlsNginx } from "../../../components/mtlsNginx";
import { contentHash, decodePayload, PAYLOAD_HEADER } from "../../../components/nginx/install";
import { shWrap } from "../../../components/nginx/shell";
import { curlGet, writeFile } from "../../support/clients";
import { DeploymentSimulator, SimResource } from "../../support/engine";
import { adopt, hasNginx, makeTestDir, stopAll } from "../../support/nginx";
import { freePort } from "../../support/ports";
import { fakePem } from "../../support/x509";

const REMOTE = "command:remote:Command";
const FAKE_SSH_KEY = fakePem("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAAfakefakefakefake");

/** What `sshd` does with a command: `<login shell> -c <command>`, stdin connected to the client's. */
function runAsSshServerWould(command: string, stdin: string) {
    const loginShell = fs.existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";
    const r = spawnSync(loginShell, ["-c", command], { input: stdin, encoding: "utf8", timeout: 60_000 });
    return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** The script a `/bin/sh -c '<script>' <name>` command string runs (its quoted argument, unquoted by a shell). */
function innerScript(command: string): { script: string; name: string } {
    expect(command.startsWith("/bin/sh -c '")).toBe(true);
    const r = spawnSync("/bin/sh", ["-c", `show() { printf '%s\\0%s' "$2" "$3"; }; show ${command.slice("/bin/sh ".length)}`], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const [script, name] = r.stdout.split("\0");
    return { script, name };
}

describe("NginxSite on an SSH target", () => {
    let dir: string;
    let installDir: string;
    let port: number;
    let sim: DeploymentSimulator;
    let outputs: Record<string, any>;
    let installer: SimResource;

    beforeAll(async () => {
        dir = makeTestDir("ssh-target");
        installDir = path.join(dir, "site");
        port = await freePort();
        sim = new DeploymentSimulator(); // remote commands are recorded, not run
        const result = await sim.run(() => {
            const mtls = new MtlsNginx("edge", {
                ca: { commonName: "edge Root CA" },
                server: { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] },
                clients: [{ name: "alice" }],
                site: { listen: { address: "127.0.0.1", port }, mode: { kind: "static" } },
                target: {
                    kind: "ssh",
                    connection: { host: "192.0.2.10", user: "deploy", privateKey: pulumi.secret(FAKE_SSH_KEY) },
                    installDir,
                    nginx: { kind: "dedicated" },
                },
            });
            return { releaseId: mtls.site.releaseId, caCertPem: mtls.caCertPem, alice: { p12: mtls.clients.alice.pkcs12Base64, password: mtls.clients.alice.pkcs12Password, keyPem: mtls.clients.alice.keyPem } };
        });
        outputs = result.outputs;
        const commands = [...result.resources.values()].filter((r) => r.custom && r.type.startsWith("command:"));
        expect(commands.map((r) => `${r.type} ${r.name}`)).toEqual([`${REMOTE} edge-site-install`]);
        installer = commands[0];
    });

    afterAll(async () => {
        await stopAll();
    });

    it("passes the SSH connection, with the private key kept secret", () => {
        expect(installer.inputs.connection).toMatchObject({ host: "192.0.2.10", user: "deploy", privateKey: FAKE_SSH_KEY });
        expect(installer.secretInputs).toContain("connection");
    });

    it("sends the release on stdin, as a secret, and logs nothing", () => {
        const stdin = installer.inputs.stdin as string;
        expect(stdin.startsWith(`${PAYLOAD_HEADER}\n`)).toBe(true);
        const files = decodePayload(stdin);
        expect(files.find((f) => f.path === "server.key")).toMatchObject({ mode: 0o600, content: expect.stringMatching(/-----BEGIN [A-Z ]*PRIVATE KEY-----/) });
        expect(installer.secretInputs).toContain("stdin");
        expect(installer.secretInputs.sort()).toEqual(["connection", "stdin"]);
        expect(installer.inputs.logging).toBe("none");
        expect(installer.inputs.addPreviousOutputInEnv).toBe(false);
    });

    it("triggers on the content hash of the release (the payload's own end line)", () => {
        const stdin = installer.inputs.stdin as string;
        const hash = contentHash(decodePayload(stdin));
        expect(installer.inputs.triggers).toEqual([hash]);
        expect(stdin.trimEnd().split("\n").pop()).toMatch(new RegExp(` ${hash}$`));
        // the install script checks it too
        expect(innerScript(installer.inputs.create).script).toContain(`MTLS_EXPECT_HASH=${hash}`);
    });

    it("wraps every script for /bin/sh, whatever the login shell, and holds no key material in the command strings", () => {
        const { create, update, delete: del } = installer.inputs as Record<string, string>;
        expect(update).toBe(create);
        const install = innerScript(create);
        const uninstall = innerScript(del);
        expect(install.name).toBe("mtls-nginx");
        expect(create).toBe(shWrap(install.script));
        expect(del).toBe(shWrap(uninstall.script));
        expect(install.script).toMatch(/^# mtls-nginx install script for site edge, release [0-9a-f]{16}/);
        expect(install.script).toContain(`MTLS_RELEASE=${outputs.releaseId}`);
        expect(uninstall.script).toMatch(/^# mtls-nginx uninstall script for site edge/);
        const serverKey = decodePayload(installer.inputs.stdin).find((f) => f.path === "server.key")!.content;
        for (const text of [create, del]) {
            expect(text).not.toMatch(/PRIVATE KEY/);
            expect(text).not.toContain(serverKey.split("\n")[1]);
            expect(text).not.toContain(FAKE_SSH_KEY.split("\n")[1]);
        }
    });

    (hasNginx() ? it : it.skip)("installs a working site when the wrapped command runs as an SSH server runs it, and uninstalls it", () => {
        const { create, delete: del } = installer.inputs as Record<string, string>;
        const installed = runAsSshServerWould(create, installer.inputs.stdin);
        adopt(installDir, path.join(installDir, "current", "nginx.conf")); // safety net for afterAll
        expect({ code: installed.code, stderr: installed.stderr }).toEqual({ code: 0, stderr: "" });
        expect(installed.stdout).toContain(`release ${outputs.releaseId} is live (start;`);
        expect(fs.statSync(path.join(installDir, "current", "server.key")).mode & 0o777).toBe(0o600);

        const files = path.join(dir, "client");
        fs.mkdirSync(files, { mode: 0o700 });
        const target = { port, caFile: writeFile(files, "ca.crt", outputs.caCertPem) };
        const p12 = writeFile(files, "alice.p12", Buffer.from(outputs.alice.p12, "base64"), 0o600);
        const alice = curlGet(target, { kind: "p12", file: p12, password: outputs.alice.password });
        expect(alice.status).toBe(200);
        expect(alice.body).toContain("You are in.");
        expect(curlGet(target, { kind: "none" }).status).toBe(400);

        // Running it again with the same payload changes nothing (what a retried `pulumi up` does).
        const again = runAsSshServerWould(create, installer.inputs.stdin);
        expect(again.code).toBe(0);
        expect(again.stdout).toContain(`release ${outputs.releaseId} is live (none;`);

        const removed = runAsSshServerWould(del, "");
        expect({ code: removed.code, stderr: removed.stderr }).toEqual({ code: 0, stderr: "" });
        expect(removed.stdout).toMatch(/removed release [0-9a-f]{16} from .*; stopped nginx/);
        expect(fs.existsSync(path.join(installDir, "current"))).toBe(false);
        expect(curlGet(target, { kind: "p12", file: p12, password: outputs.alice.password }).exitCode).toBe(7); // connection refused: nginx is gone
    });
});
