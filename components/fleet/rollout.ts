/**
 * The rollout plan of a fleet (pure): which hosts install together, and which installs wait for which.
 *
 * Hosts go in batches of `batchSize`, in the order of the list: every host of batch k+1 depends on every
 * host of batch k (its install resource `dependsOn` their gates, or their installs when there is no gate).
 * The engine runs a resource only after its dependencies have succeeded, so a new release, a rotation or
 * a CRL refresh reaches one batch at a time, and a failure stops the batches after it. Dependencies are
 * resource options, not inputs: reordering the list changes no resource (and replaces nothing).
 */
import { InputError, showValue } from "../util/errors";

export interface RolloutPlan {
    /** Host keys in rollout order (the list's order). */
    order: string[];
    /** Host keys per batch, in order. */
    batches: string[][];
    /** For every host key: the host keys its install waits for (all of the previous batch; none for the first). */
    after: Record<string, string[]>;
    /** For every host key: its batch number, from 0. */
    batchOf: Record<string, number>;
}

/** A rollout given with a single target: refused (it orders the hosts of a list). */
export function refuseRolloutWithoutFleet(rollout: unknown): void {
    if (rollout !== undefined) {
        throw new InputError("rollout", "applies to a list of targets only", "give target as a list of hosts ([{ name, kind, ... }]), or leave rollout out");
    }
}

/** A rollout argument: an object (`{ batchSize?, gate? }`), or undefined for the defaults. */
export function rolloutObject<T extends object>(rollout: T | undefined, input = "rollout"): T | Record<string, never> {
    if (rollout === undefined) return {};
    if (!rollout || typeof rollout !== "object" || Array.isArray(rollout)) {
        throw new InputError(input, `${showValue(rollout)} is not a rollout`, "give { batchSize?, gate? }");
    }
    return rollout;
}

/** The rollout's batch size: a whole number from 1; larger than the fleet means all at once. */
export function validateBatchSize(value: unknown, input = "rollout.batchSize"): number {
    if (value === undefined) return 1;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
        throw new InputError(input, `${showValue(value)} is not a whole number of at least 1`, "use 1 (one host at a time, the default) or more hosts per batch; a batch size of the fleet's size installs everywhere at once");
    }
    return value;
}

/** Batches and dependencies for hosts `keys` (unique, in rollout order) with `batchSize` hosts per batch. */
export function planRollout(keys: readonly string[], batchSize: number): RolloutPlan {
    validateBatchSize(batchSize);
    if (new Set(keys).size !== keys.length) throw new Error(`planRollout: duplicate host keys in ${JSON.stringify(keys)}`);
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += batchSize) batches.push(keys.slice(i, i + batchSize));
    const after: Record<string, string[]> = {};
    const batchOf: Record<string, number> = {};
    batches.forEach((batch, k) =>
        batch.forEach((key) => {
            after[key] = k === 0 ? [] : [...batches[k - 1]];
            batchOf[key] = k;
        }),
    );
    return { order: [...keys], batches, after, batchOf };
}
