import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";

/**
 * A config reader that never stops at the first bad value: every check records a
 * problem and returns a placeholder, so one run of the program reports everything
 * that is wrong with a stack's config at once. `ConfigReader.finish` throws them all.
 */
export class ConfigReader {
    private readonly problems: string[] = [];

    /**
     * @param namespace The config namespace, i.e. the Pulumi project name, used to name keys in messages.
     * @param lookup Returns the raw string value of a key of that namespace, or undefined.
     * @param projectDir The folder relative paths in config are resolved against.
     */
    constructor(
        private readonly namespace: string,
        private readonly lookup: (key: string) => string | undefined,
        private readonly projectDir: string = process.cwd(),
    ) {}

    /** The key as a user writes it in `Pulumi.<stack>.yaml` or `pulumi config set`. */
    qualified(key: string): string {
        return `${this.namespace}:${key}`;
    }

    /** The raw value of a key, as set, for messages. */
    lookupRaw(key: string): string | undefined {
        return this.lookup(key);
    }

    /** Records a problem with `key`: the message names the key and the value. */
    problem(key: string, value: unknown, expected: string): void {
        const shown = value === undefined ? "no value" : JSON.stringify(value);
        this.problems.push(`${this.qualified(key)}: ${shown} is not valid; expected ${expected}.`);
    }

    /** Records a problem that concerns several keys together. */
    conflict(message: string): void {
        this.problems.push(message);
    }

    private raw(key: string, expected: string): string | undefined {
        const value = this.lookup(key);
        if (value === undefined) {
            this.problem(key, undefined, `${expected} (declared with a default in Pulumi.yaml; is the key missing there?)`);
        }
        return value;
    }

    /** A string that matches `pattern` (the whole string). */
    string(key: string, pattern: RegExp, expected: string): string {
        const value = this.raw(key, expected);
        if (value === undefined) return "";
        if (!pattern.test(value)) this.problem(key, value, expected);
        return value;
    }

    /** One of a fixed set of strings. */
    oneOf<T extends string>(key: string, allowed: readonly T[]): T {
        const expected = `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`;
        const value = this.raw(key, expected);
        if (value === undefined) return allowed[0];
        if (!(allowed as readonly string[]).includes(value)) {
            this.problem(key, value, expected);
            return allowed[0];
        }
        return value as T;
    }

    boolean(key: string): boolean {
        const expected = "true or false";
        const value = this.raw(key, expected);
        if (value === "true") return true;
        if (value === "false") return false;
        if (value !== undefined) this.problem(key, value, expected);
        return false;
    }

    /** A TCP port: an integer from 1 to 65535. */
    port(key: string): number {
        const expected = "an integer port from 1 to 65535";
        const value = this.raw(key, expected);
        if (value === undefined) return 0;
        const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
        if (!(port >= 1 && port <= 65535)) {
            this.problem(key, value, expected);
            return 0;
        }
        return port;
    }

    /**
     * A whole number from `min` to `max`; NaN when it is not one, so that no check comparing it
     * with another key reports a second problem for the same value.
     */
    integer(key: string, min: number, max: number): number {
        const expected = `an integer from ${min} to ${max}`;
        const value = this.raw(key, expected);
        if (value === undefined) return NaN;
        const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
        if (!(n >= min && n <= max)) {
            this.problem(key, value, expected);
            return NaN;
        }
        return n;
    }

    /** A name Docker accepts for a container, a volume or a network, with `prefix` in front. */
    dockerName(key: string, prefix: string): string {
        const value = this.string(key, DOCKER_NAME, DOCKER_NAME_EXPECTED);
        const name = `${prefix}${value}`;
        if (value !== "" && name.length > 128) {
            this.problem(key, value, `a name of at most 128 characters including the name prefix "${prefix}"`);
        }
        return name;
    }

