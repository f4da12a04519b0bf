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
 *
 * The config is the stack's `Pulumi.<stack>.yaml`, a file of the repository: the team shares it,
 * secrets encrypted (`secure:`), with the passphrase from its secret store. So the stack command
 * says what it is about to add, to which file, with which passphrase, and asks (`writeNotice`).
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

/** A kept secret missing from a stack's config, with the value it will be given. */
export interface SecretToKeep {
    readonly key: string;
    readonly what: string;
    readonly value: string;
    /** Taken over from the stack's earlier outputs (else generated). */
    readonly takenOver: boolean;
}

/**
 * The kept secrets missing from `config` (keys in the `project` namespace), each with its value:
 * taken over from the stack's earlier outputs (read only when one is missing), else generated.
 * Writes nothing.
 */
export async function secretsToKeep(
    project: string,
    config: StackConfigValues,
    outputs: () => Promise<Record<string, { value: unknown }>>,
): Promise<SecretToKeep[]> {
    const missing = KEPT_SECRETS.filter((s) => config[`${project}:${s.key}`] === undefined);
    if (missing.length === 0) return [];
    const earlier = Object.fromEntries(Object.entries(await outputs()).map(([k, v]) => [k, v.value]));
    return missing.map((s) => {
        const value = s.fromOutputs(earlier);
        return { key: s.key, what: s.what, value: value ?? generateSecret(), takenOver: value !== undefined };
    });
}

/** Sets each of `secrets` in `stack`'s config, as a secret; returns their keys. Says what it did in one line, never a value. */
export async function writeSecrets(stack: ConfigurableStack, project: string, secrets: readonly SecretToKeep[], say: (line: string) => void): Promise<string[]> {
    if (secrets.length === 0) return [];
    for (const s of secrets) await stack.setConfig(`${project}:${s.key}`, s.value, true);
    const taken = secrets.filter((s) => s.takenOver).map((s) => s.what);
    const generated = secrets.filter((s) => !s.takenOver).map((s) => s.what);
    say(
        `Kept in the stack's encrypted config, so that they outlive destroy as the data volumes do: ` +
            [taken.length ? `taken over from the stack: ${taken.join(", ")}` : "", generated.length ? `generated: ${generated.join(", ")}` : ""]
                .filter(Boolean)
                .join("; ") +
            ".",
    );
    return secrets.map((s) => s.key);
}

/**
 * Makes sure every kept secret is in `stack`'s config (keys in the `project` namespace), at
 * once, without asking (the stack command asks first: see `writeNotice`); returns the keys it set.
 */
export async function keepSecrets(
    stack: ConfigurableStack,
    project: string,
    say: (line: string) => void,
    config: StackConfigValues | undefined = undefined,
): Promise<string[]> {
    const secrets = await secretsToKeep(project, config ?? (await stack.getAllConfig()), () => stack.outputs());
    return writeSecrets(stack, project, secrets, say);
}

/** Where the passphrase that encrypts a stack's secrets comes from. */
export interface PassphraseSource {
    /** In words: `$PULUMI_CONFIG_PASSPHRASE`, or a file. */
    readonly shown: string;
    /** This machine's own generated passphrase (.pulumi/passphrase), not one from the environment. */
    readonly local: boolean;
}

/**
 * What an up is about to write into the stack's file (`file`, tracked by git), said before it
 * writes: the encryption salt of a stack about to be created (`creating`: where), each kept
 * secret, and the passphrase they are encrypted with, with what that means for sharing them.
 */
export function writeNotice(file: string, secrets: readonly SecretToKeep[], creating: string | undefined, passphrase: PassphraseSource): string[] {
    const lines = [`npm run up writes into ${file}, a file of the repository, before it previews:`];
    if (creating) lines.push(`  - encryptionsalt: the salt of the stack's secrets, as the stack is created in ${creating}`);
    for (const s of secrets) lines.push(`  - ${s.key}, encrypted (secure:): the ${s.what}, ${s.takenOver ? "taken over from the stack's outputs" : "generated"}`);
    lines.push("  (Pulumi saves the whole file as it writes: its numbers and booleans come back quoted, which means the same.)");
    lines.push(
        passphrase.local
            ? `They are encrypted with ${passphrase.shown}, the passphrase generated on this machine: they are readable only with that file ` +
                  `(back it up). A stack the team shares needs the team's passphrase instead: set PULUMI_CONFIG_PASSPHRASE (or ` +
                  `PULUMI_CONFIG_PASSPHRASE_FILE) from the team's secret store, then run npm run up.`
            : `They are encrypted with the passphrase of ${passphrase.shown}: commit ${file}, and whoever has that passphrase (the team's ` +
                  `secret store) can read them.`,
    );
    return lines;
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
