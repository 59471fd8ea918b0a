/**
 * Validators for certificate subjects, names and SANs. Pure: each throws an InputError that names
 * the input and the fix, or returns the normalized value.
 */
import * as net from "net";
import { InputError, showValue } from "../util/errors";
import { forbiddenNameCharacter, NAME_CHARACTER_FIX } from "../util/names";

/** RFC 5280 upper bound for CN, O, OU (ub-common-name etc.). */
export const MAX_DN_FIELD_LENGTH = 64;

/** Throws an InputError naming `input` when `value` breaks the one character rule for names (util/names.ts). */
export function checkNameCharacters(value: string, input: string, what: string): void {
    const bad = forbiddenNameCharacter(value);
    if (bad) {
        throw new InputError(input, `the ${what} ${showValue(value)} contains ${bad}`, NAME_CHARACTER_FIX);
    }
}

export function validateCommonName(value: unknown, input: string): string {
    if (typeof value !== "string" || value.trim().length === 0) {
        throw new InputError(input, "the common name is empty", "give a non-empty common name (CN), e.g. the person's or service's name");
    }
    return validateDnField(value, input, "common name")!;
}

/** Optional subject fields (O, OU, L, ST): at most 64 characters, no control or format characters (util/names.ts). */
export function validateDnField(value: unknown, input: string, what = "subject field"): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
        throw new InputError(input, `the ${what} is not a string`, "use a string");
    }
    if (value.length > MAX_DN_FIELD_LENGTH) {
        throw new InputError(input, `the ${what} is ${value.length} characters long; RFC 5280 allows at most ${MAX_DN_FIELD_LENGTH}`, `shorten it to ${MAX_DN_FIELD_LENGTH} characters or fewer`);
    }
    checkNameCharacters(value, input, what);
    if (value !== value.trim()) {
        throw new InputError(input, `the ${what} has leading or trailing spaces`, "trim the value");
    }
    return value;
}

/** ISO 3166 two-letter country code, as X.509 requires. */
export function validateCountry(value: unknown, input: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "string" || !/^[A-Z]{2}$/.test(value)) {
        throw new InputError(input, `${showValue(value)} is not a two-letter country code`, 'use an upper-case ISO 3166 code such as "DE" or "US"');
    }
    return value;
}

/**
 * Names of clients and components: used in Pulumi resource names and file names (`<name>.p12`),
 * so lower-case letters, digits, `-`, `_` and `.`; 1 to 63 characters; starting with a letter or digit.
 */
/** What a client (or component) name looks like: see {@link validateResourceName}. */
export const CLIENT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function validateResourceName(value: unknown, input: string): string {
    if (typeof value !== "string" || !CLIENT_NAME.test(value)) {
        throw new InputError(
            input,
            `${showValue(value)} is not a valid name`,
            "use 1-63 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit (it becomes part of resource and file names)",
        );
    }
    return value;
}

/** Duplicate names in a list, reported on the second occurrence. */
export function validateUniqueNames(names: ReadonlyArray<string>, input: (index: number) => string): void {
    const seen = new Map<string, number>();
    names.forEach((name, index) => {
        const first = seen.get(name);
        if (first !== undefined) {
            throw new InputError(input(index), `duplicate name ${showValue(name)} (also at index ${first})`, "give every entry a unique name");
        }
        seen.set(name, index);
    });
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** A DNS name per RFC 1123, optionally with a single leading `*.` wildcard label. */
export function isDnsName(value: string): boolean {
    if (value.length === 0 || value.length > 253) return false;
    const labels = value.split(".");
    return labels.every((label, i) => (i === 0 && label === "*" && labels.length > 2) || DNS_LABEL.test(label));
}

export function validateDnsNames(values: unknown, input: string): string[] {
    if (values === undefined) return [];
    if (!Array.isArray(values)) {
        throw new InputError(input, "not a list", 'use a list of DNS names, e.g. ["mtls.example.com"]');
    }
    return values.map((v, i) => {
        if (typeof v !== "string" || !isDnsName(v)) {
            throw new InputError(`${input}[${i}]`, `${showValue(v)} is not a DNS name`, "use an RFC 1123 host name such as mtls.example.com (a leading *. wildcard is allowed)");
        }
        return v.toLowerCase();
    });
}

export function validateIpAddresses(values: unknown, input: string): string[] {
    if (values === undefined) return [];
    if (!Array.isArray(values)) {
        throw new InputError(input, "not a list", 'use a list of IP addresses, e.g. ["127.0.0.1"]');
    }
    return values.map((v, i) => {
        if (typeof v !== "string" || net.isIP(v) === 0) {
            throw new InputError(`${input}[${i}]`, `${showValue(v)} is not an IP address`, "use an IPv4 or IPv6 literal such as 127.0.0.1 or ::1");
        }
        return v;
    });
}

// local@label.label...: the labels exclude ".", so there is one way to split the domain (linear time).
const EMAIL_RE = /^[^\s@<>()",;:\\[\]]+@(?:[^\s@<>()",;:\\[\].]+\.)+[^\s@<>()",;:\\[\].]+$/;

export function validateEmail(value: unknown, input: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string") checkNameCharacters(value, input, "e-mail address");
    if (typeof value !== "string" || value.length > 128 || !EMAIL_RE.test(value)) {
        throw new InputError(input, `${showValue(value)} is not an e-mail address`, "use a plain address such as alice@example.com (at most 128 characters)");
    }
    return value;
}

export function validateUris(values: unknown, input: string): string[] {
    if (values === undefined) return [];
    if (!Array.isArray(values)) {
        throw new InputError(input, "not a list", 'use a list of URIs, e.g. ["spiffe://example.org/alice"]');
    }
    return values.map((v, i) => {
        if (typeof v === "string") checkNameCharacters(v, `${input}[${i}]`, "URI");
        let ok = false;
        if (typeof v === "string" && !/\s/.test(v)) {
            try {
                ok = new URL(v).protocol.length > 1;
            } catch {
                ok = false;
            }
        }
        if (!ok) {
            throw new InputError(`${input}[${i}]`, `${showValue(v)} is not an absolute URI`, "use an absolute URI with a scheme, such as spiffe://example.org/alice or https://example.org/users/alice");
        }
        return v as string;
    });
}
