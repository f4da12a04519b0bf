import { ConfigError, ConfigReader, isPinnedImageRef } from "../components/configReader";
import { PROJECT_DIR } from "./support/program";

/** A reader over fixed raw values, as Pulumi would hand them to the program. */
function reader(values: Record<string, string>): ConfigReader {
    return new ConfigReader("proj", (key) => values[key], PROJECT_DIR);
}

function problemsOf(r: ConfigReader): readonly string[] {
    try {
        r.finish();
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
    }
    return [];
}

describe("isPinnedImageRef", () => {
    it.each([
        ["mysql:5.7", true],
        ["elasticsearch:7.8.1", true],
        ["mysql:5", true],
        ["quay.io/jupyter/datascience-notebook:2026-08-24", true],
        ["registry.example.com:5000/team/app:1.2.3", true],
        [`node@sha256:${"a".repeat(64)}`, true],
        [`node:24-slim@sha256:${"b".repeat(64)}`, true],
        ["mysql", false],
        ["mysql:latest", false],
        ["registry.example.com:5000/team/app", false],
        ["MySQL:5.7", false],
        ["mysql:5.7 ", false],
        ["", false],
    ])("%j is pinned: %s", (ref, expected) => {
        expect(isPinnedImageRef(ref)).toBe(expected);
    });
});

describe("ConfigReader.port", () => {
    it.each(["1", "80", "65535"])("accepts %s", (value) => {
        const r = reader({ p: value });
        expect(r.port("p")).toBe(Number(value));
        expect(problemsOf(r)).toEqual([]);
    });

    it.each(["0", "65536", "70000", "80.5", "-1", "abc", " 80", "", "1e3"])("refuses %j, naming the key, the value and the range", (value) => {
        const r = reader({ p: value });
        r.port("p");
        expect(problemsOf(r)).toEqual([`proj:p: ${JSON.stringify(value)} is not valid; expected an integer port from 1 to 65535.`]);
    });
});

