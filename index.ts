/**
 * The Pulumi program: typed stack config (stacks/Pulumi.<stack>.yaml) -> one MtlsNginx -> stack outputs.
 * No logic of its own; see components/.
 */
import * as pulumi from "@pulumi/pulumi";
import { inConfigNamespace, readStackConfig } from "./components/config/stackConfig";
import { stackOutputs } from "./components/config/stackOutputs";
import { MtlsNginx } from "./components/mtlsNginx";

const config = new pulumi.Config("mtls-nginx");
const mtls = inConfigNamespace(() => new MtlsNginx("mtls", readStackConfig(config, __dirname)));
const outputs = stackOutputs(mtls);

export const url = outputs.url;
export const caCertPem = outputs.caCertPem;
export const clients = outputs.clients;
export const nextRenewal = outputs.nextRenewal;
export const crlNextUpdate = outputs.crlNextUpdate;
export const releaseId = outputs.releaseId;
/** A fleet's hosts (a list of targets): release, fingerprint, nginx version, install time, gate; absent for a single target. */
export const hosts = outputs.hosts;
export const curl = outputs.curl;
