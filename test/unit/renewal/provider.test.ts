import * as pulumi from "@pulumi/pulumi";
import { resolveRenewalPolicy } from "../../../components/renewal/policy";
import { createRenewalScheduleProvider, renewalScheduleProvider, RenewalScheduleInputs } from "../../../components/renewal/provider";

const DAY = 86400_000;
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function fakeClock(start: string) {
    let t = new Date(start).getTime();
    return { now: () => new Date(t), set: (iso: string) => (t = new Date(iso).getTime()) };
}

const inputs: RenewalScheduleInputs = {
    validityMs: 90 * DAY,
    policy: resolveRenewalPolicy(undefined, 90 * DAY, "c"),
    anchor: "ab".repeat(32),
    generation: 0,
};

describe("renewal schedule provider", () => {
    it("records the window at create and computes renewAt at 2/3", async () => {
        const clock = fakeClock("2026-01-01T00:00:00Z");
        const provider = createRenewalScheduleProvider(clock.now);
        const { id, outs } = await provider.create!(inputs);
        expect(id).toMatch(/^2026-01-01T00:00:00.000Z\/[0-9a-f]{8}$/);
        expect(outs).toMatchObject({ windowStart: "2026-01-01T00:00:00.000Z", windowEnd: "2026-04-01T00:00:00.000Z", renewAt: "2026-03-02T00:00:00.000Z" });
    });

    it("reports no change before renewAt and a replacement from renewAt on", async () => {
        const clock = fakeClock("2026-01-01T00:00:00Z");
        const provider = createRenewalScheduleProvider(clock.now);
        const { id, outs } = await provider.create!(inputs);
        clock.set("2026-03-01T23:59:59Z");
        expect(await provider.diff!(id, outs, inputs)).toEqual({ changes: false, replaces: [] });
        clock.set("2026-03-02T00:00:00Z");
        expect(await provider.diff!(id, outs, inputs)).toEqual({ changes: true, replaces: ["renewAt"], deleteBeforeReplace: false });
        clock.set("2027-01-01T00:00:00Z"); // long after notAfter: still replaced
        expect((await provider.diff!(id, outs, inputs)).replaces).toEqual(["renewAt"]);
    });

    it("replaces on a new issuer, a new validity or a bumped generation, and on an unknown anchor in preview", async () => {
        const clock = fakeClock("2026-01-01T00:00:00Z");
        const provider = createRenewalScheduleProvider(clock.now);
        const { id, outs } = await provider.create!(inputs);
        expect((await provider.diff!(id, outs, { ...inputs, anchor: "cd".repeat(32) })).replaces).toEqual(["anchor"]);
        expect((await provider.diff!(id, outs, { ...inputs, validityMs: 30 * DAY })).replaces).toEqual(["validityMs"]);
        expect((await provider.diff!(id, outs, { ...inputs, generation: 1 })).replaces).toEqual(["generation"]);
        expect((await provider.diff!(id, outs, { ...inputs, anchor: UNKNOWN })).replaces).toEqual(["anchor"]);
    });

    it("updates in place when only the policy changes, keeping the window", async () => {
        const clock = fakeClock("2026-01-01T00:00:00Z");
        const provider = createRenewalScheduleProvider(clock.now);
        const { id, outs } = await provider.create!(inputs);
        const news = { ...inputs, policy: resolveRenewalPolicy({ renewBefore: "10d" }, 90 * DAY, "c") };
        clock.set("2026-02-01T00:00:00Z");
        expect(await provider.diff!(id, outs, news)).toEqual({ changes: true, replaces: [] });
        const updated = await provider.update!(id, outs, news);
        expect(updated.outs).toMatchObject({ windowStart: outs.windowStart, windowEnd: outs.windowEnd, renewAt: "2026-03-22T00:00:00.000Z" });
    });

    it("replaces at once when a policy change makes renewal due", async () => {
        const clock = fakeClock("2026-01-01T00:00:00Z");
        const provider = createRenewalScheduleProvider(clock.now);
        const { id, outs } = await provider.create!(inputs);
        clock.set("2026-02-15T00:00:00Z");
        const news = { ...inputs, policy: resolveRenewalPolicy({ renewBefore: "60d" }, 90 * DAY, "c") };
        expect((await provider.diff!(id, outs, news)).replaces).toEqual(["renewAt"]);
    });

    it("check reports malformed inputs", async () => {
        const result = await renewalScheduleProvider.check!({}, { ...inputs, validityMs: -1 });
        expect(result.failures).toEqual([expect.objectContaining({ property: "validityMs" })]);
    });

    it("a clock moved ahead of the real time moves decisions, not the window (certificates are signed at the real time)", async () => {
        const clock = fakeClock("2030-05-01T00:00:00Z");
        const wall = fakeClock("2026-01-01T00:00:00Z");
        const provider = createRenewalScheduleProvider(clock.now, wall.now);
        const { id, outs } = await provider.create!(inputs);
        expect(outs.windowStart).toBe("2026-01-01T00:00:00.000Z");
        expect((await provider.diff!(id, outs, inputs)).replaces).toEqual(["renewAt"]); // 2030 is past renewAt
        wall.set("2030-06-01T00:00:00Z"); // a clock behind the real time stamps with the clock
        expect((await provider.create!(inputs)).outs.windowStart).toBe("2030-05-01T00:00:00.000Z");
    });

    it("serializes with serializeFunction and the deserialized provider follows MTLS_NGINX_CLOCK", async () => {
        const sf = await pulumi.runtime.serializeFunction(() => renewalScheduleProvider);
        const mod: { exports: any } = { exports: {} };
        new Function("exports", "require", "module", sf.text)(mod.exports, require, mod);
        const provider = mod.exports[sf.exportName]();
        const saved = process.env.MTLS_NGINX_CLOCK;
        try {
            process.env.MTLS_NGINX_CLOCK = "2026-05-01T00:00:00Z"; // behind the real time: stamps follow it
            const { id, outs } = await provider.create(inputs);
            expect(outs.windowStart).toBe("2026-05-01T00:00:00.000Z");
            process.env.MTLS_NGINX_CLOCK = "2026-07-01T00:00:00Z"; // past 2/3 of 90 days
            expect((await provider.diff(id, outs, inputs)).replaces).toEqual(["renewAt"]);
        } finally {
            if (saved === undefined) delete process.env.MTLS_NGINX_CLOCK;
            else process.env.MTLS_NGINX_CLOCK = saved;
        }
    });
});

describe("renewal schedule provider, as the engine calls it", () => {
    it("does not mistake the sentinel inside its own serialized __provider for an unknown input", async () => {
        const clock = fakeClock("2026-01-01T00:00:00Z");
        const provider = createRenewalScheduleProvider(clock.now);
        const sf = await pulumi.runtime.serializeFunction(() => provider);
        expect(sf.text).toContain(UNKNOWN);
        const { id, outs } = await provider.create!(inputs);
        clock.set("2026-01-01T00:00:01Z");
        const news = { ...inputs, __provider: sf.text };
        expect(await provider.diff!(id, { ...outs, __provider: sf.text } as any, news)).toEqual({ changes: false, replaces: [] });
    });
});
