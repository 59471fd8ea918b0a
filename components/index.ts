/**
 * pulumi-mtls-nginx: mutual TLS in front of NGINX as Pulumi components.
 */
// The whole thing from one args object.
export { MtlsNginx, probeCommonName } from "./mtlsNginx";
export type { MtlsNginxArgs, ClientSpec, ServerSpec, MtlsNginxRevocationArgs, MtlsNginxRolloutArgs } from "./mtlsNginx";

// PKI.
export { CertificateAuthority, DEFAULT_ROOT_VALIDITY, DEFAULT_INTERMEDIATE_VALIDITY } from "./pki/certificateAuthority";
export type { CertificateAuthorityArgs, IntermediateCaArgs } from "./pki/certificateAuthority";
export { ClientCertificate, DEFAULT_CLIENT_VALIDITY } from "./pki/clientCertificate";
export type { ClientCertificateArgs, Pkcs12Options } from "./pki/clientCertificate";
export { ServerCertificate, providedServerCertificate, DEFAULT_SERVER_VALIDITY } from "./pki/serverCertificate";
export type { ServerCertificateArgs, ServerTlsMaterial, ProvidedServerCertificateArgs } from "./pki/serverCertificate";
export type { CertificateIssuer } from "./pki/issuer";
export { KEY_ALGORITHMS, DEFAULT_KEY_ALGORITHM } from "./pki/keyAlgorithm";
export type { KeyAlgorithm } from "./pki/keyAlgorithm";
export { certificateFacts } from "./pki/certInfo";
export type { CertificateFacts } from "./pki/certInfo";
export { Pkcs12Bundle } from "./pki/pkcs12/bundle";
export type { Pkcs12BundleArgs } from "./pki/pkcs12/bundle";
export { PKCS12_PROFILES, buildPkcs12 } from "./pki/pkcs12/pfx";
export type { Pkcs12Profile } from "./pki/pkcs12/pfx";

// Renewal and revocation.
export { renewAt, resolveRenewalPolicy } from "./renewal/policy";
export type { RenewalPolicyArgs } from "./renewal/policy";
export { RenewalSchedule } from "./renewal/schedule";
export type { RenewalScheduleArgs } from "./renewal/schedule";
export { cadenceFindings } from "./renewal/cadence";
export { CertificateRevocation } from "./revocation/certificateRevocation";
export type { CertificateRevocationArgs } from "./revocation/certificateRevocation";
export { RevocationList } from "./revocation/revocationList";
export type { RevocationListArgs, RevocationArgs, IssuedCertificateArgs } from "./revocation/revocationList";
export { REVOCATION_REASONS, buildCrl } from "./revocation/crl";
export type { RevocationReason } from "./revocation/crl";

// NGINX.
export { NginxSite } from "./nginx/site";
export type { NginxSiteArgs, NginxSiteRolloutArgs } from "./nginx/site";
export type { HostTarget, LocalHostTarget, SshHostTarget, DedicatedNginxArgs, SystemNginxArgs } from "./nginx/hostTarget";
export type { DockerTarget, DockerPortArgs, DockerNetworkArgs, DockerHealthcheckArgs } from "./nginx/dockerTarget";
export { buildSiteRelease } from "./nginx/release";
export type { SiteDefinition } from "./nginx/release";
export { renderSite, renderNginxConf } from "./nginx/render";
export { SITE_DEFAULTS } from "./nginx/siteSpec";
export type { SiteSpec, SiteSpecInput } from "./nginx/siteSpec";
export { validateSiteSpec } from "./nginx/validate";

// Fleets: several hosts, rolled out batch by batch behind a health gate.
export { FleetHost } from "./fleet/fleetHost";
export type { FleetHostArgs } from "./fleet/fleetHost";
export type { FleetHostTarget, FleetTargets, SiteFleetHost } from "./fleet/hosts";
export { planRollout } from "./fleet/rollout";
export type { RolloutPlan } from "./fleet/rollout";
export type { RolloutGateArgs, SiteGateArgs, GateProbeCertificate } from "./fleet/gate";
export { parseInstallSummary, parseGateOutput } from "./fleet/facts";
export type { HostFacts, InstallFacts, GateFacts, InstallTimings } from "./fleet/facts";

// Errors.
export { InputError, InputErrors } from "./util/errors";
