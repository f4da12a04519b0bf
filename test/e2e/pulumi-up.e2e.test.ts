/**
 * The real Pulumi CLI, driven through the Automation API, on a throwaway dev-like stack: `up`
 * with the policy pack, the same checks of a running stack as the real-engine runner's
 * (support/stackChecks.ts), then `preview` expecting no change (a second `up` would change
 * nothing), `refresh` expecting no drift, `destroy` (the data volumes stay), and a second `up`
 * with nothing done by hand (the stack command keeps the secrets in config), finding the row.
 *
 * The stack is the dev stack's config (Pulumi.dev.yaml, read by `stackConfig`) with its own
 * name prefix, host ports and app image tag, and the small `quay.io/jupyter/base-notebook` in
 * place of the multi-GB data-science image (at the dev stack's dated `jupyterTag`: the same
 * weekly build of the Jupyter Docker Stacks). Its state lives in a file backend in a temporary
 * folder, its secrets under a passphrase generated here, and the CLI runs in a temporary copy of
 * the project, so that no `Pulumi.<stack>.yaml` lands in this one. Everything is removed at the
 * end: the stack's resources and volumes, the image it built, the stack, the temporary folders.
 *
 * Run by `npm run test:pulumi` (jest.pulumi.config.js: no stand-in images are built), in the
 * pull-request workflow's `pulumi-up` job. Without a `pulumi` CLI or a Docker engine the suite
 * skips itself with one message, unless REQUIRE_PULUMI_UP=true (as in that job): then it fails.
 */
import { spawnSync } from "child_process";
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import Docker from "dockerode";
import type { LocalWorkspace, OutputMap, Stack } from "@pulumi/pulumi/automation";
import { configurableStack } from "../../scripts/stackCommand";
import { keepSecrets } from "../../scripts/stackSecrets";
import type { ConfigurableStack } from "../../scripts/stackSecrets";
import { PROJECT, PROJECT_DIR, projectFile, stackConfig, stackFile } from "../support/program";
import { engineAnswers } from "./support/docker";
import {
    LiveStack,
    expectAppHealthy,
    expectJupyterWorks,
    expectMysqlRoundTrip,
    expectRunningAndHealthy,
    expectSecretsHidden,
    jupyterLogin,
    readRows,
    stackContainers,
    stackVolumes,
} from "./support/stackChecks";

/** Set in the CI job: a missing CLI or engine fails the suite instead of skipping it. */
const required = process.env.REQUIRE_PULUMI_UP === "true";

/** A `pulumi` 3.x CLI on the PATH, found without running anything else. */
function pulumiOnPath(): { ok: boolean; reason: string } {
    const run = spawnSync("pulumi", ["version"], { encoding: "utf8", timeout: 60_000 });
    if (run.error) return { ok: false, reason: `no \`pulumi\` CLI on the PATH (${(run.error as NodeJS.ErrnoException).code ?? run.error.message})` };
    const version = (run.stdout ?? "").trim();
    if (run.status !== 0 || !/^v?3\./.test(version)) {
        return { ok: false, reason: `\`pulumi version\` answered ${JSON.stringify(version || (run.stderr ?? "").trim())}, not a 3.x CLI` };
    }
    return { ok: true, reason: `Pulumi CLI ${version}` };
}

/** Whether the suite can run here, and what it runs with (or why not). */
function availability(): { ok: boolean; reason: string } {
    const cli = pulumiOnPath();
    if (!cli.ok) return { ok: false, reason: `${cli.reason}; install the Pulumi CLI 3.x to run it (CI does, in the pull-request workflow's pulumi-up job)` };
    const engine = engineAnswers();
    if (!engine.ok) return { ok: false, reason: `no Docker engine answers (${engine.reason})` };
    return { ok: true, reason: `${cli.reason}, ${engine.reason}` };
}

