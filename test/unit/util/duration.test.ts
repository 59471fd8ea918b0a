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
