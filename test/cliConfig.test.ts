/**
 * The Pulumi CLI's own config rules, applied to every committed stack file before any command
 * (preview, up, destroy, refresh, even `pulumi config`) runs: ported from pulumi v3.248.0,
 * sdk/go/common/workspace/config.go (`mergeConfig`, `validateStackConfigValues`,
 * `validateStackConfigValue`) and project.go (`Project.Validate`, `ValidateConfigValue`). A
 * declaration that breaks them stops every stack command before any resource.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { SECRET_KEYS } from "../components/config";
import { PROJECT, PROJECT_DIR, committedStacks, projectFile } from "./support/program";

interface Declaration {
    type?: string;
    items?: { type: string; items?: unknown };
    default?: unknown;
    value?: unknown;
    secret?: boolean;
}

/** A stack value as the stack file holds it: plain, or `{secure: ...}` (encrypted). */
type StackValue = unknown;

const isSecure = (v: StackValue) => typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && "secure" in v;

/**
 * `ValidateConfigValue`: a stack value reaches it as the text the CLI decrypted (primitives as
 * strings, objects and arrays as JSON, unmarshalled again); a default as YAML typed it.
 */
function validConfigValue(type: string, items: Declaration["items"], value: unknown): boolean {
    switch (type) {
        case "string":
            return typeof value === "string";
        case "integer":
            if (typeof value === "number") return Number.isInteger(value);
            // Go's strconv.Atoi: an optional sign and decimal digits.
            return typeof value === "string" && /^[+-]?\d+$/.test(value);
        case "boolean":
            return value === true || value === false || value === "true" || value === "false";
        case "object":
            return typeof value === "object" && value !== null && !Array.isArray(value);
        default:
            return Array.isArray(value) && items !== undefined && value.every((item) => validConfigValue(items.type, items.items as Declaration["items"], item));
    }
}

/** The text `stackValue.Value(dec)` gives for a plain stack value: primitives as `%v`, the rest as JSON. */
function asDecrypted(value: StackValue): unknown {
    if (value === null || typeof value !== "object") return String(value);
    return JSON.parse(JSON.stringify(value));
}

/**
 * Every error the CLI would stop on for `stack` with `stackConfig` (keys with their namespace),
 * in its own words; `[]` when it would go on. Encrypted values are taken as valid strings (the
 * CLI decrypts them first; this test has no passphrase).
 */
