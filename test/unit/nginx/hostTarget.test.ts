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
