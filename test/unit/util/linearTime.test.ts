/**
 * Every exported validator takes time linear in its input: each one runs on adversarial strings (a
 * pumped piece of its own grammar followed by a character it refuses, the shape that makes a backtracking
 * regex explode) of 32 and 10,000 characters, and no call may take more than 50 ms. The bound is
 * generous: it guards against exponential (and quadratic) blow-ups, not for speed.
 *
 * Each validator runs its batch in a vm context with a hard timeout (60 s, far above the few seconds a
 * batch takes), so a catastrophic regex fails the test instead of hanging it (V8 interrupts a running regex).
 */
import * as vm from "vm";
import { withDefaults } from "../../../components/nginx/siteSpec";
import * as nginx from "../../../components/nginx/validate";
import { splitCertificates } from "../../../components/pki/certInfo";
import { validateKeyAlgorithm } from "../../../components/pki/keyAlgorithm";
import { validatePkcs12FriendlyName, validatePkcs12Password, validatePkcs12Profile } from "../../../components/pki/pkcs12/password";
import { splitPemCertificates } from "../../../components/pki/pkcs12/pfx";
import * as pki from "../../../components/pki/validation";
import { normalizeSerial as ledgerSerial } from "../../../components/revocation/ledger";
import { validateRevocationListArgs } from "../../../components/revocation/revocationList";
import { parseDuration } from "../../../components/util/duration";
import { showValue } from "../../../components/util/errors";
import { forbiddenNameCharacter } from "../../../components/util/names";

const BOUND_MS = 50;
const BATCH_TIMEOUT_MS = 60_000;
const LENGTHS = [32, 10_000];

const PEM_BEGIN = "-----BEGIN CERTIFICATE-----";
/** Pieces of the grammars the validators accept (paths, names, DNs, serials, URLs, durations, PEM). */
const PUMPS = ["a", "x", "0", "9", "-", ".", "/", "a/", "/a", "a.", "a-", "-a", ":", "0:", "a:", "::", "\\", "\\,", "\\C3", "=", "a=", ",", "CN=a,", "a+", "+", "@", "a@", " ", "%", "é", "*", "?", "1d", "1.", "1.1", "=a", "ab", PEM_BEGIN];
/** Characters that end a match late: refused by most grammars. */
const ENDINGS = ["", "?", "!", "\u0000", '"', " ", "@", ".", "-", "/", "\\", "é", "\u202e"];
/** Prefixes some grammars need before the pumped part. */
const PREFIXES = ["", "/", "/reports/", "CN=", "a@", "http://a/", "https://", "0x", "spiffe://a/", "1d"];

function adversarialStrings(): string[] {
    const out = new Set<string>();
    for (const length of LENGTHS) {
        for (const prefix of PREFIXES) {
            for (const pump of PUMPS) {
                for (const ending of ENDINGS) {
                    const room = length - prefix.length - ending.length;
                    out.add(prefix + pump.repeat(Math.ceil(room / pump.length)).slice(0, room) + ending);
                }
            }
        }
    }
    return [...out];
}

const SITE = {
    siteName: "app",
    serverNames: ["app.example.com"],
    verifyDepth: 1,
    paths: { certificate: "/etc/mtls/server.crt", certificateKey: "/etc/mtls/server.key", clientCa: "/etc/mtls/ca.crt", errorPagesDir: "/var/lib/mtls/errors" },
    mode: { kind: "proxy" as const, upstream: "http://127.0.0.1:8080" },
};
const site = (overrides: Record<string, unknown>) => nginx.validateSiteSpec(withDefaults({ ...SITE, ...overrides } as never));
const revocation = (r: Record<string, unknown>) => validateRevocationListArgs({ issuerCertPem: "-", issuerKeyPem: "-", issued: [], revocations: [r as never] }, "revocation");

