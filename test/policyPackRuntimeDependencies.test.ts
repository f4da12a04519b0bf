/**
 * What runs in production, the program (index.ts), the policy pack (policy/) and the stack command
 * (scripts/), needs only the "dependencies" of package.json: `npm ci --omit=dev` installs nothing
 * else. Every module their files load at run time, following their relative imports (into
 * components/ and so on), must be one; a type-only import is not loaded and does not count.
 */
import * as fs from "fs";
import { builtinModules } from "module";
import * as path from "path";
import { resolveRelative, specifiers } from "./support/imports";
import { PROJECT_DIR } from "./support/program";

const packageJson = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8"));
const dependencies: Record<string, string> = packageJson.dependencies ?? {};
const devDependencies: Record<string, string> = packageJson.devDependencies ?? {};

const CODE = /\.(ts|js|cjs|mjs)$/;
const codeIn = (dir: string) =>
    fs
        .readdirSync(path.join(PROJECT_DIR, dir))
        .filter((f) => CODE.test(f) && !f.endsWith(".d.ts"))
        .map((f) => path.join(PROJECT_DIR, dir, f));

/** Where production starts: the program, every file of the policy pack, every file of the stack command. */
const ENTRY_POINTS = [path.join(PROJECT_DIR, "index.ts"), ...codeIn("policy"), ...codeIn("scripts")];

/** The npm package a bare specifier names ("@pulumi/pulumi/automation" is in "@pulumi/pulumi"), or undefined for Node's own modules. */
function packageOf(specifier: string): string | undefined {
    if (specifier.startsWith("node:") || builtinModules.includes(specifier.split("/")[0])) return undefined;
    const parts = specifier.split("/");
    return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Every project file production loads, and for each npm package the files that load it. */
function runtimeGraph(): { files: string[]; packages: Map<string, string[]> } {
    const seen = new Set<string>();
    const packages = new Map<string, string[]>();
    const queue = [...ENTRY_POINTS];
    while (queue.length > 0) {
        const file = queue.shift()!;
        if (seen.has(file)) continue;
        seen.add(file);
        if (!CODE.test(file)) continue;
        for (const specifier of specifiers(file, { types: false })) {
            if (specifier.startsWith(".")) {
                queue.push(resolveRelative(file, specifier));
                continue;
            }
            const pkg = packageOf(specifier);
            if (pkg) packages.set(pkg, [...(packages.get(pkg) ?? []), path.relative(PROJECT_DIR, file)]);
        }
    }
    return { files: [...seen].map((f) => path.relative(PROJECT_DIR, f)).sort(), packages };
}

/** Why a package is not enough in production, or undefined when it is a dependency. */
function problem(pkg: string, reason: string): string | undefined {
    if (pkg in dependencies) return undefined;
    return `${pkg} (${reason}) is ${pkg in devDependencies ? "a devDependency only" : "not in package.json"}: npm ci --omit=dev leaves it out`;
}

describe("what the program, the policy pack and the stack command load at run time", () => {
    const { files, packages } = runtimeGraph();

    it("is found from their entry points (the program's components, the pack's rules, the stack command's modules)", () => {
        for (const file of ["index.ts", "components/config.ts", "policy/index.ts", "policy/rules.ts", "scripts/stack.js", "scripts/typescript.js", "scripts/stackCommand.ts", "scripts/pulumiCli.ts"]) {
            expect(files).toContain(file);
        }
        expect(files.filter((f) => f.startsWith("test/"))).toEqual([]);
        for (const pkg of ["@pulumi/pulumi", "@pulumi/docker", "@pulumi/policy", "typescript", "semver", "dockerode", "yaml"]) expect([...packages.keys()]).toContain(pkg);
        // Type-only imports are not loaded.
        expect([...packages.keys()].filter((p) => p.startsWith("@types/"))).toEqual([]);
    });

    it("is all in dependencies, none in devDependencies only", () => {
        const problems = [...packages].map(([pkg, importers]) => problem(pkg, `loaded by ${[...new Set(importers)].join(", ")}`)).filter((p) => p !== undefined);
        expect(problems).toEqual([]);
    });

    it("includes what Pulumi's loaders need: TypeScript for ts-node, and Node's types for its type check", () => {
        // @pulumi/pulumi's cmd/run (the program) and cmd/run-policy-pack (the pack) compile TypeScript
        // with ts-node and the project's typescript (without it, the TypeScript 3.8 the SDK vendors,
        // too old for these files), type-checked: against Node's types, which the pack and the
        // program use (process, fs, path...) and tsconfig.json names.
        const problems = [problem("typescript", "ts-node's compiler, in @pulumi/pulumi's cmd/run and cmd/run-policy-pack"), problem("@types/node", "the type check ts-node runs")];
        expect(problems.filter((p) => p !== undefined)).toEqual([]);
    });
});
