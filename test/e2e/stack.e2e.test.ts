/**
 * Pieces of the Pulumi stack that only a real Docker engine can prove, run as the stack
 * declares them: MySQL's health check against a MySQL-protocol server whose passwords were
 * uploaded the way the Docker provider uploads them, and the derived Jupyter image's
 * Dockerfile on a stand-in notebook base.
 *
 * Without an engine the suite is skipped with a message; run test/e2e/ensure-engine.sh.
 */
import { spawnSync } from "child_process";
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { JupyterConfig } from "../../components/config";
import { derivedImageBuild } from "../../components/jupyter";
import { MYSQL_HEALTHCHECK, MYSQL_PASSWORD_FILE, MYSQL_ROOT_PASSWORD_FILE } from "../../components/mysql";
import { jupyterConfig } from "../support/fixtures";
import { PROJECT_DIR } from "../support/program";
import { docker, dockerRun, engineAnswers, LABEL, waitUntil } from "./support/docker";
import { ensureBaseImages, FIXTURES, IMAGES, proxyBuildArgs } from "./support/images";

const engine = engineAnswers();
if (!engine.ok) {
    console.warn(`e2e: skipping the stack's Docker tests, no Docker engine answers (${engine.reason}). Start one with test/e2e/ensure-engine.sh.`);
}
const describeWithEngine = engine.ok ? describe : describe.skip;

const runId = `${Date.now().toString(36)}-${process.pid}`;
const runLabel = `${LABEL}.run=${runId}`;

/**
 * Copies `content` into a created (not yet started) container at `file`, as the Docker
 * provider does for an upload: a tar archive holding just that file, with its owner and
 * mode, extracted at "/" (Docker creates the missing parent folders).
 */
