/**
 * Explicit revocations by client name whose name is not declared now (pure).
 *
 * That is the normal case for a removed client: its certificates stay in this stack's revocation ledger and
 * are revoked by name. It is also what a typo looks like, and a typo revokes nothing. The ledger lives in the
 * RevocationList's state, which a program cannot read while it is being constructed, so these are warnings:
 * an error here would make removed clients unrevocable by name.
 */
import { showValue } from "../util/errors";

/** How many declared names a warning lists before "and N more". */
const LISTED_NAMES = 10;

export interface RevocationTarget {
    client?: unknown;
}

/**
 * One warning per revocation whose `client` (a plain string) is not among `declared`, naming the input
 * (`revocation.revocations[i].client`), the declared names and, for a near miss, the likely one.
 */
export function undeclaredRevocationTargets(revocations: ReadonlyArray<RevocationTarget | undefined>, declared: ReadonlyArray<string>, input = "revocation.revocations"): string[] {
    const known = new Set(declared);
    const warnings: string[] = [];
    revocations.forEach((revocation, i) => {
        const client = revocation?.client;
        if (typeof client !== "string" || client === "" || known.has(client)) return;
        const nearest = closestName(client, declared);
        warnings.push(
            `${input}[${i}].client: ${showValue(client)} is not among the clients declared now (${listNames(declared)}). ` +
                `It revokes only the certificates this stack issued to a client of that name before it was removed; ` +
                `a name never issued here (a typo?) revokes nothing, and the revocation list then reports "matched no tracked certificate". ` +
                (nearest ? `Did you mean ${showValue(nearest)}? ` : "") +
                `Once a pulumi up has revoked a removed client's certificates, the revocation is permanent and this entry may be deleted.`,
        );
    });
    return warnings;
}

function listNames(names: ReadonlyArray<string>): string {
    if (names.length === 0) return "none";
    const shown = names.slice(0, LISTED_NAMES).map(showValue).join(", ");
    return names.length > LISTED_NAMES ? `${shown} and ${names.length - LISTED_NAMES} more` : shown;
}

/** The declared name within two edits of `word` (the closest), if any. */
function closestName(word: string, names: ReadonlyArray<string>): string | undefined {
    if (word.length > 64) return undefined;
    let best: { name: string; distance: number } | undefined;
    for (const name of names) {
        if (Math.abs(name.length - word.length) > 2) continue;
        const distance = editDistance(word, name);
        if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
    }
    return best?.name;
}

/** Levenshtein distance (insertions, deletions, substitutions), two rows. */
function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}