    /** An image reference with an explicit tag or digest, never `latest`. */
    imageRef(key: string): string {
        const expected =
            'an image reference with an explicit tag or digest other than "latest", like "mysql:5.7" or "registry.example.com/team/app:1.2.3"';
        const value = this.raw(key, expected);
        if (value === undefined) return "";
        if (!isPinnedImageRef(value)) this.problem(key, value, expected);
        return value;
    }

    /** An IPv4 address to publish ports on. `extra` lists other accepted words (like "none"). */
    ipv4(key: string, extra: readonly string[] = []): string {
        const words = extra.map((e) => ` or ${JSON.stringify(e)}`).join("");
        const expected = `an IPv4 address such as "0.0.0.0" or "127.0.0.1"${words}`;
        const value = this.raw(key, expected);
        if (value === undefined) return "";
        if (!net.isIPv4(value) && !extra.includes(value)) this.problem(key, value, expected);
        return value;
    }

    /** A list of strings, each matching `pattern`. Pulumi hands arrays to programs as JSON. */
    stringList(key: string, pattern: RegExp, expected: string): string[] {
        const listExpected = `a list of strings, each ${expected}`;
        const value = this.raw(key, listExpected);
        if (value === undefined) return [];
        let parsed: unknown;
        try {
            parsed = JSON.parse(value);
        } catch {
            parsed = undefined;
        }
        if (!Array.isArray(parsed)) {
            this.problem(key, value, listExpected);
            return [];
        }
        const items: string[] = [];
        parsed.forEach((item, index) => {
            if (typeof item !== "string" || !pattern.test(item)) {
                this.problem(`${key}[${index}]`, item, expected);
            } else {
                items.push(item);
            }
        });
        return items;
    }

    /**
     * An existing folder, or "" for none. `relative` folders belong to the project and are
     * resolved against it; otherwise the path must be absolute. `checkExists: false` skips
     * the look-up, for a folder on a machine this program cannot see.
     * The value is returned as written, so a path that is relative stays relative (and stable).
     */
    folder(key: string, options: { relative: boolean; checkExists: boolean }): string {
        const kind = options.relative ? "a folder of this project" : "an absolute path to an existing folder";
        const expected = `${kind}, or "" for none`;
        const value = this.raw(key, expected);
        if (!value) return "";
        if (!options.relative && !path.isAbsolute(value)) {
            this.problem(key, value, expected);
            return value;
        }
        const resolved = path.resolve(this.projectDir, value);
        if (options.checkExists && !isDirectory(resolved)) {
            this.problem(key, value, `${expected}; ${resolved} is not an existing folder`);
        }
        return value;
    }

    /**
     * An optional secret (undefined when unset or empty), handed on as a Pulumi secret. Its
     * value is never put in a message.
     */
    secret(key: string, minLength: number): pulumi.Output<string> | undefined {
        const value = this.lookup(key);
        if (!value) return undefined;
        if (value.length < minLength) {
            this.problems.push(`${this.qualified(key)}: the value set is too short; expected at least ${minLength} characters.`);
        }
        return pulumi.secret(value);
    }

    /**
     * An optional password that may already protect data (MySQL's: the server applies it only when
     * it initialises an empty data directory), handed on as a Pulumi secret; undefined when unset,
     * to have one generated. Its length is the user's to choose: the stack's own are generated
     * long, and one set in config is the one the data already has. Refused, without its value in
     * the message: set but empty (the program would generate another, which the data does not
     * know), and what cannot reach the server as set (`unreadable`, saying why).
     */
    password(key: string, unreadable?: { pattern: RegExp; why: string }): pulumi.Output<string> | undefined {
        const value = this.lookup(key);
        if (value === undefined) return undefined;
        if (value === "") {
            this.problems.push(
                `${this.qualified(key)}: the value set is empty; set the password the data was initialised with, or remove the key ` +
                    `(npm run stack -- config rm ${key}) to have one generated for new data.`,
            );
            return undefined;
        }
        if (unreadable && unreadable.pattern.test(value)) this.problems.push(`${this.qualified(key)}: the value set ${unreadable.why}.`);
        return pulumi.secret(value);
    }

