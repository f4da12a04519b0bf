import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR, projectFile } from "./support/program";

const readme = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");
const docsDir = path.join(PROJECT_DIR, "docs");
const docs = Object.fromEntries(fs.readdirSync(docsDir).filter((f) => f.endsWith(".md")).map((f) => [f, fs.readFileSync(path.join(docsDir, f), "utf8")]));
const everything = [readme, ...Object.values(docs)].join("\n");

/** GitHub's anchor for a heading. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-");

describe("README.md", () => {
    it("gives the two commands for a fresh machine: bring the dev stack up, run the tests", () => {
        expect(readme).toContain("```sh\nnpm ci && npm run up\n```");
        expect(readme).toContain("```sh\nnpm ci && npm test\n```");
    });

    it("documents every config key, with its default", () => {
        for (const [key, decl] of Object.entries(projectFile().config)) {
            const row = docs["configuration.md"].split("\n").find((line) => line.startsWith(`| \`${key}\` |`));
            expect({ key, documented: row !== undefined }).toEqual({ key, documented: true });
            if (decl.default !== undefined) {
                const shown = typeof decl.default === "string" ? (decl.default === "" ? '""' : decl.default) : JSON.stringify(decl.default);
                expect(row).toContain(`\`${shown}\``);
            }
        }
    });

    it("names every npm script it tells users to run", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")).scripts;
        for (const [, script] of everything.matchAll(/npm run ([a-z:0-9]+)/g)) expect(Object.keys(scripts)).toContain(script);
    });

    it("is a front door of at most 150 lines, every page of docs/ in its map", () => {
        expect(readme.split("\n").length).toBeLessThanOrEqual(150);
        for (const file of Object.keys(docs)) expect(readme).toContain(`](docs/${file})`);
    });

    it("links only to files and headings that exist, as do the pages of docs/", () => {
        const broken: string[] = [];
        for (const [from, text] of [["README.md", readme], ...Object.entries(docs).map(([f, t]) => [`docs/${f}`, t])]) {
            for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
                if (/^(https?|mailto):/.test(target)) continue;
                const [file, anchor] = target.split("#");
                const resolved = file === "" ? path.join(PROJECT_DIR, from) : path.join(PROJECT_DIR, path.dirname(from), file);
                if (!fs.existsSync(resolved)) broken.push(`${from}: ${target}`);
                else if (anchor && !fs.readFileSync(resolved, "utf8").split("\n").some((l) => /^#+ /.test(l) && anchorOf(l.replace(/^#+ /, "")) === anchor)) broken.push(`${from}: ${target}`);
            }
        }
        expect(broken).toEqual([]);
    });

    it("is the test command CI runs", () => {
        expect(fs.readFileSync(path.join(PROJECT_DIR, ".ci/run"), "utf8")).toMatch(/^npm ci .*\n(?:.*\n)*npm test\b/m);
    });
});