const available = availability();
/** In CI a missing CLI or engine is a failure, not a skip. */
const failInstead = !available.ok && required;
if (!available.ok && !failInstead) console.warn(`pulumi-up: skipping the real \`pulumi up\` suite: ${available.reason}.`);
const describeIfAvailable = available.ok || failInstead ? describe : describe.skip;

const log = (line: string) => process.stderr.write(`pulumi-up: ${line}\n`);
/** The CLI's own progress, streamed as it comes, so that a CI log shows where it stopped. */
const stream = { onOutput: (text: string) => process.stderr.write(text), onError: (text: string) => process.stderr.write(text), color: "never" as const };

/** This run's stack: its own name, so its containers, volumes and network are its own too. */
const STACK = `ci-${crypto.randomBytes(3).toString("hex")}`;

/** What CI changes in the dev stack's config, and why. */
const CI_OVERRIDES: Record<string, unknown> = {
    // Beside any other stack on the engine: its own names and host ports.
    namePrefix: `${STACK}-`,
    appHostPort: 23000,
    mysqlHostPort: 23306,
    elasticsearchHttpHostPort: 29200,
    elasticsearchTransportHostPort: 29300,
    jupyterHostPort: 25000,
    appImageName: `smartbuildingapp:${STACK}`,
    // The data-science notebook is several GB; the base notebook (same start-up script, health
    // check and server) is a fraction of it. The tag stays the dev stack's dated jupyterTag.
    jupyterImage: "quay.io/jupyter/base-notebook",
};

/**
 * The stack file's `config:` for this stack: the dev stack's values with the CI overrides (from
 * `stackConfig`, which applies Pulumi.yaml's defaults too), typed as Pulumi.yaml declares them
 * (the CLI checks each value against its declared type), and the dev stack file's settings of
 * other namespaces (`pulumi:disable-default-providers`).
 */
function stackFileConfig(): Record<string, unknown> {
    const declared = projectFile().config;
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(stackFile("dev"))) if (!key.startsWith(`${PROJECT}:`)) config[key] = value;
    for (const [key, value] of Object.entries(stackConfig("dev", CI_OVERRIDES))) {
        const type = declared[key]?.type;
        config[`${PROJECT}:${key}`] = type === "integer" ? Number(value) : type === "boolean" ? value === "true" : type === "array" ? JSON.parse(value) : value;
    }
    return config;
}

/**
 * A copy of the project for the CLI to run in (the stack file it writes stays there), without
 * the committed stack files, state, reports or git data; its node_modules is this project's.
 */
function copyProject(into: string): void {
    const skipped = new Set([".git", ".pulumi", "node_modules", "reports"]);
    fs.cpSync(PROJECT_DIR, into, {
        recursive: true,
        filter: (source) => {
            const relative = path.relative(PROJECT_DIR, source);
            if (relative === "") return true;
            if (relative.split(path.sep).some((part) => skipped.has(part))) return false;
            return !(path.dirname(relative) === "." && /^Pulumi\..+\.yaml$/.test(relative));
        },
    });
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(into, "node_modules"), "dir");
}

function values(outputs: OutputMap): Record<string, any> {
    return Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));
}

function statusOf(err: unknown): number | undefined {
    return (err as { statusCode?: number }).statusCode;
}

