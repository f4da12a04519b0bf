/**
 * Which Pulumi CLI the stack command runs: one on the PATH when its version fits this project,
 * otherwise the pinned version, installed once into `.pulumi/cli/<version>/` inside the project.
 */
import * as os from "os";
import * as path from "path";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import * as semver from "semver";
import { Failure } from "./commandLine";

/**
 * The CLI release of the `@pulumi/pulumi` SDK this project pins (the two are released together),
 * installed when no fitting CLI is on the PATH. test/stackCommand.test.ts keeps them in step.
 */
export const PULUMI_CLI_VERSION = "3.248.0";

/** The CLI versions this project runs with: that release or a later 3.x. */
export const PULUMI_CLI_RANGE = `^${PULUMI_CLI_VERSION}`;

/** Where the pinned CLI is installed, inside the project (ignored by git, like the state). */
export function cliInstallRoot(projectDir: string): string {
    return path.join(projectDir, ".pulumi", "cli", PULUMI_CLI_VERSION);
}

/**
 * Where `npm run toolchain` (toolchain/build.sh) builds the pinned CLI from the Go module proxy:
 * a cache outside the clone, shared by every clone on the machine ($PULUMI_TOOLCHAIN_DIR overrides it).
 */
export function toolchainRoot(env: NodeJS.ProcessEnv = process.env): string {
    if (env.PULUMI_TOOLCHAIN_DIR) return env.PULUMI_TOOLCHAIN_DIR;
    const cache = env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");
    return path.join(cache, "smart-building-stack", "pulumi", `v${PULUMI_CLI_VERSION}`);
}

/** Installs the CLI `version` under `root` (as `root/bin/pulumi`) and returns it. */
export type CliInstaller = (root: string, version: string) => Promise<PulumiCommand>;

/** Pulumi's own installer: downloads get.pulumi.com/install.sh, which downloads the release. */
export const downloadCli: CliInstaller = (root, version) => PulumiCommand.install({ root, version: new semver.SemVer(version) });

/** Raised when the pinned CLI had to be installed and could not be. */
export class CliInstallError extends Failure {}

/**
 * The CLI on the PATH if its version is in range; else the one `npm run toolchain` built
 * (`toolchainRoot`); else the one installed under `.pulumi/`; else that one installed now by
 * `install`, after `say` has told the user why and where.
 */
export async function pulumiCli(
    projectDir: string,
    say: (line: string) => void,
    install: CliInstaller = downloadCli,
    built: string = toolchainRoot(),
): Promise<PulumiCommand> {
    let why: string;
    try {
        const onPath = await PulumiCommand.get({ skipVersionCheck: true });
        const version = onPath.version?.version;
        if (version !== undefined && semver.satisfies(version, PULUMI_CLI_RANGE, { includePrerelease: true })) return onPath;
        why = `The Pulumi CLI on the PATH is ${version ?? "of an unknown version"}; this project needs ${PULUMI_CLI_RANGE}`;
    } catch {
        why = "No Pulumi CLI on the PATH";
    }

    for (const root of [built, cliInstallRoot(projectDir)]) {
        try {
            return await PulumiCommand.get({ root, skipVersionCheck: true });
        } catch {
            // Not built or installed there.
        }
    }
    const root = cliInstallRoot(projectDir);
    const shown = path.relative(projectDir, root);
    say(`${why}: installing Pulumi CLI ${PULUMI_CLI_VERSION} into ${shown} (once; the only download this needs; npm run toolchain builds it from the Go module proxy instead).`);
    try {
        return await install(root, PULUMI_CLI_VERSION);
    } catch (err) {
        throw new CliInstallError(
            `Could not download the Pulumi CLI ${PULUMI_CLI_VERSION} into ${shown}: ${firstLine(err)}. ` +
                "Install it yourself (https://www.pulumi.com/docs/iac/download-install/) and run this again.",
        );
    }
}

/** The first line of an error's message, without Pulumi's "code: ... stderr:" wrapping. */
function firstLine(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    const stderr = /\n stderr: (.*)/.exec(message)?.[1];
    return (stderr ?? message).split("\n")[0].trim().replace(/\.$/, "");
}