describe("ConfigReader", () => {
    it("reports every problem at once, in one error", () => {
        const r = reader({ a: "x", b: "maybe", c: "mysql:latest" });
        r.port("a");
        r.boolean("b");
        r.imageRef("c");
        r.string("missing", /.*/, "anything");
        expect(() => r.finish()).toThrow(/^Invalid stack configuration \(4 problems\); nothing was declared:\n {2}- proj:a: "x"/);
        expect(problemsOf(r)).toHaveLength(4);
        expect(problemsOf(r)[3]).toBe(
            "proj:missing: no value is not valid; expected anything (declared with a default in Pulumi.yaml; is the key missing there?).",
        );
    });

    it("finishes quietly when every value is good", () => {
        const r = reader({ on: "true", name: "sb-mysql" });
        expect(r.boolean("on")).toBe(true);
        expect(r.dockerName("name", "prod-")).toBe("prod-sb-mysql");
        expect(() => r.finish()).not.toThrow();
    });

    it("names the allowed values of a closed set", () => {
        const r = reader({ k: "sometimes" });
        r.oneOf("k", ["always", "never"] as const);
        expect(problemsOf(r)).toEqual(['proj:k: "sometimes" is not valid; expected one of "always", "never".']);
    });

    it.each(["", "-bad", "has space", "semi;colon", "ümlaut"])("refuses the Docker name %j", (value) => {
        const r = reader({ n: value });
        r.dockerName("n", "");
        expect(problemsOf(r)).toEqual([
            `proj:n: ${JSON.stringify(value)} is not valid; expected a Docker name: a letter or digit, then letters, digits, '_', '.' or '-'.`,
        ]);
    });

    it("refuses a name that the prefix makes longer than Docker allows", () => {
        const r = reader({ n: "a".repeat(125) });
        r.dockerName("n", "prod-");
        expect(problemsOf(r)[0]).toMatch(/^proj:n: "a{125}" is not valid; expected a name of at most 128 characters including the name prefix "prod-"\.$/);
    });

    it("accepts IPv4 addresses and the listed words only", () => {
        const r = reader({ a: "127.0.0.1", b: "none", c: "::1", d: "localhost" });
        expect(r.ipv4("a")).toBe("127.0.0.1");
        expect(r.ipv4("b", ["none"])).toBe("none");
        r.ipv4("c");
        r.ipv4("d", ["none"]);
        expect(problemsOf(r)).toEqual([
            'proj:c: "::1" is not valid; expected an IPv4 address such as "0.0.0.0" or "127.0.0.1".',
            'proj:d: "localhost" is not valid; expected an IPv4 address such as "0.0.0.0" or "127.0.0.1" or "none".',
        ]);
    });

    it("reads lists from JSON and names each bad item by its index", () => {
        const r = reader({ good: '["a","b"]', bad: '["ok", "no way", 3]', notList: '{"a":1}', notJson: "a,b" });
        expect(r.stringList("good", /^\S+$/, "one word")).toEqual(["a", "b"]);
        expect(r.stringList("bad", /^\S+$/, "one word")).toEqual(["ok"]);
        r.stringList("notList", /^\S+$/, "one word");
        r.stringList("notJson", /^\S+$/, "one word");
        expect(problemsOf(r)).toEqual([
            'proj:bad[1]: "no way" is not valid; expected one word.',
            "proj:bad[2]: 3 is not valid; expected one word.",
            'proj:notList: "{\\"a\\":1}" is not valid; expected a list of strings, each one word.',
            'proj:notJson: "a,b" is not valid; expected a list of strings, each one word.',
        ]);
    });

    it("accepts project folders that exist, relative or absolute, and an empty value for none", () => {
        const r = reader({ rel: "components", abs: PROJECT_DIR, none: "" });
        expect(r.folder("rel", { relative: true, checkExists: true })).toBe("components");
        expect(r.folder("abs", { relative: false, checkExists: true })).toBe(PROJECT_DIR);
        expect(r.folder("none", { relative: true, checkExists: true })).toBe("");
        expect(problemsOf(r)).toEqual([]);
    });

    it("refuses a folder that does not exist, saying where it looked", () => {
        const r = reader({ f: "no-such-folder" });
        r.folder("f", { relative: true, checkExists: true });
        expect(problemsOf(r)).toEqual([
            `proj:f: "no-such-folder" is not valid; expected a folder of this project, or "" for none; ${PROJECT_DIR}/no-such-folder is not an existing folder.`,
        ]);
    });

    it("refuses a file where a folder is expected", () => {
        const r = reader({ f: "package.json" });
        r.folder("f", { relative: true, checkExists: true });
        expect(problemsOf(r)).toHaveLength(1);
    });

    it("requires an absolute path for a folder outside the project, and skips the look-up when told to", () => {
        const r = reader({ rel: "data", remote: "/srv/on/another/host" });
        r.folder("rel", { relative: false, checkExists: true });
        expect(r.folder("remote", { relative: false, checkExists: false })).toBe("/srv/on/another/host");
        expect(problemsOf(r)).toEqual(['proj:rel: "data" is not valid; expected an absolute path to an existing folder, or "" for none.']);
    });
});

describe("ConfigReader.password", () => {
    const unreadable = { pattern: /\n$/, why: "ends with a line break" };

    it("takes a password set in config whatever its length, as a secret; unset, there is none (one is generated)", async () => {
        const r = reader({ short: "Guide2024!", one: "x" });
        const values = await Promise.all(
            [r.password("short", unreadable), r.password("one", unreadable)].map(
                (output) => new Promise((resolve) => output!.apply((value) => resolve(value))),
            ),
        );
        expect(values).toEqual(["Guide2024!", "x"]);
        expect(r.password("unset", unreadable)).toBeUndefined();
        expect(problemsOf(r)).toEqual([]);
    });

    it("refuses one set empty, and one that cannot reach the server as set, by key and without its value", () => {
        const r = reader({ empty: "", newline: "a-password\n" });
        expect(r.password("empty", unreadable)).toBeUndefined();
        r.password("newline", unreadable);
        const problems = problemsOf(r);
        expect(problems).toEqual([
            "proj:empty: the value set is empty; set the password the data was initialised with, or remove the key (npm run stack -- config rm empty) to have one generated for new data.",
            "proj:newline: the value set ends with a line break.",
        ]);
        expect(problems.join("\n")).not.toContain("a-password");
    });
});
