import { parseStackConfig, SECRET_KEYS } from "../components/config";
import { PROJECT, PROJECT_DIR, projectFile, stackConfig } from "./support/program";

const declarations = Object.entries(projectFile().config);

describe("Pulumi.yaml", () => {
    it("runs the program with Node.js and TypeScript", () => {
        expect(projectFile()).toMatchObject({ name: "smart-building", runtime: { name: "nodejs", options: { typescript: true } } });
    });

    const plain = declarations.filter(([, decl]) => decl.secret !== true);
    const secret = declarations.filter(([, decl]) => decl.secret === true);

    it.each(plain)("declares %s with a type Pulumi knows, a description and a default of that type", (_key, decl) => {
        expect(["string", "integer", "boolean", "array"]).toContain(decl.type);
        expect(decl.description.length).toBeGreaterThan(20);
        const expectedType = { string: "string", integer: "number", boolean: "boolean", array: "object" }[decl.type];
        expect(typeof decl.default).toBe(expectedType);
        if (decl.type === "integer") expect(Number.isInteger(decl.default)).toBe(true);
        if (decl.type === "array") {
            expect(Array.isArray(decl.default)).toBe(true);
            expect(decl.items).toEqual({ type: "string" });
        }
    });

    it("declares no secret key: the CLI stops every command on a stack that lacks one, and refuses a default for one", () => {
        expect(secret).toEqual([]);
        for (const key of SECRET_KEYS) expect(declarations.map(([k]) => k)).not.toContain(key);
    });

    it("declares exactly the keys the program reads, but for the optional secrets", () => {
        const read = new Set<string>();
        const values = stackConfig(undefined, { jupyterEnabled: true });
        parseStackConfig(PROJECT, "defaults", (key) => {
            read.add(key);
            return values[key];
        }, PROJECT_DIR);
        expect([...read].sort()).toEqual([...declarations.map(([key]) => key), ...SECRET_KEYS].sort());
    });

    it("holds defaults that are a valid config on their own", () => {
        const values = stackConfig(undefined);
        expect(() => parseStackConfig(PROJECT, "defaults", (key) => values[key], PROJECT_DIR)).not.toThrow();
    });
});

describe("a key the program does not know", () => {
    const values = stackConfig("dev");
    const parseWith = (set: string[]) => () => parseStackConfig(PROJECT, "dev", (key) => values[key], PROJECT_DIR, set);

    it("is refused by name, with the nearest known key, and without its value", () => {
        expect(parseWith([...Object.keys(values), "jupyterPort"])).toThrow(
            "smart-building:jupyterPort is set, but this project has no such setting; did you mean smart-building:jupyterHostPort?",
        );
        expect(parseWith([...Object.keys(values), "zzzz"])).toThrow("smart-building:zzzz is set, but this project has no such setting (Pulumi.yaml lists every setting).");
    });

    it("is none of the declared keys nor the optional secrets", () => {
        expect(parseWith([...Object.keys(values), ...SECRET_KEYS])).not.toThrow();
    });
});
