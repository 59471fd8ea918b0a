/**
 * Host target resolution: the live check's address and names (IPv6 included), and errors that name
 * the user's own input.
 */
import { InputError, InputErrors } from "../../../components/util/errors";
import { liveCheckHost, liveCheckNames } from "../../../components/nginx/hostTarget";
import { renderInstallScript } from "../../../components/nginx/install";
import { resolveNginxSiteArgs, siteUrl } from "../../../components/nginx/site";
import { SiteDefinition } from "../../../components/nginx/release";

const site = (extra: Partial<SiteDefinition> = {}): SiteDefinition => ({ siteName: "app", serverNames: ["app.example.com"], listen: { address: "0.0.0.0", port: 8443 }, verifyDepth: 1, mode: { kind: "static" }, ...extra });

function errorsOf(fn: () => unknown): InputError[] {
    try {
        fn();
    } catch (e) {
        if (e instanceof InputErrors) return e.errors;
        if (e instanceof InputError) return [e];
        throw e;
    }
    throw new Error("no error thrown");
}

describe("IPv6: the live check's address and names", () => {
    test("a wildcard listen address is checked on the loopback of its family; a specific one on itself, without brackets", () => {
        expect(liveCheckHost("0.0.0.0")).toBe("127.0.0.1");
        expect(liveCheckHost("*")).toBe("127.0.0.1");
        expect(liveCheckHost("::")).toBe("::1");
        expect(liveCheckHost("[::]")).toBe("::1");
        expect(liveCheckHost("[::1]")).toBe("::1");
        expect(liveCheckHost("2001:DB8:0::10")).toBe("2001:db8::10");
        expect(liveCheckHost("10.0.0.5")).toBe("10.0.0.5");
    });

    test("SNI is the first DNS name; with IP literals only there is none and the Host header is the literal", () => {
        expect(liveCheckNames(["::1"])).toEqual({ hostHeader: "[::1]" });
        expect(liveCheckNames(["[::1]", "10.0.0.5"])).toEqual({ hostHeader: "[::1]" });
        expect(liveCheckNames(["10.0.0.5"])).toEqual({ hostHeader: "10.0.0.5" });
        expect(liveCheckNames(["::1", "App.Example.com"])).toEqual({ serverName: "app.example.com" });
        expect(liveCheckNames(["::1", "*.example.com"])).toEqual({ serverName: "check.example.com" });
    });

    test.each([
        [["::1"], "::1"],
        [["[::1]"], "::1"],
        [["[::1]"], "::"],
        [["::1", "localhost"], "::1"],
    ])("serverNames %j listening on %j resolve and render an install script", (serverNames, address) => {
        const { target } = resolveNginxSiteArgs({ site: site({ serverNames, listen: { address, port: 8443 } }), target: { kind: "local", installDir: "/opt/app" } }, { trustedCa: false, crl: false });
        expect(target.script.liveCheck.host).toBe("::1");
        const script = renderInstallScript({ ...target.script, releaseId: "0123456789abcdef" });
        expect(script).toContain("MTLS_LIVE_CONNECT='[::1]:8443'");
        expect(script).toContain(serverNames.includes("localhost") ? "MTLS_LIVE_HOST_HEADER=localhost" : "MTLS_LIVE_HOST_HEADER='[::1]'");
    });

    test("a site sharing its listen address with IP literal names only is refused, naming site.serverNames", () => {
        const errors = errorsOf(() =>
            resolveNginxSiteArgs({ site: site({ serverNames: ["::1"], listen: { address: "::", port: 443 } }), target: { kind: "ssh", connection: { host: "h" } } }, { trustedCa: false, crl: false }),
        );
        expect(errors.map((e) => e.input)).toEqual(["site.serverNames"]);
        expect(errors[0].message).toContain('["::1"] are IP literals only, and the site shares its listen address [::]:443');
        expect(errors[0].message).toContain("target.sharedListen: false");
    });

    test("the site URL brackets an IPv6 literal", () => {
        expect(siteUrl("::1", 8443)).toBe("https://[::1]:8443/");
        expect(siteUrl("[2001:DB8::1]", 443)).toBe("https://[2001:db8::1]/");
        expect(siteUrl("*.example.com", 443)).toBe("https://example.com/");
        expect(siteUrl("10.0.0.5", 8443)).toBe("https://10.0.0.5:8443/");
    });

    test("liveCheck.hostHeader must be a name or an IP literal", () => {
        const input = { installDir: "/opt/x", releaseId: "0123456789abcdef", site: "x", control: { kind: "dedicated" as const, prefix: "/opt/x", confFile: "/opt/x/current/nginx.conf" }, sharedListen: false };
        expect(() => renderInstallScript({ ...input, liveCheck: { port: 443, hostHeader: "[::1]" } })).not.toThrow();
        expect(() => renderInstallScript({ ...input, liveCheck: { port: 443, hostHeader: "a b" } })).toThrow(/liveCheck\.hostHeader: "a b" is not a host name or IP literal/);
    });
});

