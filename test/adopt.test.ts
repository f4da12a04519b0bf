/**
 * `npm run adopt` (scripts/adoptCommand.ts, scripts/adopt.ts) against a stand-in Docker engine
 * holding the guide's hand-made deployment: what it plans, and that the config the stack would
 * run with once adopted goes through the program's own validation before anything is stopped,
 * removed or written. test/e2e/adopt.e2e.test.ts does the same on a real engine.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type Docker from "dockerode";
import { adoptedConfigProblems, planAdoption } from "../scripts/adopt";
import { adoptCommand } from "../scripts/adoptCommand";
import { asConfigString } from "../scripts/projectConfig";
import type { ConfigurableStack, StackConfigValues } from "../scripts/stackSecrets";
import { parseDevConfig } from "./support/fixtures";
import { PROJECT, PROJECT_DIR, stackConfig, stackFile } from "./support/program";

/** The guide's kind of passwords: a reader's own, typed over the compose file's placeholders. */
const GUIDE = { root: "Guide2024!", user: "Sensors#7" };

interface HandMade {
    /** MYSQL_USER and MYSQL_DATABASE the hand-made MySQL was made with. */
    user?: string;
    database?: string;
}

/**
 * An engine after the guide: the Compose project "dashboard" (sb-mysql, sb-elasticsearch, sb-app
 * on dashboard_sb-network, its volumes labelled by Compose), and jupyter on jupyter_volume. It
 * records what is stopped and removed, and answers a login to MySQL as the server would.
 */
function guideEngine(made: HandMade = {}) {
    const user = made.user ?? "BAS_DEV_RW";
    const changed: string[] = [];
    const containers: Record<string, { Id: string; Config: { Image: string; Labels: Record<string, string>; Env: string[] }; State: { Running: boolean }; NetworkSettings: { Networks: Record<string, object> } }> = {};
    const add = (name: string, image: string, network: string, env: string[] = []) => {
        containers[name] = { Id: `id-${name}`, Config: { Image: image, Labels: {}, Env: env }, State: { Running: true }, NetworkSettings: { Networks: { [network]: {} } } };
    };
    add("sb-mysql", "mysql:5.7", "dashboard_sb-network", [
        `MYSQL_ROOT_PASSWORD=${GUIDE.root}`,
        `MYSQL_USER=${user}`,
        `MYSQL_PASSWORD=${GUIDE.user}`,
        `MYSQL_DATABASE=${made.database ?? "bas_dev"}`,
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]);
    add("sb-elasticsearch", "elasticsearch:7.8.1", "dashboard_sb-network");
    add("sb-app", "elmkarim/smartbuildingapp", "dashboard_sb-network");
    add("jupyter", "jupyter/datascience-notebook", "bridge");
    const byIdOrName = (key: string) => Object.values(containers).find((c) => c.Id === key) ?? containers[key];
    const passwords: Record<string, string> = { root: GUIDE.root, [user]: GUIDE.user };
    const composeVolume = (name: string) => ({ Name: `dashboard_${name}`, Labels: { "com.docker.compose.project": "dashboard", "com.docker.compose.volume": name } });
    const docker = {
        listVolumes: async () => ({ Volumes: [composeVolume("mysql_volume"), composeVolume("esdata1"), { Name: "jupyter_volume", Labels: {} }] }),
        getContainer: (key: string) => ({
            inspect: async () => {
                const found = byIdOrName(key);
                if (!found) throw Object.assign(new Error("no such container"), { statusCode: 404 });
                return found;
            },
            exec: async (options: { Cmd: string[]; Env: string[] }) => {
                const login = options.Cmd.find((arg) => arg.startsWith("--user="))!.slice("--user=".length);
                const given = options.Env.find((e) => e.startsWith("MYSQL_PWD="))!.slice("MYSQL_PWD=".length);
                return { start: async () => [] as Buffer[], inspect: async () => ({ ExitCode: passwords[login] === given ? 0 : 1 }) };
            },
            stop: async () => void changed.push(`stop ${key}`),
            remove: async () => void changed.push(`remove ${key}`),
        }),
        getNetwork: (name: string) => ({
            inspect: async () => ({ Labels: { "com.docker.compose.network": "sb-network" }, Containers: { "id-sb-mysql": {}, "id-sb-elasticsearch": {}, "id-sb-app": {} } }),
            remove: async () => void changed.push(`remove network ${name}`),
        }),
    };
    return { docker: docker as unknown as Docker, changed };
}

