/**
 * Default error pages of an mTLS site: short, self-contained HTML (inline CSS, no scripts, no external
 * resources) telling a person what went wrong with their client certificate and what to do.
 *
 * They are files in the site's error-pages directory, served by an internal location; nothing here
 * goes into the nginx config. Pure.
 */
import type { SiteErrorPages } from "./siteSpec";

/** The status codes that have a page, and the file each is stored in. */
export const ERROR_PAGE_FILES = { 495: "495.html", 496: "496.html", 403: "403.html" } as const;

export type ErrorPageCode = keyof typeof ERROR_PAGE_FILES;

function page(title: string, body: string): string {
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}
h1{font-size:1.4rem}code{background:#f2f2f2;padding:0 .2rem}li{margin:.3rem 0}
</style>
</head>
<body>
<h1>${title}</h1>
${body}
</body>
</html>
`;
}

/** The built-in pages, by status code. */
export const DEFAULT_ERROR_PAGES: Record<ErrorPageCode, string> = {
    495: page(
        "Your client certificate was not accepted",
        `<p>Your browser sent a certificate, but this site could not accept it. Usually it has <strong>expired</strong>,
it has been <strong>revoked</strong>, or it was issued by <strong>another certificate authority</strong>
(for example an old bundle, or one for a different environment).</p>
<ul>
<li>Ask your administrator for a new certificate bundle (<code>.p12</code>) and import it.</li>
<li>Check that your computer's date and time are correct: a wrong clock makes valid certificates look expired.</li>
<li>Then close the browser completely (it remembers the certificate choice) and open this page again; pick the new certificate when asked.</li>
</ul>`,
    ),
    496: page(
        "A client certificate is required",
        `<p>This site only admits people who present a client certificate, and your browser did not send one.</p>
<ul>
<li>Import the certificate bundle (<code>.p12</code> file) you received, with the password that came with it:
Firefox: Settings &rarr; Privacy &amp; Security &rarr; Certificates &rarr; View Certificates &rarr; Your Certificates &rarr; Import.
Chrome and Edge: Settings &rarr; Privacy and security &rarr; Security &rarr; Manage certificates &rarr; Import
(on macOS, double-click the file to add it to the login keychain).</li>
<li>Close the browser completely, open this page again and choose the certificate when asked.</li>
<li>No bundle yet? Ask your administrator for one.</li>
</ul>`,
    ),
    403: page(
        "Your certificate is not allowed here",
        `<p>Your client certificate is valid, but it is not on the list of certificates allowed to use this site.</p>
<ul>
<li>If you have several certificates, close the browser completely, open this page again and choose another one.</li>
<li>Otherwise ask your administrator to grant your certificate access.</li>
</ul>`,
    ),
};

/**
 * The files of the error-pages directory: `{ "495.html": html, "496.html": html, "403.html": html }`,
 * user-supplied pages where given, the defaults otherwise.
 */
export function errorPageFiles(custom: SiteErrorPages = {}): Record<string, string> {
    const files: Record<string, string> = {};
    for (const code of [495, 496, 403] as const) {
        files[ERROR_PAGE_FILES[code]] = custom[code] ?? DEFAULT_ERROR_PAGES[code];
    }
    return files;
}
