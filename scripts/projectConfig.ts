/**
 * The project's config as the Pulumi CLI hands it to the program: the defaults declared in
 * Pulumi.yaml, overridden by the stack's own values. Read by the commands that check a stack's
 * config before acting on it (adopt), and by the tests.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/** Pulumi.yaml: its name is the config namespace, its `config:` block the declared keys. */
export interface ProjectFile {
    name: string;
    config: Record<string, { type: string; description: string; default?: unknown; items?: unknown; secret?: boolean }>;
}

export function readProjectFile(projectDir: string): ProjectFile {
    return parse(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as ProjectFile;
}

/** A config value as the CLI hands it to a program: a string, with arrays and objects as JSON. */
export function asConfigString(value: unknown): string {
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    return JSON.stringify(value);
}

/**
 * The defaults of `project`, overridden by `values` (keys with the project's namespace, as
 * `pulumi config --json` and the Automation API's `getAllConfig` give them); keys without the
 * namespace come back.
 */
export function withDefaults(project: ProjectFile, values: Record<string, unknown>): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [key, decl] of Object.entries(project.config)) {
        if (decl.default !== undefined) result[key] = asConfigString(decl.default);
    }
    for (const [key, value] of Object.entries(values)) {
        if (key.startsWith(`${project.name}:`)) result[key.slice(project.name.length + 1)] = asConfigString(value);
    }
    return result;
}

/** A stack's `Pulumi.<stack>.yaml` beside Pulumi.yaml, as committed: its `config:` map (secure values still encrypted) and its encryption salt, if any. */
export function readStackFile(projectDir: string, stack: string): { config: Record<string, unknown>; encryptionsalt?: string } {
    const file = parse(fs.readFileSync(path.join(projectDir, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown>; encryptionsalt?: string } | null;
    return { config: file?.config ?? {}, encryptionsalt: file?.encryptionsalt };
}