/** The committed dev stack as the stack command reads it, with `extra` set (keys without namespace); records what is set. */
function devStack(extra: Record<string, string> = {}) {
    const config: StackConfigValues = Object.fromEntries(Object.entries(stackFile("dev")).map(([key, value]) => [key, { value: asConfigString(value) }]));
    for (const [key, value] of Object.entries(extra)) config[`${PROJECT}:${key}`] = { value, secret: /Password$/.test(key) };
    const set: [string, string, boolean][] = [];
    const stack: ConfigurableStack = {
        getAllConfig: async () => ({ ...config }),
        setConfig: async (key, value, secret) => void set.push([key, value, secret]),
        outputs: async () => ({}),
    };
    return { stack, set };
}

/** The guide's docker-compose.yml with a reader's passwords (and `user`, `database`) in place of its placeholders. */
function composeFile(made: HandMade = {}): string {
    const text = fs
        .readFileSync(path.join(PROJECT_DIR, "test/e2e/fixtures/guide/docker-compose.yml"), "utf8")
        .replace("<root_password_here>", GUIDE.root)
        .replace("<mysql_password_here>", GUIDE.user)
        .replace("MYSQL_USER: BAS_DEV_RW", `MYSQL_USER: ${made.user ?? "BAS_DEV_RW"}`)
        .replace("MYSQL_DATABASE: bas_dev", `MYSQL_DATABASE: ${made.database ?? "bas_dev"}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-adopt-"));
    written.push(dir);
    fs.writeFileSync(path.join(dir, "docker-compose.yml"), text);
    return path.join(dir, "docker-compose.yml");
}

const written: string[] = [];
afterAll(() => written.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

async function adopt(made: HandMade, extra: Record<string, string> = {}) {
    const engine = guideEngine(made);
    const { stack, set } = devStack(extra);
    const lines: string[] = [];
    const up = jest.fn(async () => 0);
    const terminal = {
        out: (text: string) => void lines.push(text),
        err: (text: string) => void lines.push(text),
        ask: async () => {
            throw new Error("nothing may be asked with --yes");
        },
        askHidden: async () => {
            throw new Error("nothing may be asked with --compose-file");
        },
    };
    const code = await adoptCommand(stack, {
        projectDir: PROJECT_DIR,
        stackName: "dev",
        args: ["--compose-file", composeFile(made), "--yes"],
        terminal,
        up,
        connect: () => engine.docker,
    });
    return { code, said: lines.join(""), set, up, changed: engine.changed };
}

describe("npm run adopt, on the guide's deployment made by hand", () => {
    it("adopts a root password shorter than the stack generates (10 characters with a !): config set, hand-made containers removed, then up", async () => {
        const { code, said, set, up, changed } = await adopt({});
        expect(code).toBe(0);
        expect(said).not.toContain("refused");
        expect(set).toEqual([
            [`${PROJECT}:mysqlVolumeName`, "dashboard_mysql_volume", false],
            [`${PROJECT}:elasticsearchVolumeName`, "dashboard_esdata1", false],
            [`${PROJECT}:mysqlRootPassword`, GUIDE.root, true],
            [`${PROJECT}:mysqlPassword`, GUIDE.user, true],
        ]);
        expect(changed.filter((c) => c.startsWith("remove id-")).sort()).toEqual(["remove id-jupyter", "remove id-sb-app", "remove id-sb-elasticsearch", "remove id-sb-mysql"]);
        expect(changed).toContain("remove network dashboard_sb-network");
        expect(up).toHaveBeenCalledWith(true);
        expect(said).not.toContain(GUIDE.root);
        expect(said).not.toContain(GUIDE.user);
    });

    it("takes the user and database the hand-made MySQL was made with, and checks the password as that user", async () => {
        const { docker } = guideEngine({ user: "reporting", database: "bas_prod" });
        const plan = await planAdoption(docker, parseDevConfig(), { ask: async () => GUIDE });
        expect(plan.config.map((c) => [c.key, c.secret ? "(secret)" : c.value])).toEqual([
            ["mysqlVolumeName", "dashboard_mysql_volume"],
            ["elasticsearchVolumeName", "dashboard_esdata1"],
            ["mysqlUser", "reporting"],
            ["mysqlDatabase", "bas_prod"],
            ["mysqlRootPassword", "(secret)"],
            ["mysqlPassword", "(secret)"],
        ]);
        expect(plan.notes).toContain("both passwords log in to sb-mysql");
        expect(plan.config.find((c) => c.key === "mysqlPassword")!.reason).toBe("reporting's password the MySQL data was initialised with");
    });

    it("refuses, before it stops, removes or writes anything, an adoption whose config the program would refuse, saying every problem by key", async () => {
        // MySQL takes these names (quoted); the stack's config does not.
        const { code, said, set, up, changed } = await adopt({ user: "bas-dev-rw", database: "bas-dev" });
        expect(code).toBe(1);
        expect(set).toEqual([]);
        expect(changed).toEqual([]);
        expect(up).not.toHaveBeenCalled();
        expect(said).toContain("Adoption refused: stack dev would not run with the config adoption would give it (2 problems, found by the checks preview and up run); nothing was stopped, removed or written:\n");
        expect(said).toContain(`  - ${PROJECT}:mysqlUser: "bas-dev-rw" is not valid; expected a MySQL user name: 1 to 32 letters, digits or '_'.\n`);
        expect(said).toContain(`  - ${PROJECT}:mysqlDatabase: "bas-dev" is not valid; expected a MySQL database name: 1 to 64 letters, digits or '_'.\n`);
        expect(said).toContain("What adoption would have set:\n  - set mysqlVolumeName = dashboard_mysql_volume");
        expect(said).toContain("  - set mysqlUser = bas-dev-rw: the hand-made sb-mysql made its user with MYSQL_USER=bas-dev-rw\n");
        expect(said).not.toContain("stop (up to");
        expect(said).not.toContain(GUIDE.root);
    });

    it("refuses the stack's own config, a key the program does not know included, before it looks at the engine, as preview does", async () => {
        const { stack } = devStack({ mysqlHostPrt: "3307" });
        const connect = jest.fn();
        const terminal = { out: jest.fn(), err: jest.fn(), ask: jest.fn(), askHidden: jest.fn() };
        await expect(adoptCommand(stack, { projectDir: PROJECT_DIR, stackName: "dev", args: ["--yes"], terminal, up: jest.fn(), connect })).rejects.toMatchObject({
            name: "ConfigError",
            problems: [expect.stringContaining(`${PROJECT}:mysqlHostPrt is set, but this project has no such setting; did you mean ${PROJECT}:mysqlHostPort?`)],
        });
        expect(connect).not.toHaveBeenCalled();
    });
});

describe("adoptedConfigProblems", () => {
    const plan = (config: { key: string; value: string; secret?: boolean }[]) => ({
        config: config.map((c) => ({ secret: false, reason: "adopted", ...c })),
        containers: [],
        networks: [],
        notes: [],
    });
    const dev = stackConfig("dev");

    it("has nothing to say about the guide's adoption, whatever the length of its passwords", () => {
        const adopted = plan([
            { key: "mysqlVolumeName", value: "dashboard_mysql_volume" },
            { key: "mysqlRootPassword", value: "Guide2024!", secret: true },
            { key: "mysqlPassword", value: "pw", secret: true },
        ]);
        expect(adoptedConfigProblems(PROJECT, "dev", dev, [], adopted, PROJECT_DIR)).toEqual([]);
    });

    it("refuses an empty password, never showing a value", () => {
        const problems = adoptedConfigProblems(PROJECT, "dev", dev, [], plan([{ key: "mysqlRootPassword", value: "", secret: true }]), PROJECT_DIR);
        expect(problems).toEqual([expect.stringContaining(`${PROJECT}:mysqlRootPassword: the value set is empty;`)]);
    });

    it("refuses a volume the adopted config would not name as adoption found it (a name prefix in front)", () => {
        const problems = adoptedConfigProblems(PROJECT, "dev", { ...dev, namePrefix: "qa-" }, [], plan([{ key: "mysqlVolumeName", value: "dashboard_mysql_volume" }]), PROJECT_DIR);
        expect(problems).toEqual([
            `${PROJECT}:mysqlVolumeName: the stack would name its volume "qa-dashboard_mysql_volume", not "dashboard_mysql_volume", the one that holds the data: ` +
                `${PROJECT}:namePrefix "qa-" goes in front of every name the stack gives; adopt into a stack whose namePrefix is "".`,
        ]);
    });

    it("counts the keys the stack sets and the keys adoption sets as set, so that an unknown one is refused as preview refuses it", () => {
        expect(adoptedConfigProblems(PROJECT, "dev", { ...dev, jupyterPort: "5001" }, ["jupyterPort"], plan([]), PROJECT_DIR)).toEqual([
            expect.stringContaining(`${PROJECT}:jupyterPort is set, but this project has no such setting`),
        ]);
    });
});
