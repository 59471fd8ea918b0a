/**
 * The dynamic provider behind RenewalSchedule: it carries the renewal decision into the engine.
 *
 * A schedule records the validity window of the certificate it guards (it is created right before
 * the certificate is signed, so its window starts a few seconds before the certificate's real
 * notBefore, and its renewAt is never later than the certificate's).
 *
 * `MTLS_NGINX_CLOCK` moves decisions (is renewal due?), never stamps: the tls provider signs
 * certificates at the real time whatever the clock says, so a window never starts later than the real
 * time either, and a `pulumi up` under a moved clock leaves schedules that match their certificates. On every preview and update
 * the engine calls `diff`; once the clock reaches renewAt the schedule asks to be REPLACED, and
 * the key and certificate, which name it in `replaceWith` and `replacementTrigger`, are replaced
 * in the same update. No `pulumi refresh` is needed, and `pulumi preview` shows it coming.
 *
 * Self-contained: it is serialized with the program (see docs/architecture.md).
 */
import type * as pulumi from "@pulumi/pulumi";
import { RenewalPolicy, renewAt } from "./policy";

/** Inputs of a schedule, as the engine stores them. */
export interface RenewalScheduleInputs {
    /** Validity of the guarded certificate in ms. */
    validityMs: number;
    policy: RenewalPolicy;
    /** Identity of what the certificate hangs on (the issuer's SHA-256); a change re-issues. */
    anchor: string;
    /** Bumped by the user to re-issue now. */
    generation: number;
}

export interface RenewalScheduleOutputs extends RenewalScheduleInputs {
    windowStart: string;
    windowEnd: string;
    renewAt: string;
}

export type Clock = () => Date;

/** Real time, unless MTLS_NGINX_CLOCK (ISO-8601) says otherwise (what-if previews and tests). */
export function environmentClock(): Date {
    const override = process.env.MTLS_NGINX_CLOCK;
    return override ? new Date(override) : new Date();
}

/**
 * `clock` decides when renewal is due; `wallClock` (the real time) bounds the stamps. Both are
 * looked up at call time, so a simulator that moves `Date.now` moves the wall clock too.
 */
export function createRenewalScheduleProvider(clock: Clock = environmentClock, wallClock: Clock = () => new Date(Date.now())): pulumi.dynamic.ResourceProvider {
    const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

    return {
        async check(_olds: any, news: any) {
            const failures: { property: string; reason: string }[] = [];
            if (!(typeof news.validityMs === "number" && news.validityMs > 0)) {
                failures.push({ property: "validityMs", reason: "validityMs must be a positive number of milliseconds" });
            }
            if (!news.policy || (news.policy.kind !== "fraction" && news.policy.kind !== "duration")) {
                failures.push({ property: "policy", reason: "policy must be a resolved renewal policy" });
            }
            return { inputs: news, failures };
        },

        async diff(_id: string, olds: RenewalScheduleOutputs, news: RenewalScheduleInputs) {
            // In preview an issuer being replaced shows up as an unknown anchor. (Only our own inputs are
            // looked at: `news` also holds `__provider`, whose text contains the sentinel itself.)
            if (news.anchor === UNKNOWN) {
                return { changes: true, replaces: ["anchor"], deleteBeforeReplace: false };
            }
            for (const key of ["validityMs", "anchor", "generation"] as const) {
                if (news[key] !== olds[key]) {
                    return { changes: true, replaces: [key], deleteBeforeReplace: false };
                }
            }
            const due = renewAt(new Date(olds.windowStart), new Date(olds.windowEnd), news.policy);
            if (clock().getTime() >= due.getTime()) {
                return { changes: true, replaces: ["renewAt"], deleteBeforeReplace: false };
            }
            const policyChanged = JSON.stringify(news.policy) !== JSON.stringify(olds.policy);
            return { changes: policyChanged, replaces: [] };
        },

        async create(inputs: RenewalScheduleInputs) {
            const crypto = require("crypto") as typeof import("crypto");
            const start = new Date(Math.min(clock().getTime(), wallClock().getTime()));
            const end = new Date(start.getTime() + inputs.validityMs);
            const outs: RenewalScheduleOutputs = {
                validityMs: inputs.validityMs,
                policy: inputs.policy,
                anchor: inputs.anchor,
                generation: inputs.generation,
                windowStart: start.toISOString(),
                windowEnd: end.toISOString(),
                renewAt: renewAt(start, end, inputs.policy).toISOString(),
            };
            return { id: `${outs.windowStart}/${crypto.randomBytes(4).toString("hex")}`, outs };
        },

        async update(_id: string, olds: RenewalScheduleOutputs, news: RenewalScheduleInputs) {
            // Only the policy changed (anything else replaces): keep the window, recompute renewAt.
            const start = new Date(olds.windowStart);
            const end = new Date(olds.windowEnd);
            return { outs: { ...olds, policy: news.policy, renewAt: renewAt(start, end, news.policy).toISOString() } };
        },
    };
}

export const renewalScheduleProvider = createRenewalScheduleProvider();
