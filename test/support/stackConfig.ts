/**
 * Reads a stack file (stacks/Pulumi.<stack>.yaml) into the flat `namespace:key -> string` map that
 * Pulumi passes to a program (objects as JSON), for running index.ts under the simulator.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import type { ConfigReader } from "../../components/config/stackConfig";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

export function readStackFile(stack: string): Record<string, unknown> {
    const text = fs.readFileSync(path.join(PROJECT_DIR, "stacks", `Pulumi.${stack}.yaml`), "utf8");
    const doc = parse(text) as { config?: Record<string, unknown> };
    return { ...(doc.config ?? {}) };
}

/** Flattens config values as the Pulumi CLI hands them to the program. Secure values are not supported here. */
export function toProgramConfig(config: Record<string, unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(config)) {
        if (value && typeof value === "object" && !Array.isArray(value) && "secure" in (value as object)) {
            throw new Error(`${key} is an encrypted secret; tests must supply their own value`);
        }
        out[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return out;
}

/** A config reader over plain `mtls-nginx:<key>` values, shaped like pulumi.Config("mtls-nginx"). */
export function configReader(values: Record<string, unknown>): ConfigReader {
    const get = (key: string) => values[`mtls-nginx:${key}`];
    return {
        getObject: <T>(key: string) => get(key) as T | undefined,
        get: (key: string) => (get(key) === undefined ? undefined : String(get(key))),
        getSecret: (key: string) => (get(key) === undefined ? undefined : pulumi.secret(String(get(key)))),
        getSecretObject: <T>(key: string) => (get(key) === undefined ? undefined : (pulumi.secret(get(key)) as unknown as pulumi.Output<T>)),
    };
}
