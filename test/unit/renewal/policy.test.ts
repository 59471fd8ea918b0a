import { isRenewalDue, renewAt, renewalWindowMs, resolveRenewalPolicy } from "../../../components/renewal/policy";

const DAY = 86400_000;
const notBefore = new Date("2026-01-01T00:00:00Z");
const notAfter = new Date(notBefore.getTime() + 90 * DAY);

describe("resolveRenewalPolicy", () => {
    it("defaults to renewal at 2/3 of the lifetime with key rotation", () => {
        const policy = resolveRenewalPolicy(undefined, 90 * DAY, "client");
        expect(policy).toEqual({ kind: "fraction", remainingFraction: 1 / 3, keyRotation: "always" });
    });

    it("accepts a duration and a percentage", () => {
        expect(resolveRenewalPolicy({ renewBefore: "30d" }, 90 * DAY, "c")).toEqual({ kind: "duration", renewBeforeMs: 30 * DAY, keyRotation: "always" });
        expect(resolveRenewalPolicy({ renewBeforePercentage: 25, keyRotation: "never" }, 90 * DAY, "c")).toEqual({
            kind: "fraction",
            remainingFraction: 0.25,
            keyRotation: "never",
        });
    });

    it.each([
        [{ renewBefore: "90d" }, /client.renewal.renewBefore: 90d is not shorter than the validity .* renewed on every run/],
        [{ renewBefore: "100d" }, /renewed on every run/],
        [{ renewBefore: "-5d" }, /client.renewal.renewBefore: negative duration "-5d"/],
        [{ renewBefore: "soon" }, /"soon" is not a duration/],
        [{ renewBefore: "0d" }, /is zero/],
        [{ renewBeforePercentage: 0 }, /client.renewal.renewBeforePercentage: 0 is outside \(0, 100\)/],
        [{ renewBeforePercentage: 100 }, /outside \(0, 100\)/],
        [{ renewBeforePercentage: -3 }, /outside \(0, 100\)/],
        [{ renewBeforePercentage: Number.NaN }, /outside \(0, 100\)/],
        [{ renewBefore: "10d", renewBeforePercentage: 10 }, /both renewBefore and renewBeforePercentage are set.*set only one/],
        [{ keyRotation: "sometimes" as never }, /client.renewal.keyRotation: unknown value "sometimes"/],
    ])("rejects %j with a clear error", (args, message) => {
        expect(() => resolveRenewalPolicy(args, 90 * DAY, "client.renewal")).toThrow(message);
    });
});

describe("renewAt", () => {
    it("is at 2/3 of the lifetime by default (cert-manager's rule)", () => {
        const policy = resolveRenewalPolicy(undefined, 90 * DAY, "c");
        expect(renewAt(notBefore, notAfter, policy).toISOString()).toBe("2026-03-02T00:00:00.000Z"); // day 60
    });

    it("is notAfter minus renewBefore for a duration", () => {
        const policy = resolveRenewalPolicy({ renewBefore: "7d" }, 90 * DAY, "c");
        expect(renewAt(notBefore, notAfter, policy).getTime()).toBe(notAfter.getTime() - 7 * DAY);
    });

    it("is notAfter minus the percentage of the lifetime", () => {
        const policy = resolveRenewalPolicy({ renewBeforePercentage: 10 }, 90 * DAY, "c");
        expect(renewAt(notBefore, notAfter, policy).getTime()).toBe(notAfter.getTime() - 9 * DAY);
    });

    it("rounds down to whole seconds, never later than exact", () => {
        const nb = new Date("2026-01-01T00:00:00.000Z");
        const na = new Date(nb.getTime() + 10_000); // 10 s lifetime, 2/3 = 6.666 s
        const at = renewAt(nb, na, resolveRenewalPolicy(undefined, 10_000, "c"));
        expect(at.getTime()).toBe(nb.getTime() + 6000);
    });

    it("clamps a renewBefore longer than a shorter real lifetime to notBefore", () => {
        const policy = resolveRenewalPolicy({ renewBefore: "30d" }, 90 * DAY, "c");
        const shortAfter = new Date(notBefore.getTime() + 10 * DAY);
        expect(renewAt(notBefore, shortAfter, policy).getTime()).toBe(notBefore.getTime());
    });
});

describe("isRenewalDue", () => {
    const policy = resolveRenewalPolicy(undefined, 90 * DAY, "c");
    const at = renewAt(notBefore, notAfter, policy);
    it("is not due one second before renewAt", () => expect(isRenewalDue(new Date(at.getTime() - 1000), at)).toBe(false));
    it("is due exactly at renewAt", () => expect(isRenewalDue(at, at)).toBe(true));
    it("is due after notAfter", () => expect(isRenewalDue(new Date(notAfter.getTime() + DAY), at)).toBe(true));
    it("is not due under clock skew (now before notBefore)", () => expect(isRenewalDue(new Date(notBefore.getTime() - 3600_000), at)).toBe(false));
});

describe("renewalWindowMs", () => {
    it("is a third of the validity by default and renewBefore for durations", () => {
        expect(renewalWindowMs(90 * DAY, resolveRenewalPolicy(undefined, 90 * DAY, "c"))).toBe(30 * DAY);
        expect(renewalWindowMs(90 * DAY, resolveRenewalPolicy({ renewBefore: "5d" }, 90 * DAY, "c"))).toBe(5 * DAY);
    });
});
