import * as pulumi from "@pulumi/pulumi";
import { MtlsNginx } from "../mtlsNginx";

/** Per-client stack output: what a person needs to get in (bundle and password are secrets). */
export interface ClientOutput {
    commonName: string;
    pkcs12Base64: pulumi.Output<string> | undefined;
    password: pulumi.Output<string> | undefined;
    fingerprintSha256: pulumi.Output<string>;
    serial: pulumi.Output<string>;
    notAfter: pulumi.Output<string>;
    renewAt: pulumi.Output<string>;
}

/** The stack outputs of the program (index.ts exports each field), which `npm run export-bundles` reads. */
export function stackOutputs(mtls: MtlsNginx) {
    const clients: Record<string, ClientOutput> = {};
    for (const [name, c] of Object.entries(mtls.clients)) {
        clients[name] = {
            commonName: c.settings.commonName,
            pkcs12Base64: c.pkcs12Base64,
            password: c.pkcs12Password,
            fingerprintSha256: c.fingerprintSha256,
            serial: c.serialHex,
            notAfter: c.notAfter,
            renewAt: c.renewAt,
        };
    }
    const first = Object.keys(mtls.clients)[0] ?? "<client>";
    return {
        url: mtls.url,
        caCertPem: mtls.caCertPem,
        clients,
        nextRenewal: mtls.nextRenewal,
        crlNextUpdate: mtls.crlNextUpdate,
        releaseId: mtls.site.releaseId,
        /** A fleet's hosts by name: release, served fingerprint, nginx version, install time, gate (undefined for a single target: no output). */
        hosts: mtls.hosts,
        curl: `npm run export-bundles && curl --cacert bundles/ca.crt --cert-type P12 --cert "bundles/${first}.p12:$(cat bundles/${first}.password)" ${mtls.url}`,
    };
}