function upload(container: string, file: string, content: string, owner: number): void {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-upload-"));
    try {
        const relative = file.replace(/^\//, "");
        fs.mkdirSync(path.join(dir, path.dirname(relative)), { recursive: true });
        fs.writeFileSync(path.join(dir, relative), content);
        const archive = spawnSync("tar", ["-C", dir, "--owner", String(owner), "--group", String(owner), "--numeric-owner", "--mode", "0400", "-cf", "-", relative]);
        if (archive.status !== 0) throw new Error(`tar failed: ${String(archive.stderr)}`);
        const copy = spawnSync("docker", ["cp", "-", `${container}:/`], { input: archive.stdout });
        if (copy.status !== 0) throw new Error(`docker cp failed: ${String(copy.stderr)}`);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Runs a shell command in a container; resolves to its exit code. */
async function execShell(container: string, command: string): Promise<number> {
    return (await dockerRun(["exec", container, "sh", "-c", command])).code;
}

describeWithEngine(`the stack's pieces on a real Docker engine (${engine.reason})`, () => {
    const created: { containers: string[]; images: string[] } = { containers: [], images: [] };

    beforeAll(async () => {
        await ensureBaseImages();
    }, 900_000);

    afterAll(async () => {
        if (created.containers.length > 0) await dockerRun(["rm", "-f", "-v", ...created.containers]);
        for (const image of created.images) await dockerRun(["rmi", "-f", image]);
    }, 120_000);

    describe("MySQL's health check", () => {
        const container = `sb-e2e-${runId}-mysql`;
        const userPassword = crypto.randomBytes(18).toString("base64url");
        const healthCommand = MYSQL_HEALTHCHECK.tests[1];

        beforeAll(async () => {
            // The stack's environment and uploads, on the MySQL-protocol stand-in.
            await docker([
                "create", "--name", container, "--label", runLabel,
                "-e", "MYSQL_USER=BAS_DEV_RW",
                "-e", "MYSQL_DATABASE=bas_dev",
                "-e", `MYSQL_PASSWORD_FILE=${MYSQL_PASSWORD_FILE}`,
                "-e", `MYSQL_ROOT_PASSWORD_FILE=${MYSQL_ROOT_PASSWORD_FILE}`,
                "--health-cmd", healthCommand, "--health-interval", "2s", "--health-retries", "60",
                IMAGES.mysql,
            ]);
            created.containers.push(container);
            upload(container, MYSQL_PASSWORD_FILE, userPassword, 0);
            upload(container, MYSQL_ROOT_PASSWORD_FILE, crypto.randomBytes(18).toString("base64url"), 0);
            await docker(["start", container]);
        }, 120_000);

        it("turns healthy once the application user can query its database, its password read from the uploaded file", async () => {
            const status = await waitUntil("the MySQL stand-in turning healthy", 180_000, async () => {
                const health = JSON.parse(await docker(["inspect", "--format", "{{json .State.Health}}", container])) as { Status: string };
                return health.Status === "healthy" ? health.Status : undefined;
            });
            expect(status).toBe("healthy");
        }, 200_000);

        it("finds the uploaded password files owned by root and readable by root alone", async () => {
            expect(await docker(["exec", container, "stat", "-c", "%u %a", MYSQL_PASSWORD_FILE, MYSQL_ROOT_PASSWORD_FILE])).toBe("0 400\n0 400");
        });

        it("keeps the passwords out of the container's configuration", async () => {
            expect(await docker(["inspect", container])).not.toContain(userPassword);
        });

        it("fails when the password no longer matches the server's", async () => {
            expect(await execShell(container, healthCommand)).toBe(0);
            await docker(["exec", container, "sh", "-c", `printf wrong-password > ${MYSQL_PASSWORD_FILE}`]);
            expect(await execShell(container, healthCommand)).not.toBe(0);
        });
    });

    describe("the derived Jupyter image (jupyter/Dockerfile)", () => {
        const base = `sb-e2e/notebook-base:${runId}`;
        const config = jupyterConfig({
            baseImage: base,
            pipPackages: ["nltk==3.9.1", "pandas==2.*", "scikit-learn[all]>=1.5,<2"],
            derivedImageName: `sb-e2e/jupyter-derived:${runId}`,
        });

        /** `docker build` with the build the stack declares (paths relative to the project, as for Pulumi). */
        async function buildDerived(forConfig: JupyterConfig, tag: string): Promise<void> {
            const build = derivedImageBuild(forConfig);
            const args = Object.entries(build.args as Record<string, string>).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
            await docker(["build", "--label", runLabel, "-f", build.dockerfile as string, "--target", build.target as string, ...args, "-t", tag, build.context as string], {
                timeoutMs: 300_000,
                cwd: PROJECT_DIR,
            });
            created.images.push(tag);
        }

        /** Runs a shell command in a throwaway container of `image`; returns its output. */
        async function inImage(image: string, command: string): Promise<string> {
            return docker(["run", "--rm", "--label", runLabel, image, "sh", "-c", command]);
        }

        beforeAll(async () => {
            await docker(["build", "--label", runLabel, ...proxyBuildArgs(), "--build-arg", `DEBIAN_IMAGE=${IMAGES.debian}`, "-t", base, path.join(FIXTURES, "notebook-base")]);
            created.images.push(base);
        }, 300_000);

        it("hands pip each requirement as one word, patterns and extras untouched, then fixes permissions", async () => {
            await buildDerived(config, `${config.derivedImageName}-packages`);
            expect(await inImage(`${config.derivedImageName}-packages`, "cat /opt/conda/pip-arguments")).toBe(
                ["install", "--no-cache-dir", "nltk==3.9.1", "pandas==2.*", "scikit-learn[all]>=1.5,<2"].join("\n"),
            );
            expect(await inImage(`${config.derivedImageName}-packages`, "cat /opt/conda/fixed-permissions")).toBe("/opt/conda\n/home/jovyan");
            expect(await inImage(`${config.derivedImageName}-packages`, "test -e /home/jovyan/templates && echo present || echo absent")).toBe("absent");
        }, 300_000);

        it("copies the extra files where config says, owned by the notebook user", async () => {
            const withFiles = { ...config, pipPackages: [], extraFilesDir: "test/fixtures/templates", extraFilesPath: "/home/jovyan/nltk_data" };
            await buildDerived(withFiles, `${config.derivedImageName}-files`);
            expect(await inImage(`${config.derivedImageName}-files`, "stat -c '%u:%g %n' /home/jovyan/nltk_data /home/jovyan/nltk_data/README.txt")).toBe(
                "1000:100 /home/jovyan/nltk_data\n1000:100 /home/jovyan/nltk_data/README.txt",
            );
            expect(await inImage(`${config.derivedImageName}-files`, "test -e /opt/conda/pip-arguments && echo ran || echo skipped")).toBe("skipped");
        }, 300_000);
    });
});