describe("errors name the user's own input, target first", () => {
    const resolve = (target: unknown, siteExtra: Partial<SiteDefinition> = {}) => () =>
        resolveNginxSiteArgs({ site: site(siteExtra), target: target as never }, { trustedCa: false, crl: false });
    const local = (extra: Record<string, unknown>) => ({ kind: "local", installDir: "/opt/app", ...extra });
    const system = (nginx: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ kind: "ssh", connection: { host: "h" }, nginx: { kind: "system", ...nginx }, ...extra });

    test.each<[string, unknown, string[], RegExp]>([
        ["a relative installDir", local({ installDir: "relative/dir" }), ["target.installDir"], /"relative\/dir" is not an absolute path.*Fix: /],
        ["an installDir with a blank", local({ installDir: "/opt/my site" }), ["target.installDir"], /contains a blank|contains whitespace|cannot appear in an nginx path/],
        ["an installDir that is not normalized", local({ installDir: "/opt/a/../b" }), ["target.installDir"], /not normalized.*Fix: write it as "\/opt\/b"/],
        ["the root directory as installDir", local({ installDir: "/" }), ["target.installDir"], /filesystem root/],
        ["a bare binary name", local({ nginx: { kind: "dedicated", binary: "nginx" } }), ["target.nginx.binary"], /"nginx" is not an absolute path.*Fix: .*\/usr\/sbin\/nginx/],
        ["a relative include link", system({ includeLink: "conf.d/x.conf" }), ["target.nginx.includeLink"], /"conf\.d\/x\.conf" is not an absolute path/],
        ["an include link inside installDir", system({ includeLink: "/srv/site/link.conf" }, { installDir: "/srv/site" }), ["target.nginx.includeLink"], /lies inside target\.installDir/],
        // Caught by the script-input check (the default installDir needs the site), renamed to the user's argument.
        ["an include link inside the default installDir", system({ includeLink: "/etc/nginx/mtls/app/x.conf" }), ["target.nginx.includeLink"], /lies inside installDir/],
        ["a relative error log", system({ errorLog: "logs/error.log" }), ["target.nginx.errorLog"], /"logs\/error\.log" is not an absolute path/],
        ["an unknown reload method", system({ reload: "restart" }), ["target.nginx.reload"], /"restart" is not a reload method/],
        ["a bad systemd unit", system({ systemdUnit: "a b" }), ["target.nginx.systemdUnit"], /"a b" is not a unit name/],
        ["a non-string nginx argument", system({ args: ["-c", 7] }), ["target.nginx.args[1]"], /must be a string/],
        ["a non-boolean sudo", local({ sudo: "yes" }), ["target.sudo"], /must be true or false/],
        ["an unknown version policy", local({ versionPolicy: "ignore" }), ["target.versionPolicy"], /"ignore" is not a version policy/],
        ["a non-boolean sharedListen", local({ sharedListen: "no" }), ["target.sharedListen"], /must be true or false/],
        ["a live-check host that is no host", local({ liveCheck: { host: "bad host" } }), ["target.liveCheck.host"], /"bad host" is not an IP address or host name/],
        ["a live-check timeout of 0", local({ liveCheck: { timeoutSeconds: 0 } }), ["target.liveCheck.timeoutSeconds"], /0 is not a whole number of seconds in 1\.\.600/],
        ["an unknown error-log level", local({ nginx: { kind: "dedicated", errorLogLevel: "debug" } }), ["target.nginx.errorLogLevel"], /"debug" is not an error-log level/],
    ])("%s: one error, naming the input as the user wrote it, and the fix", (_label, target, inputs, message) => {
        const errors = errorsOf(resolve(target));
        expect(errors.map((e) => e.input)).toEqual(inputs);
        expect(errors[0].message).toMatch(message);
        expect(errors[0].message).toContain("Fix: ");
        for (const e of errors) expect(e.message).not.toMatch(/control\.|site\.paths|\bnginxBinary\b|liveCheck\.serverName|MTLS_/);
    });

    test("several target problems are reported together, before any site error they would cause", () => {
        const errors = errorsOf(resolve(local({ installDir: "rel dir", nginx: { kind: "dedicated", binary: "nginx" }, liveCheck: { timeoutSeconds: 9999 } })));
        expect(errors.map((e) => e.input)).toEqual(["target.installDir", "target.nginx.binary", "target.liveCheck.timeoutSeconds"]);
    });

    test("a Docker target's installDir is checked before the site's paths are derived from it", () => {
        const errors = errorsOf(resolve({ kind: "docker", installDir: "/etc/nginx/my mtls" }));
        expect(errors.map((e) => e.input)).toEqual(["target.installDir"]);
    });

    test("a good target still resolves", () => {
        expect(() => resolve(system({ includeLink: "/etc/nginx/conf.d/app.conf", errorLog: "/var/log/nginx/app.log", reload: "signal", args: ["-c", "/etc/nginx/nginx.conf"] }))()).not.toThrow();
    });
});
