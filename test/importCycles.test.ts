/**
 * No module of the project imports itself through others (type-only imports included, as
 * `madge --circular` counts them): each layer (config, service descriptions, renderers, the
 * commands) can be read, tested and changed without the ones that use it.
 */
import * as fs from "fs";
import * as path from "path";
import { resolveRelative, specifiers } from "./support/imports";
import { PROJECT_DIR } from "./support/program";

const SOURCE_DIRS = ["components", "policy", "scripts", "app/dashboard", "app/dashboard/lib"];
const CODE = /\.(ts|js)$/;

function sourceFiles(): string[] {
    const files = [path.join(PROJECT_DIR, "index.ts")];
    for (const dir of SOURCE_DIRS) {
        const full = path.join(PROJECT_DIR, dir);
        if (!fs.existsSync(full)) continue;
        for (const f of fs.readdirSync(full)) if (CODE.test(f) && !f.endsWith(".d.ts")) files.push(path.join(full, f));
    }
    return files;
}

/** Every cycle found by a depth-first walk, each as the files along it, the first repeated at the end. */
function cycles(files: string[]): string[][] {
    const imports = (file: string) => specifiers(file, { types: true }).filter((s) => s.startsWith(".")).map((s) => resolveRelative(file, s)).filter((t) => CODE.test(t));
    const found: string[][] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (file: string): void => {
        state.set(file, "open");
        stack.push(file);
        for (const next of imports(file)) {
            if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next].map((f) => path.relative(PROJECT_DIR, f)));
            else if (!state.has(next)) visit(next);
        }
        stack.pop();
        state.set(file, "done");
    };
    for (const file of files) if (!state.has(file)) visit(file);
    return found;
}

describe("the project's modules", () => {
    it("import one another without a cycle", () => {
        expect(cycles(sourceFiles())).toEqual([]);
    });

    it("are all read (the walk sees the program, the pack, the commands and the app)", () => {
        const names = sourceFiles().map((f) => path.relative(PROJECT_DIR, f));
        for (const f of ["index.ts", "components/config.ts", "components/runtimeSettings.ts", "policy/rules.ts", "scripts/stackCommand.ts"]) expect(names).toContain(f);
    });
});
