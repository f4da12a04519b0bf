import { changedStorePasswords } from "../scripts/stackSecrets";
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
