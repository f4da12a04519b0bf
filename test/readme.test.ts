import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR, projectFile } from "./support/program";

const readme = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");

describe("README.md", () => {
    it("gives the two commands for a fresh machine: bring the dev stack up, run the tests", () => {
        expect(readme).toContain("```sh\nnpm ci && npm run up\n```");
        expect(readme).toContain("```sh\nnpm ci && npm test\n```");
    });

    it("documents every config key, with its default", () => {
        for (const [key, decl] of Object.entries(projectFile().config)) {
            const row = readme.split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
            expect({ key, documented: row !== undefined }).toEqual({ key, documented: true });
            if (decl.default !== undefined) {
                const shown = typeof decl.default === "string" ? (decl.default === "" ? '""' : decl.default) : JSON.stringify(decl.default);
                expect(row).toContain(`\`${shown}\``);
            }
        }
    });

    it("names every npm script it tells users to run", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")).scripts;
        for (const [, script] of readme.matchAll(/npm run ([a-z:0-9]+)/g)) expect(Object.keys(scripts)).toContain(script);
    });

    it("is the test command CI runs", () => {
        expect(fs.readFileSync(path.join(PROJECT_DIR, ".ci/run"), "utf8")).toMatch(/^npm ci .*\n(?:.*\n)*npm test\b/m);
    });
});
