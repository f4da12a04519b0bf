import { adoptCommand } from "../scripts/adoptCommand";
import { backupCommand } from "../scripts/backupCommand";
import type { ConfigurableStack } from "../scripts/stackSecrets";
import { PROJECT_DIR, stackFile } from "./support/program";

/** The committed swarm stack as the stack command reads it, with no engine behind it. */
const swarmStack: ConfigurableStack = {
    getAllConfig: async () => Object.fromEntries(Object.entries(stackFile("swarm")).map(([key, value]) => [key, { value: String(value) }])),
    setConfig: async () => {
        throw new Error("nothing may be set");
    },
    outputs: async () => ({}),
};

function terminal() {
    const lines: string[] = [];
    const say = (text: string) => void lines.push(text);
    return { lines, terminal: { out: say, err: say, ask: async () => undefined, askHidden: async () => undefined } };
}

const noEngine = () => {
    throw new Error("no engine may be touched");
};

describe("the commands that drive one engine's containers, on a swarm stack", () => {
    it("npm run backup says where a swarm's backups run and how to take one, and touches nothing", async () => {
        const { lines, terminal: t } = terminal();
        const code = await backupCommand(swarmStack, { projectDir: PROJECT_DIR, stackName: "swarm", verb: "backup", args: [], terminal: t, connect: noEngine });
        expect(code).toBe(1);
        expect(lines.join("")).toContain("runs on a swarm: its backups run as services on the data node");
        expect(lines.join("")).toContain("sb-backup now");
    });

    it("npm run adopt sends a hand-made deployment to an engine stack first, and touches nothing", async () => {
        const { lines, terminal: t } = terminal();
        const up = jest.fn();
        const code = await adoptCommand(swarmStack, { projectDir: PROJECT_DIR, stackName: "swarm", args: [], terminal: t, up, connect: noEngine });
        expect(code).toBe(1);
        expect(up).not.toHaveBeenCalled();
        expect(lines.join("")).toContain("adopt it into an engine stack (target: engine)");
    });
});

describe("npm run adopt, backup and restore, called with a flag they do not know", () => {
    it("refuse it by name, pointing at --help, before reading the stack or touching an engine", async () => {
        const { terminal: t } = terminal();
        const stack = { ...swarmStack, getAllConfig: jest.fn(() => swarmStack.getAllConfig()) };
        const backup = (verb: "backup" | "restore", args: string[]) => backupCommand(stack, { projectDir: PROJECT_DIR, stackName: "swarm", verb, args, terminal: t, connect: noEngine });
        await expect(backup("backup", ["--lsit"])).rejects.toThrow("npm run backup has no flag --lsit; npm run backup -- --help lists what it takes.");
        await expect(backup("restore", ["mysql/x.sql.gz", "--force"])).rejects.toThrow("npm run restore has no flag --force;");
        await expect(adoptCommand(stack, { projectDir: PROJECT_DIR, stackName: "swarm", args: ["--compose"], terminal: t, up: jest.fn(), connect: noEngine })).rejects.toMatchObject({
            code: 2,
            message: "npm run adopt has no flag --compose; npm run adopt -- --help lists what it takes.",
        });
        expect(stack.getAllConfig).not.toHaveBeenCalled();
    });
});
