import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR } from "./support/program";

/**
 * scripts/stack.sh in a scratch copy of the project, with a stand-in `pulumi` on the PATH
 * that records each call (arguments and the environment the script set up).
 */
describe("scripts/stack.sh", () => {
    let dir: string;
    const log = () => path.join(dir, "pulumi-calls.log");

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-sh-"));
        fs.mkdirSync(path.join(dir, "scripts"));
        fs.copyFileSync(path.join(PROJECT_DIR, "scripts/stack.sh"), path.join(dir, "scripts/stack.sh"));
        fs.mkdirSync(path.join(dir, "node_modules"));
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(
            path.join(dir, "bin/pulumi"),
            `#!/bin/sh\necho "args=$* backend=$PULUMI_BACKEND_URL passfile=$PULUMI_CONFIG_PASSPHRASE_FILE" >> "${log()}"\n`,
            { mode: 0o755 },
        );
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function run(args: string[], env: Record<string, string> = {}) {
        const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PULUMI_") && k !== "STACK"));
        return spawnSync("bash", [path.join(dir, "scripts/stack.sh"), ...args], {
            env: { ...clean, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, ...env },
            encoding: "utf8",
        });
    }
    const calls = () => fs.readFileSync(log(), "utf8").trim().split("\n");

    it("brings up dev on a file backend inside the project, creating the stack and loading the policy pack", () => {
        const result = run(["up", "--yes"]);
        expect(result.status).toBe(0);
        const passfile = path.join(dir, ".pulumi/passphrase");
        expect(calls()).toEqual([
            `args=stack select --create --secrets-provider passphrase dev backend=file://${dir}/.pulumi passfile=${passfile}`,
            `args=up --yes --stack dev --policy-pack policy backend=file://${dir}/.pulumi passfile=${passfile}`,
        ]);
    });

    it("generates a passphrase once, readable by its owner only, and reuses it", () => {
        run(["preview"]);
        const passfile = path.join(dir, ".pulumi/passphrase");
        const first = fs.readFileSync(passfile, "utf8");
        expect(first.trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
        expect(fs.statSync(passfile).mode & 0o777).toBe(0o600);
        run(["preview"]);
        expect(fs.readFileSync(passfile, "utf8")).toBe(first);
    });

    it("runs other commands on the chosen stack without the policy pack", () => {
        expect(run(["stack", "output", "--show-secrets"], { STACK: "prod" }).status).toBe(0);
        expect(calls()[1]).toMatch(/^args=stack output --show-secrets --stack prod backend=/);
    });

    it("uses a team's backend and passphrase when they are set, and writes nothing locally", () => {
        run(["preview"], { PULUMI_BACKEND_URL: "s3://state-bucket/smart-building", PULUMI_CONFIG_PASSPHRASE: "from-the-team" });
        expect(calls()[1]).toBe("args=preview --stack dev --policy-pack policy backend=s3://state-bucket/smart-building passfile=");
        expect(fs.existsSync(path.join(dir, ".pulumi"))).toBe(false);
    });

    it("says what is missing when the Pulumi CLI is not installed", () => {
        fs.rmSync(path.join(dir, "bin/pulumi"));
        const result = spawnSync("bash", [path.join(dir, "scripts/stack.sh"), "up"], { env: { PATH: "/usr/bin:/bin" }, encoding: "utf8" });
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("The Pulumi CLI is not installed");
    });

    it("shows its usage without a command", () => {
        const result = run([]);
        expect(result.status).toBe(2);
        expect(result.stderr).toMatch(/^usage: /);
    });
});
