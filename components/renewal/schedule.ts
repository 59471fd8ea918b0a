import * as pulumi from "@pulumi/pulumi";
import { RenewalPolicy } from "./policy";
import { renewalScheduleProvider } from "./provider";

export interface RenewalScheduleArgs {
    /** Validity of the guarded certificate, in milliseconds. */
    validityMs: number;
    /** The resolved renewal policy (see `resolveRenewalPolicy`). */
    policy: RenewalPolicy;
    /**
     * What the certificate hangs on, typically the issuer certificate's SHA-256; when it changes the
     * schedule (and so the certificate) is replaced.
     * @default "self"
     */
    anchor?: pulumi.Input<string>;
    /**
     * Bump to re-issue now, whatever the time.
     * @default 0
     */
    generation?: number;
}

/**
 * A renewal decision as a resource: replaced when its certificate is due for renewal.
 * Name it in the key's and certificate's `replaceWith` and use its `id` as their `replacementTrigger`.
 */
export class RenewalSchedule extends pulumi.dynamic.Resource {
    /** Start of the validity window this schedule guards (ISO-8601). */
    declare readonly windowStart: pulumi.Output<string>;
    /** End of the window (ISO-8601). */
    declare readonly windowEnd: pulumi.Output<string>;
    /** When the engine will replace this schedule, and with it the certificate (ISO-8601). */
    declare readonly renewAt: pulumi.Output<string>;

    constructor(name: string, args: RenewalScheduleArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            renewalScheduleProvider,
            name,
            {
                validityMs: args.validityMs,
                policy: args.policy,
                anchor: args.anchor ?? "self",
                generation: args.generation ?? 0,
                windowStart: undefined,
                windowEnd: undefined,
                renewAt: undefined,
            },
            opts,
            "renewal",
            "RenewalSchedule",
        );
    }
}
