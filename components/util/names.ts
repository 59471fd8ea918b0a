/**
 * The one character rule for names people read: certificate subject fields (CN, O, OU), SANs, PKCS#12
 * friendlyNames and allowlisted names. Pure and self-contained (the PKCS#12 provider is serialized with it).
 */

/**
 * The first character a name may not contain, described for a message (`U+202E, a format character
 * (bidi control, zero-width, soft hyphen)`), or undefined when the name is clean.
 *
 * Refused: every Unicode "other" character (`\p{C}`: controls, format characters such as U+202E
 * RIGHT-TO-LEFT OVERRIDE or U+200B ZERO WIDTH SPACE, lone surrogates, private use, unassigned) and the
 * line and paragraph separators U+2028/U+2029. Certificate pickers, keychains and logs render them
 * invisibly or reorder the text around them, so a name holding one can pass for another name.
 */
export function forbiddenNameCharacter(value: string): string | undefined {
    const found = /[\p{C}\u2028\u2029]/u.exec(value);
    if (!found) return undefined;
    const ch = found[0];
    const code = `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    const kinds: [RegExp, string][] = [
        [/\p{Cc}/u, "a control character"],
        [/\p{Cf}/u, "a format character (bidi control, zero-width, soft hyphen)"],
        [/\p{Cs}/u, "half of a surrogate pair"],
        [/\p{Co}/u, "a private-use character"],
        [/\p{Cn}/u, "an unassigned code point"],
    ];
    const kind = kinds.find(([re]) => re.test(ch))?.[1] ?? "a line or paragraph separator";
    return `${code}, ${kind}`;
}

/** The fix every message about {@link forbiddenNameCharacter} gives. */
export const NAME_CHARACTER_FIX =
    "remove control and format characters (bidi overrides, zero-width spaces, soft hyphens), private-use and unassigned characters: certificate pickers would show a different name";
