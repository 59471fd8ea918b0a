import { undeclaredRevocationTargets } from "../../../components/revocation/targets";

describe("undeclaredRevocationTargets", () => {
    it("warns about a client name not declared now, naming the input, the declared names and a near miss", () => {
        const [warning, ...rest] = undeclaredRevocationTargets([{ client: "alcie" }], ["alice", "bob"]);
        expect(rest).toEqual([]);
        expect(warning).toMatch(/^revocation\.revocations\[0\]\.client: "alcie" is not among the clients declared now \("alice", "bob"\)\. /);
        expect(warning).toMatch(/a name never issued here \(a typo\?\) revokes nothing/);
        expect(warning).toMatch(/Did you mean "alice"\?/);
    });

    it("says nothing of declared clients, serial revocations and non-string names", () => {
        expect(undeclaredRevocationTargets([{ client: "alice" }, { client: undefined }, {}, undefined, { client: 42 }], ["alice"])).toEqual([]);
    });

    it("suggests nothing far off, and lists at most ten names", () => {
        const names = Array.from({ length: 25 }, (_, i) => `client-${i}`);
        const [warning] = undeclaredRevocationTargets([{}, { client: "nobody" }], names, "args.revocations");
        expect(warning).toMatch(/^args\.revocations\[1\]\.client: "nobody" is not among the clients declared now \("client-0", .*"client-9" and 15 more\)/);
        expect(warning).not.toMatch(/Did you mean/);
        expect(undeclaredRevocationTargets([{ client: "x".repeat(100_000) }], [])[0].length).toBeLessThan(700);
    });
});