/** Every exported validator (and normalizer) that takes a string, as a function of that string. */
const VALIDATORS: [string, (s: string) => unknown][] = [
    ["nginx.isSafeLocationPath", (s) => nginx.isSafeLocationPath(s)],
    ["nginx.isHostname", (s) => nginx.isHostname(s)],
    ["nginx.canonicalIPv6", (s) => nginx.canonicalIPv6(s)],
    ["nginx.normalizeServerName", (s) => nginx.normalizeServerName(s)],
    ["nginx.normalizeListenAddress", (s) => nginx.normalizeListenAddress(s, true)],
    ["nginx.canonicalUpstream", (s) => nginx.canonicalUpstream(s)],
    ["nginx.normalizeSerial", (s) => nginx.normalizeSerial(s)],
    ["nginx.normalizeFingerprintSha1", (s) => nginx.normalizeFingerprintSha1(s)],
    ["nginx.rfc2253EscapeValue", (s) => nginx.rfc2253EscapeValue(s)],
    ["nginx.checkAbsolutePath", (s) => nginx.checkAbsolutePath(s, "p", [], { kind: "file", noGlob: true })],
    ["nginx patterns", (s) => [nginx.SITE_NAME_PATTERN, nginx.HEADER_PREFIX_PATTERN, nginx.INDEX_NAME_PATTERN, nginx.RELEASE_MARKER_PATTERN, nginx.ZONE_SUFFIX_PATTERN].map((re) => re.test(s))],
    ["site.locations[].path", (s) => site({ locations: [{ path: s, requireClientCertificate: true }] })],
    ["site.allow.subjectDns", (s) => site({ allow: { subjectDns: [s] } })],
    ["site.allow.commonNames", (s) => site({ allow: { commonNames: [s] } })],
    ["site.allow.serials", (s) => site({ allow: { serials: [s] } })],
    ["site.allow.fingerprintsSha1", (s) => site({ allow: { fingerprintsSha1: [s] } })],
    ["site.serverNames", (s) => site({ serverNames: [s] })],
    ["site.mode.upstream", (s) => site({ mode: { kind: "proxy", upstream: s } })],
    ["site.mode.headerPrefix", (s) => site({ mode: { kind: "proxy", upstream: "http://127.0.0.1:8080", headerPrefix: s } })],
    ["site.mode.index", (s) => site({ mode: { kind: "static", root: "/srv/www", index: [s] } })],
    ["site.listen.address", (s) => site({ listen: { address: s, port: 443 } })],
    ["site.paths.crl", (s) => site({ paths: { ...SITE.paths, crl: s } })],
    ["site.releaseMarker", (s) => site({ releaseMarker: s })],
    ["pki.validateCommonName", (s) => pki.validateCommonName(s, "cn")],
    ["pki.validateDnField", (s) => pki.validateDnField(s, "o")],
    ["pki.validateCountry", (s) => pki.validateCountry(s, "c")],
    ["pki.validateResourceName", (s) => pki.validateResourceName(s, "name")],
    ["pki.isDnsName", (s) => pki.isDnsName(s)],
    ["pki.validateDnsNames", (s) => pki.validateDnsNames([s], "dns")],
    ["pki.validateIpAddresses", (s) => pki.validateIpAddresses([s], "ip")],
    ["pki.validateEmail", (s) => pki.validateEmail(s, "email")],
    ["pki.validateUris", (s) => pki.validateUris([s], "uris")],
    ["validateKeyAlgorithm", (s) => validateKeyAlgorithm(s, "k")],
    ["validatePkcs12Password", (s) => validatePkcs12Password(s, "password")],
    ["validatePkcs12Profile", (s) => validatePkcs12Profile(s, "profile")],
    ["validatePkcs12FriendlyName", (s) => validatePkcs12FriendlyName(s, "friendlyName")],
    ["splitPemCertificates", (s) => splitPemCertificates(s)],
    ["splitCertificates", (s) => splitCertificates(s)],
    ["parseDuration", (s) => parseDuration(s, "d")],
    ["ledger normalizeSerial", (s) => ledgerSerial(s)],
    ["revocation.revocations[].serial", (s) => revocation({ serial: s, reason: "keyCompromise" })],
    ["revocation.revocations[].client", (s) => revocation({ client: s, reason: "keyCompromise" })],
    ["forbiddenNameCharacter", (s) => forbiddenNameCharacter(s)],
    ["showValue", (s) => showValue(s)],
];

/**
 * Runs `fn` on every input; returns the slowest call in CPU time (other processes on a busy machine do not
 * count), re-measured up to three times so a GC pause is not taken for a blow-up.
 */
function slowest(fn: (s: string) => unknown, inputs: string[]): { ms: number; input: string } {
    const once = (s: string): number => {
        const before = process.cpuUsage();
        try {
            fn(s);
        } catch {
            // refusing is fine; only the time counts
        }
        const spent = process.cpuUsage(before);
        return (spent.user + spent.system) / 1000;
    };
    let worst = { ms: 0, input: "" };
    for (const input of inputs) {
        let ms = once(input);
        for (let retry = 0; retry < 2 && ms > BOUND_MS; retry++) ms = Math.min(ms, once(input));
        if (ms > worst.ms) worst = { ms, input };
    }
    return worst;
}

const INPUTS = adversarialStrings();
const context = vm.createContext({ slowest, INPUTS, job: undefined as unknown });

describe(`every validator on ${INPUTS.length} adversarial strings of ${LENGTHS.join(", ")} characters`, () => {
    it.each(VALIDATORS)(`%s: no call over ${BOUND_MS} ms`, (name, fn) => {
        context.job = fn;
        let worst: { ms: number; input: string };
        try {
            worst = vm.runInContext("slowest(job, INPUTS)", context, { timeout: BATCH_TIMEOUT_MS }) as { ms: number; input: string };
        } catch (e) {
            throw new Error(`${name} did not finish ${INPUTS.length} calls within ${BATCH_TIMEOUT_MS} ms (${(e as Error).message}): a backtracking blow-up`);
        }
        if (worst.ms > BOUND_MS) {
            throw new Error(`${name} took ${worst.ms.toFixed(1)} ms on ${showValue(worst.input)} (${worst.input.length} characters)`);
        }
    });
});