    /**
     * Records a problem for each key set in the project's namespace that the program does not
     * know (`jupyterPort` for `jupyterHostPort`): Pulumi hands any key over, and one the program
     * never reads would be ignored without a word.
     */
    unknownKeys(set: readonly string[], known: ReadonlySet<string>): void {
        for (const key of set) {
            if (known.has(key)) continue;
            const near = closest(key, [...known]);
            // The value is not shown: a mistyped key may hold a password.
            this.problems.push(
                `${this.qualified(key)} is set, but this project has no such setting` +
                    `${near ? `; did you mean ${this.qualified(near)}?` : ""} (Pulumi.yaml lists every setting).`,
            );
        }
    }

    /** Throws every recorded problem at once; returns normally when there is none. */
    finish(): void {
        if (this.problems.length === 0) return;
        const count = this.problems.length === 1 ? "1 problem" : `${this.problems.length} problems`;
        throw new ConfigError(
            `Invalid stack configuration (${count}); nothing was declared:\n` +
                this.problems.map((p) => `  - ${p}`).join("\n"),
            [...this.problems],
        );
    }
}

/** The error a bad config raises: its message lists every problem, one per line. */
export class ConfigError extends Error {
    constructor(
        message: string,
        public readonly problems: readonly string[],
    ) {
        super(message);
        this.name = "ConfigError";
    }
}

/** Docker's own rule for container names, which volumes and networks also follow here. */
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const DOCKER_NAME_EXPECTED =
    "a Docker name: a letter or digit, then letters, digits, '_', '.' or '-'";

/**
 * An image repository without tag or digest: path components, the first of which may be a
 * registry host, with a port only when a path follows it.
 */
const REPOSITORY = String.raw`[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+(?=\/))?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*`;
export const IMAGE_REPOSITORY = new RegExp(`^${REPOSITORY}$`);
const IMAGE_REF = new RegExp(String.raw`^${REPOSITORY}(?::([\w][\w.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$`);

/**
 * True for an image reference that names a tag or a digest and whose tag is not `latest`.
 * A colon after the last slash is a tag; a colon before it belongs to a registry port.
 */
export function isPinnedImageRef(ref: string): boolean {
    const match = IMAGE_REF.exec(ref);
    if (!match) return false;
    const tag = match[1];
    const digest = ref.includes("@sha256:");
    return digest || (tag !== undefined && tag !== "latest");
}

function isDirectory(p: string): boolean {
    try {
        return fs.statSync(p).isDirectory();
    } catch {
        return false;
    }
}

/** The known key nearest to `key` by edit distance, when it is near enough to be a typo of it. */
function closest(key: string, known: string[]): string | undefined {
    const distance = (a: string, b: string): number => {
        const row = Array.from({ length: b.length + 1 }, (_, j) => j);
        for (let i = 1; i <= a.length; i++) {
            let diagonal = row[0];
            row[0] = i;
            for (let j = 1; j <= b.length; j++) {
                const above = row[j];
                row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.length];
    };
    // A key whose letters all appear, in order, in a known one (jupyterPort in jupyterHostPort) is a
    // word left out: that one first, then the nearest by edits.
    const within = (k: string): boolean => {
        let at = 0;
        for (const c of key.toLowerCase()) {
            at = k.toLowerCase().indexOf(c, at) + 1;
            if (at === 0) return false;
        }
        return true;
    };
    const ranked = known.map((k) => ({ k, d: distance(key, k), within: within(k) })).sort((x, y) => Number(y.within) - Number(x.within) || x.d - y.d);
    return ranked.length > 0 && ranked[0].d <= Math.max(4, Math.floor(key.length / 3)) ? ranked[0].k : undefined;
}
