import { timeWarnings } from "../../../components/util/clock";

describe("timeWarnings", () => {
    it("says nothing in an ordinary run", () => {
        expect(timeWarnings({})).toEqual([]);
        expect(timeWarnings({ PULUMI_ENABLE_LEGACY_DIFF: "false" })).toEqual([]);
        expect(timeWarnings({ PULUMI_ENABLE_LEGACY_DIFF: "0" })).toEqual([]);
    });

    it("warns that a moved clock moves decisions, not what is signed", () => {
        expect(timeWarnings({ MTLS_NGINX_CLOCK: "2030-01-01T00:00:00Z" })).toEqual([expect.stringMatching(/^MTLS_NGINX_CLOCK=2030-01-01T00:00:00Z moves the clock for decisions .* dated at the real time/)]);
    });

    it("warns that legacy diff stops renewals and CRL refreshes", () => {
        expect(timeWarnings({ PULUMI_ENABLE_LEGACY_DIFF: "true" })).toEqual([expect.stringMatching(/^PULUMI_ENABLE_LEGACY_DIFF=true: .*no certificate is renewed and no CRL re-signed .* Unset it\.$/)]);
    });
});