function cliConfigErrors(project: string, declarations: Record<string, Declaration>, stack: string, stackConfig: Record<string, StackValue>): string[] {
    const errors: string[] = [];
    // Project.Validate (project.go), on loading Pulumi.yaml.
    for (const [key, decl] of Object.entries(declarations)) {
        if (decl.default !== undefined && decl.value !== undefined) errors.push(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
        if (decl.type === "array" && decl.items === undefined) errors.push(`The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`);
        if (decl.type !== undefined && decl.default !== undefined && !validConfigValue(decl.type, decl.items, decl.default)) {
            errors.push(`The default value specified for configuration key '${key}' is not of the expected type '${decl.type}'`);
        }
    }
    // mergeConfig: a key of the project's namespace with neither a stack value, nor a value, nor a default.
    const keyOf = (k: string) => (k.includes(":") ? k : `${project}:${k}`);
    const missing = Object.keys(declarations)
        .sort()
        .filter((k) => keyOf(k).startsWith(`${project}:`) && !(keyOf(k) in stackConfig) && declarations[k].value === undefined && declarations[k].default === undefined);
    if (missing.length > 0) return [`Stack '${stack}' is missing configuration value${missing.length > 1 ? "s" : ""} ${formatMissingKeys(missing)}`];
    // The defaults merged in, as plain values, then validateStackConfigValues.
    const merged: Record<string, StackValue> = { ...stackConfig };
    for (const [key, decl] of Object.entries(declarations)) {
        if (!(keyOf(key) in merged)) merged[keyOf(key)] = decl.value ?? decl.default;
    }
    for (const key of Object.keys(declarations).sort()) {
        const decl = declarations[key];
        if (decl.type === undefined) continue;
        const value = merged[keyOf(key)];
        if (decl.secret && !isSecure(value)) {
            errors.push(`Stack '${stack}' with configuration key '${key}' must be encrypted as it's secret`);
            continue;
        }
        if (isSecure(value)) continue;
        if (!validConfigValue(decl.type, decl.items, asDecrypted(value))) errors.push(`Stack '${stack}' with configuration key '${key}' must be of type '${decl.type}'`);
    }
    return errors;
}

/** `formatMissingKeys`: 'a', or 'a', 'b' and 'c'. */
function formatMissingKeys(keys: string[]): string {
    const quoted = [...keys].sort().map((k) => `'${k}'`);
    return quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}

function stackFileConfig(stack: string): Record<string, StackValue> {
    const file = parse(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, StackValue> };
    return file.config ?? {};
}

const declarations = projectFile().config as Record<string, Declaration>;

describe.each(committedStacks())("the Pulumi CLI's config rules, for the committed %s stack", (stack) => {
    it("accept Pulumi.yaml with the stack's file as it is committed", () => {
        expect(cliConfigErrors(PROJECT, declarations, stack, stackFileConfig(stack))).toEqual([]);
    });

    it("accept it after npm run up has kept the generated secrets in it", () => {
        const kept = Object.fromEntries(SECRET_KEYS.filter((k) => k !== "registryPassword").map((k) => [`${PROJECT}:${k}`, { secure: "v1:AAAA:BBBB" }]));
        expect(cliConfigErrors(PROJECT, declarations, stack, { ...stackFileConfig(stack), ...kept })).toEqual([]);
    });

    it("holds every secret of the program, where it holds one, encrypted", () => {
        const config = stackFileConfig(stack);
        for (const key of SECRET_KEYS) {
            const value = config[`${PROJECT}:${key}`];
            if (value !== undefined) expect({ key, secure: isSecure(value) }).toEqual({ key, secure: true });
        }
    });
});

describe("the ported CLI rules", () => {
    const stack = { [`${PROJECT}:mysqlHostPort`]: 3306 };

    it("stop a stack that lacks a key declared without a default, naming every such key (the failure the secrets caused)", () => {
        const withSecrets = { ...declarations, mysqlPassword: { type: "string", secret: true }, jupyterToken: { type: "string", secret: true } };
        expect(cliConfigErrors(PROJECT, withSecrets, "dev", stack)).toEqual(["Stack 'dev' is missing configuration values 'jupyterToken' and 'mysqlPassword'"]);
    });

    it("refuse a default for a secret key, since the default is applied unencrypted", () => {
        const withDefault = { ...declarations, jupyterToken: { type: "string", secret: true, default: "" } };
        expect(cliConfigErrors(PROJECT, withDefault, "dev", stack)).toEqual(["Stack 'dev' with configuration key 'jupyterToken' must be encrypted as it's secret"]);
    });

    it("refuse a plain stack value for a secret key, and take an encrypted one", () => {
        const secretKey = { ...declarations, jupyterToken: { type: "string", secret: true } };
        expect(cliConfigErrors(PROJECT, secretKey, "dev", { ...stack, [`${PROJECT}:jupyterToken`]: "plain" })).toEqual([
            "Stack 'dev' with configuration key 'jupyterToken' must be encrypted as it's secret",
        ]);
        expect(cliConfigErrors(PROJECT, secretKey, "dev", { ...stack, [`${PROJECT}:jupyterToken`]: { secure: "v1:x" } })).toEqual([]);
    });

    it("refuse a stack value of the wrong type, and take integers and booleans written as text", () => {
        expect(cliConfigErrors(PROJECT, declarations, "dev", { [`${PROJECT}:mysqlHostPort`]: "3306x" })).toEqual(["Stack 'dev' with configuration key 'mysqlHostPort' must be of type 'integer'"]);
        expect(cliConfigErrors(PROJECT, declarations, "dev", { [`${PROJECT}:mysqlHostPort`]: "3306", [`${PROJECT}:protectData`]: "true" })).toEqual([]);
        expect(cliConfigErrors(PROJECT, declarations, "dev", { [`${PROJECT}:dockerSshOpts`]: ["-i", "key"] })).toEqual([]);
        for (const value of ["-i", ["-i", 3]]) {
            expect(cliConfigErrors(PROJECT, declarations, "dev", { [`${PROJECT}:dockerSshOpts`]: value })).toEqual(["Stack 'dev' with configuration key 'dockerSshOpts' must be of type 'array'"]);
        }
    });
});
