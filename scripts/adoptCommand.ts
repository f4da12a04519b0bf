/**
 * `npm run adopt [-- --compose-file <path>] [--yes]`: brings a machine where the guide was
 * followed by hand under the stack (see adopt.ts). It reads and checks the stack's config, looks
 * at the stack's Docker engine, checks the config the stack would run with once adopted through
 * the program's own validation (as `preview` and `up` do), says what it will do and asks; then sets
 * the config, stops and removes the hand-made containers, and runs `up`. Run again, it finds
 * nothing to do. A refused adoption (the adopted config's problems included: every one, by key),
 * a refused config and an engine it cannot reach end it with a message (commandLine.ts), with
 * nothing stopped, removed or written.
 */
import * as fs from "fs";
import Docker from "dockerode";
import { parseStackConfig } from "../components/config";
import { COMMANDS, Failure, parseArgs } from "./commandLine";
import { confirmed } from "./confirm";
import { adoptedConfigProblems, AdoptionRefused, describePlan, GuidePasswords, isEmpty, passwordsFromCompose, planAdoption, removeHandMade } from "./adopt";
import { readProjectFile, withDefaults } from "./projectConfig";
import type { ConfigurableStack } from "./stackSecrets";

export interface AdoptTerminal {
    out(text: string): void;
    err(text: string): void;
    ask(question: string): Promise<string | undefined>;
    /** Asks without showing what is typed. */
    askHidden(question: string): Promise<string | undefined>;
}

export interface AdoptOptions {
    projectDir: string;
    stackName: string;
    args: string[];
    terminal: AdoptTerminal;
    /** Runs `up` on the stack (asking first unless `yes`); resolves to its exit code. */
    up(yes: boolean): Promise<number>;
    /** The Docker engine at `host` (the stack's `dockerHost`). */
    connect?: (host: string) => Docker;
}

/** A Docker client for a local socket: adopt, backup and restore look at the engine the stack runs on, from its host. */
export function localDocker(host: string): Docker {
    if (!host.startsWith("unix://")) {
        throw new Failure(`npm run adopt, backup and restore run on the Docker host itself, through its socket; the stack's dockerHost is ${host}: run them there.`);
    }
    return new Docker({ socketPath: host.slice("unix://".length) });
}

export async function adoptCommand(stack: ConfigurableStack, options: AdoptOptions): Promise<number> {
    const { terminal } = options;
    const say = (line: string) => terminal.err(`${line}\n`);
    const { flags } = parseArgs("adopt", COMMANDS.adopt, options.args);
    const composeFile = flags.composeFile?.at(-1);
    const yes = flags.yes !== undefined;

    const project = readProjectFile(options.projectDir);
    const current = await stack.getAllConfig();
    const values = withDefaults(project, Object.fromEntries(Object.entries(current).map(([k, v]) => [k, v.value])));
    // The keys the stack sets, so that one the program does not know is refused, as preview refuses it.
    const namespace = `${project.name}:`;
    const setKeys = Object.keys(current)
        .filter((key) => key.startsWith(namespace))
        .map((key) => key.slice(namespace.length));
    const config = parseStackConfig(project.name, options.stackName, (key) => values[key], options.projectDir, setKeys);
    if (config.target === "swarm") {
        terminal.err(
            `Stack ${options.stackName} runs on a swarm, and a hand-made deployment is one engine's containers: adopt it into an engine stack ` +
                "(target: engine) on that host first, then move to the swarm as the README's \"From one host to a swarm\" says.\n",
        );
        return 1;
    }
    const docker = (options.connect ?? localDocker)(config.docker.host);

    const configured: GuidePasswords | undefined =
        values.mysqlRootPassword && values.mysqlPassword ? { root: values.mysqlRootPassword, user: values.mysqlPassword } : undefined;
    const ask = async (): Promise<GuidePasswords> => {
        if (composeFile) {
            let text: string;
            try {
                text = fs.readFileSync(composeFile, "utf8");
            } catch (err) {
                throw new AdoptionRefused(`cannot read the compose file ${composeFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
            }
            return passwordsFromCompose(text);
        }
        const root = await terminal.askHidden("MySQL root password the hand-made data was initialised with (MYSQL_ROOT_PASSWORD): ");
        const user = await terminal.askHidden(`Password of ${config.mysql.user} (MYSQL_PASSWORD): `);
        if (!root || !user) throw new AdoptionRefused("both MySQL passwords are needed; give them, or --compose-file with the guide's docker-compose.yml");
        return { root, user };
    };

    try {
        const plan = await planAdoption(docker, config, { configured, ask });
        if (isEmpty(plan)) {
            say(`Nothing to adopt for stack ${options.stackName}: ${plan.notes.join("; ") || "no hand-made container or volume of the guide found"}.`);
            return 0;
        }
        // Before anything is stopped or written: `up` would refuse what `preview` refuses, with the
        // hand-made containers already gone.
        const problems = adoptedConfigProblems(project.name, options.stackName, values, setKeys, plan, options.projectDir);
        if (problems.length > 0) {
            const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
            say(
                `Adoption refused: stack ${options.stackName} would not run with the config adoption would give it (${count}, ` +
                    "found by the checks preview and up run); nothing was stopped, removed or written:",
            );
            for (const problem of problems) say(`  - ${problem}`);
            say("What adoption would have set:");
            for (const line of describePlan({ ...plan, containers: [], networks: [], notes: [] })) say(`  - ${line}`);
            return 1;
        }
        say(`Adopting the hand-made deployment into stack ${options.stackName}; no volume is removed:`);
        for (const line of describePlan(plan)) say(`  - ${line}`);
        say("  - then npm run up, which creates the stack's own containers on the adopted volumes");
        if (!yes && !(await confirmed(terminal, "Do you want to adopt it?"))) return 1;
        for (const c of plan.config) await stack.setConfig(`${project.name}:${c.key}`, c.value, c.secret);
        await removeHandMade(docker, plan);
        say("Config set and hand-made containers removed; bringing the stack up.");
        return await options.up(yes);
    } catch (err) {
        if (err instanceof AdoptionRefused) {
            say(`Adoption refused: ${err.message}`);
            return 1;
        }
        throw err;
    }
}
