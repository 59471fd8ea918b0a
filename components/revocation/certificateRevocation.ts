import * as pulumi from "@pulumi/pulumi";
import { CertificateAuthority } from "../pki/certificateAuthority";
import { joinPem } from "../pki/certInfo";
import { Duration, parseDuration } from "../util/duration";
import { InputError } from "../util/errors";
import { CRL_VALIDITY, HOUR_MS } from "../util/limits";
import { IssuedCertificateArgs, RevocationArgs, RevocationList, RevokedCertificate, validateRevocationListArgs } from "./revocationList";
import { undeclaredRevocationTargets } from "./targets";

export const DEFAULT_CRL_VALIDITY: Duration = "7d";

export interface CertificateRevocationArgs {
    /** The CA whose certificates are tracked. With an intermediate, both levels get a CRL (nginx needs one per CA). */
    ca: CertificateAuthority;
    /** The leaves the issuing CA has issued and the program declares now (clients, the server). */
    issued: pulumi.Input<IssuedCertificateArgs>[];
    /**
     * Explicit revocations: `{ client, reason }` revokes every certificate of a removed client,
     * `{ serial, reason }` one certificate. A client name not declared in `issued` is warned about at
     * construction (a removed client, or a typo that revokes nothing).
     * @default []
     */
    revocations?: RevocationArgs[];
    /**
     * Also revoke certificates replaced by renewal (reason superseded). Off by default: the holder of a
     * renewed client certificate needs time to pick up the new bundle.
     * @default false
     */
    revokeSuperseded?: boolean;
    /**
     * How long each CRL is valid (nextUpdate - thisUpdate), from "1h" to "366d"; it is re-signed on `pulumi up`
     * once half has passed.
     * @default "7d"
     */
    crlValidity?: Duration;
}

/**
 * The holder names `issued` declares, when all are plain values (else undefined: nothing to compare with).
 * Names starting with "~" are not clients (MtlsNginx declares its server certificate as "~server").
 */
function declaredHolders(issued: CertificateRevocationArgs["issued"]): string[] | undefined {
    const names: string[] = [];
    for (const item of issued ?? []) {
        const name = item && typeof item === "object" && !pulumi.Output.isInstance(item) ? (item as { name?: unknown }).name : undefined;
        if (typeof name !== "string") return undefined;
        if (!name.startsWith("~")) names.push(name);
    }
    return names;
}

/** `crlValidity` in ms, whole hours, from an hour to a year (see CRL_VALIDITY). */
export function resolveCrlValidityMs(value: Duration | undefined, input = "revocation.crlValidity"): number {
    return Math.ceil(parseDuration(value ?? DEFAULT_CRL_VALIDITY, input, CRL_VALIDITY) / HOUR_MS) * HOUR_MS;
}

/**
 * Revocation for a CA hierarchy: one RevocationList per CA (root, and intermediate when there is one),
 * whose CRLs and trust bundles (current and retired CAs) the site installs.
 */
export class CertificateRevocation extends pulumi.ComponentResource {
    /** CRLs of every trusted CA (current and retired, both levels): nginx's `ssl_crl`. */
    readonly crlPem: pulumi.Output<string>;
    /** Every CA certificate nginx must trust (current and retired, both levels): `ssl_client_certificate`. */
    readonly trustBundlePem: pulumi.Output<string>;
    /** Earliest nextUpdate of the CRLs (ISO-8601). */
    readonly nextUpdate: pulumi.Output<string>;
    /** Earliest time a CRL is due to be re-signed (ISO-8601). */
    readonly refreshAt: pulumi.Output<string>;
    /** Certificates on the CRLs. */
    readonly revoked: pulumi.Output<RevokedCertificate[]>;
    readonly crlValidityMs: number;
    readonly lists: RevocationList[];

    constructor(name: string, args: CertificateRevocationArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!args?.ca) {
            throw new InputError("revocation.ca", "no CA given", "pass the CertificateAuthority whose certificates are revoked");
        }
        const crlValidityHours = resolveCrlValidityMs(args.crlValidity) / HOUR_MS;
        const common = { revocations: args.revocations, revokeSuperseded: args.revokeSuperseded ?? false, crlValidityHours };
        validateRevocationListArgs({ issuerCertPem: "-", issuerKeyPem: "-", issued: args.issued, ...common }, "revocation");
        super("mtls-nginx:revocation:CertificateRevocation", name, {}, opts);
        this.crlValidityMs = crlValidityHours * 3600_000;
        undeclaredRevocationTargets(args.revocations ?? [], declaredHolders(args.issued) ?? []).forEach((w) => pulumi.log.warn(w, this));

        const ca = args.ca;
        const lists: RevocationList[] = [];
        if (ca.intermediate) {
            lists.push(
                new RevocationList(
                    `${name}-root`,
                    {
                        issuerCertPem: ca.root.certPem,
                        issuerKeyPem: ca.root.key.privateKeyPem,
                        issued: [{ name: "intermediate", certPem: ca.intermediate.certPem }],
                        ...common,
                        // Explicit revocations (clients, serials of leaked bundles) concern the leaves.
                        revocations: [],
                    },
                    { parent: this },
                ),
            );
        }
        lists.push(new RevocationList(`${name}-issuing`, { issuerCertPem: ca.certPem, issuerKeyPem: ca.keyPem, issued: args.issued, ...common }, { parent: this }));
        this.lists = lists;

        const all = <T>(pick: (l: RevocationList) => pulumi.Output<T>) => pulumi.all(lists.map(pick));
        this.crlPem = all((l) => l.crlPem).apply((pems) => joinPem(pems));
        // Roots first, then intermediates: the order nginx advertises them in.
        this.trustBundlePem = all((l) => l.trustedCaPem).apply((pems) => joinPem(pems));
        this.nextUpdate = all((l) => l.nextUpdate).apply((times) => times.slice().sort()[0]);
        this.refreshAt = all((l) => l.refreshAt).apply((times) => times.slice().sort()[0]);
        this.revoked = all((l) => l.revoked).apply((lists) => lists.flat());
        this.registerOutputs({ crlPem: this.crlPem, trustBundlePem: this.trustBundlePem, nextUpdate: this.nextUpdate, refreshAt: this.refreshAt, revoked: this.revoked });
    }
}
