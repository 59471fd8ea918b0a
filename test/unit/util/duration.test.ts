import { durationToHours, formatDuration, parseDuration } from "../../../components/util/duration";

describe("parseDuration", () => {
    it.each([
        ["90d", 90 * 86400_000],
        ["2160h", 2160 * 3600_000],
        ["1h30m", 5400_000],
        ["2w", 14 * 86400_000],
        ["45s", 45_000],
        ["1.5h", 5400_000],
    ])("parses %s", (text, ms) => expect(parseDuration(text, "x")).toBe(ms));

    it.each(["", "90", "d", "-1d", "1y", "10 days", "1h 30m", 5 as unknown as string])("rejects %j naming the input", (text) => {
        expect(() => parseDuration(text, "ca.validity")).toThrow(/^ca\.validity: .*Fix: /);
    });
});

describe("formatDuration / durationToHours", () => {
    it("formats", () => {
        expect(formatDuration(90 * 86400_000)).toBe("90d 0h");
        expect(formatDuration(5400_000)).toBe("1h 30m");
        expect(formatDuration(-60_000)).toBe("-1m");
    });
    it("rounds hours up", () => expect(durationToHours(5400_000)).toBe(2));
});

describe("bounds", () => {
    const CRL = { maxMs: 366 * 86400_000, max: "366d", maxLabel: "a year", minMs: 3600_000, min: "1h", what: "a CRL's validity", why: "because" };

    it("refuses a duration past its bound, naming the input, the bound and the fix", () => {
        expect(() => parseDuration("367d", "revocation.crlValidity", CRL)).toThrow(
            /^revocation\.crlValidity: "367d" is longer than 366d \(a year\), the longest a CRL's validity may be\. Fix: use at most "366d": because$/,
        );
        expect(() => parseDuration("59m", "revocation.crlValidity", CRL)).toThrow(/^revocation\.crlValidity: "59m" is shorter than 1h, the shortest a CRL's validity may be\. Fix: use at least "1h"/);
        expect(parseDuration("366d", "x", CRL)).toBe(366 * 86400_000);
        expect(parseDuration("1h", "x", CRL)).toBe(3600_000);
    });

    it("refuses anything past 25 years by default, including totals too large for a number", () => {
        expect(parseDuration("9132d", "x")).toBe(9132 * 86400_000);
        expect(() => parseDuration("9133d", "renewal.renewBefore")).toThrow(/^renewal\.renewBefore: "9133d" is longer than 9132d \(25 years\)/);
        expect(() => parseDuration("9".repeat(400) + "d", "clients[0].validity")).toThrow(/^clients\[0\]\.validity: "9+"… \(401 characters\) is longer than 9132d \(25 years\)/);
    });

    it("never formats a non-finite duration as numbers", () => {
        expect(formatDuration(Infinity)).toBe("forever");
        expect(formatDuration(NaN)).not.toMatch(/NaN|Infinity/);
    });
});
