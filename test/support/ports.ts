import * as fs from "fs";
import * as net from "net";

/**
 * Test ports come from below the kernel's ephemeral range: a port the OS hands out (the listener of a
 * Pulumi plugin, the local end of a connection) could otherwise take a port between our choosing it and
 * nginx binding it. Each jest worker has its own slice, walked from a random point, so parallel workers
 * (and runs) do not pick the same port.
 */
const EPHEMERAL_START = (() => {
    try {
        return Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
    } catch {
        return 32768;
    }
})();
const RANGE_START = 20000;
const RANGE_END = Math.max(RANGE_START + 8 * 500, Math.min(EPHEMERAL_START, 32768));
const WORKERS = 8;
const SLICE = Math.floor((RANGE_END - RANGE_START) / WORKERS);
const WORKER = (Number(process.env.JEST_WORKER_ID ?? "1") - 1 + WORKERS) % WORKERS;
let nextOffset = Math.floor(Math.random() * SLICE);

function canBind(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.unref();
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/** A free TCP port on 127.0.0.1, outside the ephemeral range (the check's listener is closed before returning). */
export async function freePort(): Promise<number> {
    for (let tries = 0; tries < SLICE; tries++) {
        const port = RANGE_START + WORKER * SLICE + (nextOffset++ % SLICE);
        if (await canBind(port)) return port;
    }
    throw new Error(`no free port in ${RANGE_START + WORKER * SLICE}-${RANGE_START + (WORKER + 1) * SLICE - 1}`);
}

/** Waits until something accepts TCP connections on 127.0.0.1:port, or throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const open = await new Promise<boolean>((resolve) => {
            const socket = net.connect({ host: "127.0.0.1", port }, () => {
                socket.destroy();
                resolve(true);
            });
            socket.on("error", () => resolve(false));
        });
        if (open) return;
        if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
    }
}
