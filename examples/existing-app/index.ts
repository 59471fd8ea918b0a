/**
 * Composing the components into a larger program: apps that already run on a host (Grafana on :3000,
 * an admin API on :8081) get mTLS in front of them.
 *
 * - The CA exists on its own (one per company) and is passed in: MtlsNginx uses it instead of making one.
 * - The list of people comes from elsewhere (stack config here; a StackReference to an identity stack
 *   works the same way).
 * - A second site reuses the parts of the first: the same CA, the same CRLs and trust bundle (so removing
 *   a person revokes them on both), its own server certificate, and an allowlist for the on-call subset.
 *
 *   pulumi config set --path 'people[0]' alice && pulumi config set --path 'people[1]' bob
 *   pulumi config set --path 'onCall[0]' alice
 *   pulumi config set appHost 10.0.0.12
 *   pulumi config set --secret sshPrivateKey -- "$(cat ~/.ssh/deploy_ed25519)"
 *   pulumi up
 */
import * as pulumi from "@pulumi/pulumi";
import { CertificateAuthority, MtlsNginx, NginxSite, ServerCertificate } from "../../components";

const config = new pulumi.Config();
const people = config.requireObject<string[]>("people");
const onCall = config.getObject<string[]>("onCall") ?? people.slice(0, 1);
const appHost = config.get("appHost") ?? "127.0.0.1";
const connection = { host: config.get("sshHost") ?? "apps.internal.example.com", user: "deploy", privateKey: config.requireSecret("sshPrivateKey") };
const target = { kind: "ssh" as const, connection, sudo: true, nginx: { kind: "system" as const } };

// One CA for the company; sites and people come and go around it.
const ca = new CertificateAuthority("corp", { commonName: "Example Corp Internal Root CA", organization: "Example Corp", intermediate: true });

// Grafana: the people, their bundles, revocation and the site, from one args object.
const grafana = new MtlsNginx("grafana", {
    ca,
    server: { dnsNames: ["grafana.internal.example.com"] },
    clients: people.map((person) => ({ name: person, organization: "Example Corp" })),
    site: { mode: { kind: "proxy", upstream: `http://${appHost}:3000` } },
    target: { ...target, installDir: "/etc/nginx/mtls/grafana" },
});

// The admin API: another site trusting the same CA and the same revocation lists, on-call only.
const adminServer = new ServerCertificate("admin-server", { issuer: ca, dnsNames: ["admin.internal.example.com"] });
const admin = new NginxSite("admin", {
    site: {
        siteName: "admin",
        serverNames: ["admin.internal.example.com"],
        verifyDepth: ca.verifyDepth,
        listen: { port: 8443 },
        mode: { kind: "proxy", upstream: `http://${appHost}:8081` },
        allow: { commonNames: onCall },
    },
    server: adminServer,
    clientCaPem: grafana.trustBundlePem,
    crlPem: grafana.revocation!.crlPem,
    target: { ...target, installDir: "/etc/nginx/mtls/admin" },
});

export const grafanaUrl = grafana.url;
export const adminUrl = admin.url;
export const rootCa = ca.rootCertPem;
export const bundles = pulumi.secret(
    Object.fromEntries(Object.entries(grafana.clients).map(([person, c]) => [person, { p12: c.pkcs12Base64, password: c.pkcs12Password }])),
);
