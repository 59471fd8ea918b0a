/**
 * Steady mTLS load for rotation tests and benchmarks: an open-loop request generator in a worker thread,
 * so that what the main thread does meanwhile (a deployment simulator constructing the program, serializing
 * dynamic providers, signing) does not stall the load.
 *
 * Every request is a new connection with a full TLS handshake and the client certificate (`agent: false`,
 * no session reuse). Request i is started at t0 + i / rate (late ones as soon as possible), with at most
 * `maxInFlight` at once. The load runs at least `minMs`, then until `stop()` has been called, and never
 * longer than `maxMs`; it is bounded in count (rate * maxMs) and time.
 *
 * Times are epoch milliseconds with sub-millisecond precision ({@link nowMs}), comparable across threads.
 */
import { Worker } from "worker_threads";

export interface LoadOptions {
    port: number;
    /** @default "127.0.0.1" */
    host?: string;
    /** SNI and certificate name check. @default "localhost" */
    servername?: string;
    /** CA certificates that verify the server. */
    caPem: string;
    /** Client certificate chain (leaf first) and key. */
    certPem: string;
    keyPem: string;
    /** Requests started per second. */
    rate: number;
    minMs: number;
    maxMs: number;
    /** @default 32 */
    maxInFlight?: number;
    /** A request succeeds on HTTP 200 with a body matching this regular expression (source). @default any body */
    expectBody?: string;
    /** @default 10000 */
    timeoutMs?: number;
}

export interface Outcome {
    /** Epoch ms. */
    start: number;
    end: number;
    ok: boolean;
    status?: number;
    failure?: string;
    /** sha256 of the certificate the server presented, lower-case hex. */
    serverFingerprint?: string;
}

export interface LoadResult {
    outcomes: Outcome[];
    /** Wall time of the load, in seconds. */
    seconds: number;
}

/** Epoch milliseconds, sub-millisecond precision, same origin in every thread. */
export function nowMs(): number {
    return performance.timeOrigin + performance.now();
}

const WORKER = `
const { parentPort, workerData: o } = require("worker_threads");
const https = require("https");
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let stopRequested = false;
parentPort.on("message", (m) => { if (m === "stop") stopRequested = true; });
const expect = o.expectBody ? new RegExp(o.expectBody) : null;
function one() {
    return new Promise((resolve) => {
        const start = now();
        const done = (r) => resolve(Object.assign({ start, end: now() }, r));
        const req = https.request({
            host: o.host, port: o.port, servername: o.servername, path: "/", method: "GET",
            ca: o.caPem, cert: o.certPem, key: o.keyPem, agent: false, timeout: o.timeoutMs,
        }, (res) => {
            let fp = "";
            try { fp = (res.socket.getPeerCertificate().fingerprint256 || "").replace(/:/g, "").toLowerCase(); } catch (e) {}
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d) => { body += d; });
            res.on("end", () => {
                const ok = res.statusCode === 200 && (!expect || expect.test(body));
                done({ ok, status: res.statusCode, serverFingerprint: fp, failure: ok ? undefined : "HTTP " + res.statusCode });
            });
            res.on("error", (e) => done({ ok: false, failure: e.message }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout after " + o.timeoutMs + " ms")));
        req.on("error", (e) => done({ ok: false, failure: e.message }));
        req.end();
    });
}
(async () => {
    const outcomes = [];
    const inFlight = new Set();
    const interval = 1000 / o.rate;
    const t0 = now();
    for (let i = 0; ; ) {
        const elapsed = now() - t0;
        if (elapsed >= o.maxMs || (elapsed >= o.minMs && stopRequested)) break;
        const wait = t0 + i * interval - now();
        if (wait > 0) await sleep(wait);
        if (inFlight.size >= o.maxInFlight) { await Promise.race(inFlight); continue; }
        const p = one().then((r) => { outcomes.push(r); inFlight.delete(p); });
        inFlight.add(p);
        i++;
    }
    await Promise.all(inFlight);
    parentPort.postMessage({ outcomes, seconds: (now() - t0) / 1000 });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

/** A running load. */
export class SteadyLoad {
    private readonly worker: Worker;
    private readonly done: Promise<LoadResult>;

    constructor(options: LoadOptions) {
        const workerData = {
            host: "127.0.0.1",
            servername: "localhost",
            maxInFlight: 32,
            timeoutMs: 10_000,
            ...options,
        };
        this.worker = new Worker(WORKER, { eval: true, workerData });
        this.done = new Promise<LoadResult>((resolve, reject) => {
            this.worker.once("message", (m: LoadResult & { error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m)));
            this.worker.once("error", reject);
            this.worker.once("exit", (code) => reject(new Error(`load worker exited (${code}) before reporting`)));
        });
        this.done.catch(() => undefined);
    }

    /** Ends the load once `minMs` have passed. */
    stop(): void {
        this.worker.postMessage("stop");
    }

    /** The outcomes, once the load has ended; the worker thread is gone afterwards. */
    async result(): Promise<LoadResult> {
        try {
            return await this.done;
        } finally {
            await this.worker.terminate();
        }
    }

    /** Stops the worker now (cleanup after a failure). */
    async kill(): Promise<void> {
        await this.worker.terminate();
    }
}
