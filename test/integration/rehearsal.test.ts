import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { DeploymentSimulator, localCommandExecutor } from "../support/engine";
import { adopt, hasNginx, makeTestDir, stopAll } from "../support/nginx";
import { freePort } from "../support/ports";
import { readStackFile, toProgramConfig } from "../support/stackConfig";

const describeIf = hasNginx() ? describe : describe.skip;

describeIf("rehearsal of the main job: index.ts with the dev stack", () => {
    let dir: string;
    let port: number;
    let sim: DeploymentSimulator;
    let outputs: Record<string, any>;

    beforeAll(async () => {
        dir = makeTestDir("rehearsal");
        port = await freePort();
        const config = readStackFile("dev") as Record<string, any>;
        config["mtls-nginx:site"].listen.port = port;
        config["mtls-nginx:target"].installDir = path.join(dir, "nginx");
        sim = new DeploymentSimulator({ executors: { "command:local:Command": localCommandExecutor } });
        const result = await sim.run(
            () => {
                let exports: any;
                jest.isolateModules(() => {
                    exports = require("../../index");
                });
                return exports;
            },
            { config: toProgramConfig(config), now: new Date() },
        );
        outputs = result.outputs;
        adopt(path.join(dir, "nginx"), path.join(dir, "nginx", "current", "nginx.conf"));
    });

    afterAll(async () => {
        await sim?.destroy();
        await stopAll();
    });

    it("serves the site", () => {
        console.log(JSON.stringify(Object.keys(outputs)), outputs.url, outputs.curl);
        const p12 = path.join(dir, "alice.p12");
        fs.writeFileSync(p12, Buffer.from(outputs.clients.alice.pkcs12Base64, "base64"));
        fs.writeFileSync(path.join(dir, "ca.crt"), outputs.caCertPem);
        const ok = spawnSync("curl", ["-sS", "-o", "-", "-w", "%{http_code}", "--resolve", `localhost:${port}:127.0.0.1`, "--cacert", path.join(dir, "ca.crt"), "--cert-type", "P12", "--cert", `${p12}:${outputs.clients.alice.password}`, `https://localhost:${port}/`], { encoding: "utf8" });
        console.log(ok.stdout, ok.stderr);
        expect(ok.stdout).toMatch(/200$/);
    });
});
