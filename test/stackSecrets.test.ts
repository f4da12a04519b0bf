import { changedStorePasswords, keepSecrets, secretsToKeep, writeNotice } from "../scripts/stackSecrets";
import type { ConfigurableStack } from "../scripts/stackSecrets";

/** A stack whose config holds `config` (keys without namespace) and whose last up exported `outputs`. */
function stackWith(config: Record<string, string>, outputs: Record<string, unknown>): ConfigurableStack {
    return {
        getAllConfig: async () => Object.fromEntries(Object.entries(config).map(([k, value]) => [`smart-building:${k}`, { value, secret: true }])),
        setConfig: async () => {
            throw new Error("nothing may be set");
        },
        outputs: async () => Object.fromEntries(Object.entries(outputs).map(([k, value]) => [k, { value, secret: true }])),
    };
}

const running = { mysqlRootPassword: "root-password-now", mysqlPassword: "app-password-now", jupyterUrl: "http://localhost:5000/lab?token=old-token" };

describe("changedStorePasswords", () => {
    it("finds nothing when config holds the passwords MySQL runs with, whatever became of the Jupyter token", async () => {
        const stack = stackWith({ mysqlRootPassword: "root-password-now", mysqlPassword: "app-password-now", jupyterToken: "a-new-token" }, running);
        expect(await changedStorePasswords(stack, "smart-building", await stack.getAllConfig())).toEqual([]);
    });

    it("names each MySQL password changed in config, why an up would lock the app out, and the two steps of a rotation", async () => {
        const stack = stackWith({ mysqlRootPassword: "root-password-now", mysqlPassword: "a-new-app-password" }, running);
        const problems = await changedStorePasswords(stack, "smart-building", await stack.getAllConfig());
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain("smart-building:mysqlPassword differs from the MySQL application user's password the stack runs with");
        expect(problems[0]).toContain("ALTER USER");
        expect(problems[0]).toContain("npm run up -- --password-rotated");
        expect(problems.join("")).not.toContain("a-new-app-password");
        expect(problems.join("")).not.toContain("app-password-now");
    });

    it("finds nothing for a stack never brought up, or one whose config has no password yet", async () => {
        for (const stack of [stackWith({ mysqlPassword: "x".repeat(16) }, {}), stackWith({}, running)]) {
            expect(await changedStorePasswords(stack, "smart-building", await stack.getAllConfig())).toEqual([]);
        }
    });
});

describe("secretsToKeep", () => {
    it("plans what an up adds, writing nothing: one in config is left, one in the outputs taken over, any other generated", async () => {
        const stack = stackWith({ mysqlRootPassword: "root-password-now" }, running);
        const planned = await secretsToKeep("smart-building", await stack.getAllConfig(), () => stack.outputs());
        expect(planned).toEqual([
            { key: "mysqlPassword", what: "MySQL application user's password", value: "app-password-now", takenOver: true },
            { key: "jupyterToken", what: "Jupyter login token", value: "old-token", takenOver: true },
        ]);
        const fresh = await secretsToKeep("smart-building", {}, async () => ({}));
        expect(fresh.map((s) => [s.key, s.takenOver])).toEqual([
            ["mysqlRootPassword", false],
            ["mysqlPassword", false],
            ["jupyterToken", false],
        ]);
        for (const s of fresh) expect(s.value).toMatch(/^[A-Za-z0-9]{32}$/);
    });

    it("reads no outputs when nothing is missing", async () => {
        const outputs = jest.fn();
        const config = await stackWith({ mysqlRootPassword: "a", mysqlPassword: "b", jupyterToken: "c" }, {}).getAllConfig();
        expect(await secretsToKeep("smart-building", config, outputs)).toEqual([]);
        expect(outputs).not.toHaveBeenCalled();
    });
});

describe("keepSecrets", () => {
    it("writes what is missing at once, as secrets, and says so without a value", async () => {
        const set: [string, string, boolean][] = [];
        const stack = { ...stackWith({ mysqlRootPassword: "root-password-now" }, running), setConfig: async (...args: [string, string, boolean]) => void set.push(args) };
        const said: string[] = [];
        expect(await keepSecrets(stack, "smart-building", (line) => said.push(line))).toEqual(["mysqlPassword", "jupyterToken"]);
        expect(set).toEqual([
            ["smart-building:mysqlPassword", "app-password-now", true],
            ["smart-building:jupyterToken", "old-token", true],
        ]);
        expect(said).toEqual(["Kept in the stack's encrypted config, so that they outlive destroy as the data volumes do: taken over from the stack: MySQL application user's password, Jupyter login token."]);
    });
});

describe("writeNotice", () => {
    const planned = [{ key: "jupyterToken", what: "Jupyter login token", value: "never-shown", takenOver: false }];

    it("names the file, each key, and the local passphrase file as the only key to them, with the way to the team's", () => {
        const text = writeNotice("Pulumi.dev.yaml", planned, ".pulumi/ (this project's local backend)", { shown: ".pulumi/passphrase", local: true }).join("\n");
        expect(text).toMatch(/^npm run up writes into Pulumi.dev.yaml, a file of the repository, before it previews:\n/);
        expect(text).toContain("  - encryptionsalt: the salt of the stack's secrets, as the stack is created in .pulumi/ (this project's local backend)\n");
        expect(text).toContain("  - jupyterToken, encrypted (secure:): the Jupyter login token, generated\n");
        expect(text).toContain("They are encrypted with .pulumi/passphrase, the passphrase generated on this machine: they are readable only with that file");
        expect(text).toContain("set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) from the team's secret store");
        expect(text).not.toContain("never-shown");
    });

    it("with the team's passphrase, says to commit the file; no salt line for a stack that exists", () => {
        const text = writeNotice("Pulumi.prod.yaml", planned, undefined, { shown: "$PULUMI_CONFIG_PASSPHRASE_FILE (/run/secrets/pulumi)", local: false }).join("\n");
        expect(text).not.toContain("encryptionsalt");
        expect(text).not.toContain("readable only");
        expect(text).toContain("They are encrypted with the passphrase of $PULUMI_CONFIG_PASSPHRASE_FILE (/run/secrets/pulumi): commit Pulumi.prod.yaml");
    });
});
