import { containerHealthcheck } from "../components/containerTarget";
import { MYSQL_HEALTHCHECK } from "../components/mysql";
import { Declared, ProgramRun, TYPES, envMap, parentName, plainInputsText, runFailingProgram, runProgram, stackConfig, valueOf, declareStack } from "./support/program";

describe("sb-mysql in the dev stack", () => {
    let run: ProgramRun;
    let declared: Declared;
    beforeAll(async () => {
        run = await runProgram("dev", stackConfig("dev"));
        declared = new Declared(run);
    });

    const mysql = () => declared.container("mysql-container");

    it("runs the guide's mysql:5.7 image, pulled once and kept locally, by its image id", () => {
        const image = declared.one(TYPES.remoteImage, "mysql-image");
        expect(image.inputs).toEqual({ name: "mysql:5.7", keepLocally: true });
        expect(mysql().inputs.image).toBe("sha256:pulled-mysql:5.7");
    });

    it("is named sb-mysql and publishes 3306 on host port 3306", () => {
        expect(mysql().inputs.name).toBe("sb-mysql");
        expect(mysql().inputs.ports).toEqual([{ internal: 3306, external: 3306, ip: "0.0.0.0", protocol: "tcp" }]);
    });

    it("keeps its data on the mysql_volume volume at /var/lib/mysql", () => {
        expect(declared.one(TYPES.volume, "mysql-data").inputs.name).toBe("mysql_volume");
        expect(mysql().inputs.volumes).toEqual([{ volumeName: "mysql_volume", containerPath: "/var/lib/mysql" }]);
    });

    it("keeps mysql_volume when the stack is destroyed", () => {
        expect(declared.one(TYPES.volume, "mysql-data").opts).toMatchObject({ retainOnDelete: true, protect: false });
    });

    it("creates the guide's user and database and reads both passwords from files", () => {
        expect(envMap(mysql().inputs.envs)).toEqual({
            MYSQL_USER: "BAS_DEV_RW",
            MYSQL_DATABASE: "bas_dev",
            MYSQL_PASSWORD_FILE: "/run/secrets/mysql_password",
            MYSQL_ROOT_PASSWORD_FILE: "/run/secrets/mysql_root_password",
        });
    });

    it("generates the root and user passwords: long, and not rotated by any keeper", () => {
        for (const name of ["mysql-root-password", "mysql-user-password"]) {
            expect(declared.one(TYPES.password, name).inputs).toEqual({ length: 32, special: false });
        }
    });

    it("uploads the generated passwords as root-only files, sent to the engine as secrets", () => {
        expect(mysql().inputs.uploads).toEqual([
            { file: "/run/secrets/mysql_password", content: "generated-mysql-user-password", owner: "0", group: "0", permissions: "0400" },
            { file: "/run/secrets/mysql_root_password", content: "generated-mysql-root-password", owner: "0", group: "0", permissions: "0400" },
        ]);
        expect(mysql().secretInputs).toEqual(new Set(["uploads"]));
    });

    it("shows the passwords in no plain input of any resource: not in env, labels, health check or command", () => {
        for (const resource of run.resources) {
            expect(plainInputsText(resource)).not.toContain("generated-mysql");
        }
    });

    it("joins sb-network under the alias mysql", () => {
        expect(mysql().inputs.networksAdvanced).toEqual([{ name: "sb-network", aliases: ["mysql"] }]);
    });

    it("reports healthy only once the app user can query its database over TCP, and Pulumi waits for it", () => {
        expect(mysql().inputs.healthcheck).toEqual(containerHealthcheck(MYSQL_HEALTHCHECK));
        const test = MYSQL_HEALTHCHECK.tests;
        expect(test[0]).toBe("CMD-SHELL");
        expect(test[1]).toContain("--host=127.0.0.1 --protocol=tcp");
        expect(test[1]).toContain('"$MYSQL_PASSWORD_FILE"');
        expect(mysql().inputs.wait).toBe(true);
        expect(mysql().inputs.waitTimeout).toBeGreaterThanOrEqual(180);
    });

    it("restarts unless stopped", () => {
        expect(mysql().inputs.restart).toBe("unless-stopped");
    });

    it("is replaced by deleting the old container first, and replaced when its health check changes", () => {
        expect(mysql().opts.deleteBeforeReplace).toBe(true);
        expect(mysql().opts.replaceOnChanges).toEqual(["healthcheck"]);
    });

    it("belongs to the MySql component", () => {
        for (const name of ["mysql-image", "mysql-root-password", "mysql-user-password"]) {
            expect(parentName(run.resources.find((r) => r.name === name)!)).toBe("mysql");
        }
        expect(parentName(mysql())).toBe("mysql");
        expect(parentName(declared.one(TYPES.volume, "mysql-data"))).toBe("mysql");
    });

    it("exports both passwords as secrets, and the user and database in plain text", async () => {
        expect(await run.pulumi.isSecret(run.outputs.mysqlPassword)).toBe(true);
        expect(await run.pulumi.isSecret(run.outputs.mysqlRootPassword)).toBe(true);
        expect(await valueOf(run.outputs.mysqlPassword)).toBe("generated-mysql-user-password");
        expect(await valueOf(run.outputs.mysqlRootPassword)).toBe("generated-mysql-root-password");
        expect([run.outputs.mysqlUser, run.outputs.mysqlDatabase]).toEqual(["BAS_DEV_RW", "bas_dev"]);
        expect([run.outputs.mysqlHost, run.outputs.mysqlPort]).toEqual(["localhost", 3306]);
    });
});

