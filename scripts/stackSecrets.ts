/**
 * The stack's passwords and Jupyter token, kept in its encrypted config so that they outlive
 * the containers exactly as the data volumes do.
 *
 * MySQL applies its passwords only when it initialises an empty data directory, so a password
 * that lived only as a generated resource in the stack's state (and went with `destroy`) would
 * leave the kept `mysql_volume` behind a password nobody has. Before every `up`, the stack
 * command makes sure each of these is in the stack's config, as a secret: one already there is
 * left as it is; one the stack generated before (a stack brought up before this existed) is
 * taken over from its outputs, so nothing changes for its containers; any other is generated
 * here, once. `destroy` leaves config alone, so the next `up` finds the same values.
 */
import * as crypto from "crypto";

/** The config keys kept this way, and where a stack's earlier outputs hold their values. */
export const KEPT_SECRETS: readonly { key: string; fromOutputs(outputs: Record<string, unknown>): string | undefined; what: string }[] = [
    { key: "mysqlRootPassword", fromOutputs: (o) => stringOr(o.mysqlRootPassword), what: "MySQL root password" },
    { key: "mysqlPassword", fromOutputs: (o) => stringOr(o.mysqlPassword), what: "MySQL application user's password" },
    {
        key: "jupyterToken",
        fromOutputs: (o) => {
            const url = stringOr(o.jupyterUrl);
            return url ? (new URL(url).searchParams.get("token") ?? undefined) : undefined;
        },
        what: "Jupyter login token",
    },
];

/** As long as the ones the stack generated before: 32 letters and digits (about 190 bits). */
export const GENERATED_LENGTH = 32;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function stringOr(value: unknown): string | undefined {
    return typeof value === "string" && value !== "" ? value : undefined;
}

/** A new secret from the operating system's random source. */
export function generateSecret(length = GENERATED_LENGTH): string {
    return Array.from({ length }, () => ALPHABET[crypto.randomInt(ALPHABET.length)]).join("");
}

/** A stack's config as the CLI lists it: values by key with the project's namespace. */
export type StackConfigValues = Record<string, { value: string; secret?: boolean }>;

/** The part of a stack the config commands need (stackCommand.ts makes it from the Automation API's `Stack`). */
export interface ConfigurableStack {
    getAllConfig(): Promise<StackConfigValues>;
    /**
     * Sets one key (with the project's namespace). The value reaches the CLI on its standard
     * input, never on a command line that `ps` would show.
     */
    setConfig(key: string, value: string, secret: boolean): Promise<void>;
    outputs(): Promise<Record<string, { value: unknown; secret?: boolean }>>;
}

/**
 * Makes sure every kept secret is in `stack`'s config (keys in the `project` namespace);
 * returns the keys it set. Says what it did in one line, never a value.
 */
export async function keepSecrets(
    stack: ConfigurableStack,
    project: string,
    say: (line: string) => void,
    config: StackConfigValues | undefined = undefined,
): Promise<string[]> {
    config ??= await stack.getAllConfig();
    const missing = KEPT_SECRETS.filter((s) => config[`${project}:${s.key}`] === undefined);
    if (missing.length === 0) return [];

    const outputs = Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
    const taken: string[] = [];
    const generated: string[] = [];
    for (const s of missing) {
        const earlier = s.fromOutputs(outputs);
        await stack.setConfig(`${project}:${s.key}`, earlier ?? generateSecret(), true);
        (earlier ? taken : generated).push(s.what);
    }
    say(
        `Kept in the stack's encrypted config, so that they outlive destroy as the data volumes do: ` +
            [taken.length ? `taken over from the stack: ${taken.join(", ")}` : "", generated.length ? `generated: ${generated.join(", ")}` : ""]
                .filter(Boolean)
                .join("; ") +
            ".",
    );
    return missing.map((s) => s.key);
}

/** The MySQL passwords, which the server applies only when it initialises an empty data directory. */
const STORE_PASSWORDS = KEPT_SECRETS.filter((s) => s.key === "mysqlRootPassword" || s.key === "mysqlPassword");

/**
 * The MySQL passwords whose config value differs from the one the stack last ran with (its
 * outputs), each as a sentence saying why `up` will not apply it and how to rotate it. An `up`
 * would hand MySQL the new password file, which MySQL ignores on an initialised volume, and the
 * app the new one, which MySQL then refuses: on one engine and on a swarm alike.
 */
export async function changedStorePasswords(stack: ConfigurableStack, project: string, config: StackConfigValues): Promise<string[]> {
    const configured = STORE_PASSWORDS.filter((s) => config[`${project}:${s.key}`] !== undefined);
    if (configured.length === 0) return [];
    const outputs = Object.fromEntries(Object.entries(await stack.outputs()).map(([k, v]) => [k, v.value]));
    return configured.filter((s) => {
        const running = s.fromOutputs(outputs);
        return running !== undefined && config[`${project}:${s.key}`].value !== running;
    }).map(
        (s) =>
            `${project}:${s.key} differs from the ${s.what} the stack runs with. MySQL applies a password only when it initialises an ` +
            `empty data directory, so an up would lock the app out. Rotate it in two steps: change it in MySQL first, with the ` +
            `current password (docker exec -it <mysql container> mysql -uroot -p, then ALTER USER ... IDENTIFIED BY '<new>'), then ` +
            `npm run up -- --password-rotated; or set the config back (npm run stack -- config set --secret ${s.key}).`,
    );
}
