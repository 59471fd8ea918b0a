import { cadenceFindings } from "../../../components/renewal/cadence";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const now = new Date("2026-06-01T00:00:00Z");
const at = (ms: number) => new Date(now.getTime() + ms);

describe("cadenceFindings", () => {
    it("is silent when the window between renewal and expiry spans at least two runs", () => {
        const findings = cadenceFindings([{ kind: "certificate", name: "client alice", actAt: at(30 * DAY), deadline: at(60 * DAY) }], now, DAY);
        expect(findings).toEqual([]);
    });

    it("warns when one missed nightly run would let a certificate expire", () => {
        const findings = cadenceFindings([{ kind: "certificate", name: "client bob", actAt: at(10 * DAY), deadline: at(10 * DAY + 36 * HOUR) }], now, DAY);
        expect(findings).toHaveLength(1);
        expect(findings[0].message).toMatch(/client bob: only 1d 12h between renewal .* and notAfter .* less than two runs .* cadence of 1d 0h/);
        expect(findings[0].message).toMatch(/Fix: renew earlier \(a window of at least 2d 0h\)/);
    });

    it("warns for a CRL whose re-signing comes too close to its nextUpdate", () => {
        const findings = cadenceFindings([{ kind: "crl", name: "CRL of Root", actAt: at(12 * HOUR), deadline: at(24 * HOUR) }], now, DAY);
        expect(findings[0].message).toMatch(/CRL of Root: only 12h 0m between re-signing .* and nextUpdate/);
    });

    it("accepts a shorter window with a faster cadence", () => {
        expect(cadenceFindings([{ kind: "crl", name: "crl", actAt: at(12 * HOUR), deadline: at(24 * HOUR) }], now, 6 * HOUR)).toEqual([]);
    });

    it("reports a deadline that has already passed", () => {
        const findings = cadenceFindings([{ kind: "certificate", name: "server", actAt: at(-10 * DAY), deadline: at(-HOUR) }], now, DAY);
        expect(findings[0].message).toMatch(/server: notAfter .* has passed; clients are refused/);
    });

    it("treats exactly two runs as enough", () => {
        expect(cadenceFindings([{ kind: "certificate", name: "c", actAt: at(DAY), deadline: at(3 * DAY) }], now, DAY)).toEqual([]);
    });
});