describeIfAvailable(`real \`pulumi up\` of a dev-like stack through the Automation API (${available.reason})`, () => {
    const docker = new Docker();
    const config = stackConfig("dev", CI_OVERRIDES);
    const prefix = config.namePrefix;
    const containerNames = [config.appContainerName, config.elasticsearchContainerName, config.jupyterContainerName, config.mysqlContainerName].map((n) => prefix + n).sort();
    const volumeNames = [config.elasticsearchVolumeName, config.jupyterVolumeName, config.mysqlVolumeName].map((n) => prefix + n).sort();
    const table = `ci_${crypto.randomBytes(4).toString("hex")}`;
    const row = `kept across destroy ${new Date().toISOString()}`;
    /** The stack as the engine shows it, before any output is known. */
    const onEngine: LiveStack = { stack: STACK, outputs: {}, docker };

    let temp: string | undefined;
    let projectCopy: string;
    let policyPack: string;
    let workspace: LocalWorkspace | undefined;
    let stack: Stack | undefined;
    let envVars: Record<string, string> = {};
    let configurable: ConfigurableStack | undefined;
    let first: LiveStack;
    let firstOutputs: OutputMap;

    async function liveStack(): Promise<{ live: LiveStack; outputs: OutputMap }> {
        const outputs = await stack!.outputs();
        return { live: { stack: STACK, outputs: values(outputs), docker }, outputs };
    }

    async function timed<T>(what: string, operation: () => Promise<T>): Promise<T> {
        const started = Date.now();
        log(`${what}...`);
        const result = await operation();
        log(`${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return result;
    }

    beforeAll(async () => {
        if (!available.ok) throw new Error(`REQUIRE_PULUMI_UP=true, but ${available.reason}`);
        const automation = await import("@pulumi/pulumi/automation");
        const pulumiCommand = await automation.PulumiCommand.get();

        temp = fs.mkdtempSync(path.join(os.tmpdir(), "sb-pulumi-up-"));
        projectCopy = path.join(temp, "project");
        policyPack = path.join(projectCopy, "policy");
        const state = path.join(temp, "state");
        fs.mkdirSync(state);
        copyProject(projectCopy);

        envVars = {
            PULUMI_BACKEND_URL: `file://${state}`,
            PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(32).toString("base64"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
        };
        workspace = await automation.LocalWorkspace.create({ workDir: projectCopy, pulumiCommand, secretsProvider: "passphrase", envVars });
        stack = await automation.Stack.create(STACK, workspace);
        // The stack file `stack init` wrote (the passphrase's salt), with the stack's config added.
        const settings = fs.existsSync(path.join(projectCopy, `Pulumi.${STACK}.yaml`)) ? await workspace.stackSettings(STACK) : {};
        await workspace.saveStackSettings(STACK, { ...settings, config: { ...settings.config, ...stackFileConfig() } });
        log(`stack ${STACK} in ${projectCopy}, state in ${state}, ${available.reason}`);
        // What `npm run up` does before every up: the passwords and the token kept in the stack's config.
        configurable = configurableStack(stack, pulumiCommand, STACK, projectCopy, envVars);
        expect(await keepSecrets(configurable, PROJECT, log)).toEqual(["mysqlRootPassword", "mysqlPassword", "jupyterToken"]);

        const up = await timed("up", () => stack!.up({ ...stream, policyPacks: [policyPack] }));
        expect(up.summary.result).toBe("succeeded");
        ({ live: first, outputs: firstOutputs } = await liveStack());
    }, 1_800_000);

    afterAll(async () => {
        // Nothing was made before the temporary folder.
        if (temp === undefined) return;
        const problems: string[] = [];
        const attempt = async (what: string, action: () => Promise<unknown>) => {
            try {
                await action();
            } catch (err) {
                if (statusOf(err) !== 404) problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
            }
        };
        if (stack) await attempt("destroy", () => timed("destroy (clean-up)", () => stack!.destroy(stream)));
        // What a failed destroy left, and the data volumes destroy keeps by design.
        for (const c of await stackContainers(onEngine).catch(() => [])) await attempt(`container ${c.Name}`, () => docker.getContainer(c.Id).remove({ force: true }));
        await attempt("network", () => docker.getNetwork(prefix + config.networkName).remove());
        for (const name of await stackVolumes(onEngine).catch(() => [])) await attempt(`volume ${name}`, () => docker.getVolume(name).remove());
        // The app image the stack built (Pulumi never deletes a built image); pulled images stay, as `docker pull` leaves them.
        await attempt("app image", () => docker.getImage(config.appImageName).remove({ force: true }));
        if (workspace) await attempt("stack rm", () => workspace!.removeStack(STACK, { force: true }));
        fs.rmSync(temp, { recursive: true, force: true });
        if (problems.length > 0) throw new Error(`clean-up of ${STACK} left:\n${problems.join("\n")}`);
    }, 900_000);

    it("runs every container the stack declares, each healthy, with the passwords and the login URL as secret outputs", async () => {
        const running = await expectRunningAndHealthy(first);
        expect([...running.keys()].sort()).toEqual(containerNames);
        // Every one of them waits for its health check, so each was healthy before `up` went on.
        for (const name of containerNames) expect(running.get(name)!.State.Health?.Status).toBe("healthy");
        expect(await stackVolumes(first)).toEqual(volumeNames);
        for (const key of ["mysqlPassword", "mysqlRootPassword", "jupyterUrl"]) expect({ key, secret: firstOutputs[key].secret }).toEqual({ key, secret: true });
        expect(firstOutputs.appUrl).toEqual({ value: `http://localhost:${config.appHostPort}`, secret: false });
    });

    it("answers /health with 200 through the app's published port, both stores up", async () => {
        await expectAppHealthy(first);
    });

    it("lets the application user create a table with the generated password from the outputs, which the app then lists; root's works too", async () => {
        await expectMysqlRoundTrip(first, table, row);
    });

    it("serves Jupyter to the token from the jupyterUrl output only, and the notebook user writes into the notebooks volume", async () => {
        await expectJupyterWorks(first, "from-pulumi-up.txt");
        const mounts = (await docker.getContainer(first.outputs.jupyterContainerName).inspect()).Mounts;
        expect(mounts.find((m) => m.Destination === config.jupyterMountPath)).toMatchObject({ Type: "volume", Name: first.outputs.jupyterVolumeName });
    });

    it("keeps every password and the token out of each container's environment, labels, command lines and logs", async () => {
        await expectSecretsHidden(first, [first.outputs.mysqlPassword, first.outputs.mysqlRootPassword, jupyterLogin(first).token]);
    });

    it("previews no change right after the up (so a second up would change nothing)", async () => {
        const preview = await timed("preview --expect-no-changes", () => stack!.preview({ ...stream, policyPacks: [policyPack], expectNoChanges: true, diff: true }));
        expect(Object.keys(preview.changeSummary)).toEqual(["same"]);
    }, 900_000);

    it("refreshes without drift: the engine holds what the state says", async () => {
        const refresh = await timed("refresh --expect-no-changes", () => stack!.refresh({ ...stream, expectNoChanges: true }));
        expect(Object.keys(refresh.summary.resourceChanges ?? {})).toEqual(["same"]);
    }, 900_000);

    it("destroys the containers and the network, and keeps the data volumes", async () => {
        await timed("destroy", () => stack!.destroy(stream));
        expect(await stackContainers(first)).toEqual([]);
        await expect(docker.getNetwork(first.outputs.networkName).inspect()).rejects.toMatchObject({ statusCode: 404 });
        expect(await stackVolumes(first)).toEqual(volumeNames);
    }, 900_000);

    it("comes back up onto the kept data with nothing done by hand (the secrets are in config): the row is there, /health is 200", async () => {
        expect(await keepSecrets(configurable!, PROJECT, log)).toEqual([]);
        const up = await timed("second up", () => stack!.up({ ...stream, policyPacks: [policyPack] }));
        expect(up.summary.result).toBe("succeeded");
        const { live: second } = await liveStack();
        expect(second.outputs.mysqlPassword).toBe(first.outputs.mysqlPassword);
        expect([...(await expectRunningAndHealthy(second)).keys()].sort()).toEqual(containerNames);
        expect(await readRows(second, table)).toEqual([row]);
        await expectAppHealthy(second);
        await expectSecretsHidden(second, [second.outputs.mysqlPassword, second.outputs.mysqlRootPassword, jupyterLogin(second).token]);
    }, 1_800_000);
});