describe("sb-mysql with other config", () => {
    it("publishes on loopback only when the data ports are bound there", async () => {
        const declared = await declareStack("dev", { dataPublishAddress: "127.0.0.1", mysqlHostPort: 13306 });
        expect(declared.container("mysql-container").inputs.ports).toEqual([{ internal: 3306, external: 13306, ip: "127.0.0.1", protocol: "tcp" }]);
    });

    it('publishes nothing with dataPublishAddress "none", and exports no host port', async () => {
        const run = await runProgram("dev", stackConfig("dev", { dataPublishAddress: "none" }));
        expect(new Declared(run).container("mysql-container").inputs.ports).toEqual([]);
        expect(run.outputs.mysqlHost).toBeUndefined();
        expect(run.outputs.mysqlPort).toBeUndefined();
    });

    it("protects the volume and lets destroy delete it when config says so", async () => {
        const declared = await declareStack("dev", { protectData: true, retainDataOnDestroy: false });
        expect(declared.one(TYPES.volume, "mysql-data").opts).toMatchObject({ retainOnDelete: false, protect: true });
    });

    it("runs another image, user and database from config", async () => {
        const declared = await declareStack("dev", { mysqlImage: "mysql:8.4.3", mysqlUser: "reporting", mysqlDatabase: "bas_prod" });
        expect(declared.one(TYPES.remoteImage, "mysql-image").inputs.name).toBe("mysql:8.4.3");
        expect(envMap(declared.container("mysql-container").inputs.envs)).toMatchObject({ MYSQL_USER: "reporting", MYSQL_DATABASE: "bas_prod" });
    });
});

describe("sb-mysql with passwords set in config", () => {
    const root = "root-password-from-config";
    const user = "user-password-from-config";

    it("uses them instead of generating any, and keeps them secret", async () => {
        const run = await runProgram("dev", stackConfig("dev", { mysqlRootPassword: root, mysqlPassword: user }));
        const declared = new Declared(run);
        expect(declared.ofType(TYPES.password).map((p) => p.name)).toEqual(["jupyter-token"]);
        const mysql = declared.container("mysql-container");
        expect(mysql.inputs.uploads.map((u: { content: string }) => u.content)).toEqual([user, root]);
        expect(mysql.secretInputs).toEqual(new Set(["uploads"]));
        expect(declared.container("app-container").inputs.uploads[0].content).toBe(user);
        expect(await run.pulumi.isSecret(run.outputs.mysqlPassword)).toBe(true);
        expect(await valueOf(run.outputs.mysqlRootPassword)).toBe(root);
        for (const resource of run.resources) expect(plainInputsText(resource)).not.toMatch(/from-config/);
    });

    it("generates only the one that is not set", async () => {
        const declared = await declareStack("dev", { mysqlPassword: user });
        expect(declared.ofType(TYPES.password).map((p) => p.name).sort()).toEqual(["jupyter-token", "mysql-root-password"]);
    });

    it("takes a password of any length: one set in config is the data's own (a guide reader's, 10 characters with a !)", async () => {
        const declared = await declareStack("dev", { mysqlRootPassword: "Guide2024!", mysqlPassword: "hunter2" });
        expect(declared.ofType(TYPES.password).map((p) => p.name)).toEqual(["jupyter-token"]);
        expect(declared.container("mysql-container").inputs.uploads.map((u: { content: string }) => u.content)).toEqual(["hunter2", "Guide2024!"]);
        expect(declared.container("app-container").inputs.uploads[0].content).toBe("hunter2");
    });

    it("refuses a password set empty, and one its file cannot carry to MySQL, naming each key and printing neither", async () => {
        const { error, declared } = await runFailingProgram("dev", stackConfig("dev", { mysqlRootPassword: "", mysqlPassword: "hunter2-and-a-newline\n" }));
        expect(error.message).toContain(
            "smart-building:mysqlRootPassword: the value set is empty; set the password the data was initialised with, or remove the key (npm run stack -- config rm mysqlRootPassword) to have one generated for new data.",
        );
        expect(error.message).toContain("smart-building:mysqlPassword: the value set contains a NUL character or ends with a line break");
        expect(error.message).not.toContain("hunter2-and-a-newline");
        expect(declared).toEqual([]);
    });

    it("refuses a Jupyter token shorter than a generated one, without printing it", async () => {
        const { error } = await runFailingProgram("dev", stackConfig("dev", { jupyterToken: "short-token-123" }));
        expect(error.message).toContain("smart-building:jupyterToken: the value set is too short; expected at least 32 characters.");
        expect(error.message).not.toContain("short-token-123");
    });
});
