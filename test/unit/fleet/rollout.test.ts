/**
 * The rollout plan (pure): batches of `batchSize` hosts in list order, every host of a batch waiting for
 * every host of the batch before it, for 1, 3 and 10 hosts and batch sizes 1, 2 and 3.
 */
import { planRollout, validateBatchSize } from "../../../components/fleet/rollout";
import { InputError } from "../../../components/util/errors";

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);

describe("planRollout", () => {
    const cases: [number, number, string[][]][] = [
        [1, 1, [["h1"]]],
        [1, 2, [["h1"]]],
        [1, 3, [["h1"]]],
        [3, 1, [["h1"], ["h2"], ["h3"]]],
        [3, 2, [["h1", "h2"], ["h3"]]],
        [3, 3, [["h1", "h2", "h3"]]],
        [10, 1, hosts(10).map((h) => [h])],
        [10, 2, [["h1", "h2"], ["h3", "h4"], ["h5", "h6"], ["h7", "h8"], ["h9", "h10"]]],
        [10, 3, [["h1", "h2", "h3"], ["h4", "h5", "h6"], ["h7", "h8", "h9"], ["h10"]]],
    ];
    it.each(cases)("%i hosts, batch size %i: batches in list order, each host after the whole previous batch", (n, size, batches) => {
        const plan = planRollout(hosts(n), size);
        expect(plan.batches).toEqual(batches);
        expect(plan.order).toEqual(hosts(n));
        batches.forEach((batch, k) =>
            batch.forEach((h) => {
                expect(plan.after[h]).toEqual(k === 0 ? [] : batches[k - 1]);
                expect(plan.batchOf[h]).toBe(k);
            }),
        );
        // The chain: following "after" from the last host reaches every batch once.
        let depth = 0;
        for (let h = plan.order[plan.order.length - 1]; plan.after[h].length > 0; h = plan.after[h][0]) depth++;
        expect(depth).toBe(batches.length - 1);
    });

    it("a batch as large as the fleet (or larger) installs everywhere at once", () => {
        expect(planRollout(hosts(3), 100).batches).toEqual([hosts(3)]);
    });

    it("follows the list order, not the names", () => {
        expect(planRollout(["zeta", "alpha", "mid"], 1).after).toEqual({ zeta: [], alpha: ["zeta"], mid: ["alpha"] });
    });
});

describe("validateBatchSize", () => {
    it("defaults to one host at a time", () => expect(validateBatchSize(undefined)).toBe(1));
    it.each([0, -1, 1.5, "2", NaN, null])("refuses %p, naming rollout.batchSize and the fix", (v) => {
        expect(() => validateBatchSize(v)).toThrow(InputError);
        expect(() => validateBatchSize(v)).toThrow(/^rollout\.batchSize: .* is not a whole number of at least 1\. Fix: use 1/);
    });
});
