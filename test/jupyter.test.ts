import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PIP_REQUIREMENT } from "../components/config";
import { jupyterEnv } from "../components/jupyter";
import { jupyterConfig } from "./support/fixtures";
import {
    Declared,
    ProgramRun,
    TYPES,
    dependsOnNames,
    envMap,
    parentName,
    plainInputsText,
    runFailingProgram,
    runProgram,
    stackConfig,
    declareStack,
    valueOf,
} from "./support/program";

describe("the Jupyter workspace in the dev stack", () => {
    let run: ProgramRun;
    let declared: Declared;
    beforeAll(async () => {
        run = await runProgram("dev", stackConfig("dev"));
        declared = new Declared(run);
    });

    const jupyter = () => declared.container("jupyter-container");

    it("runs the maintained data-science image from quay.io, pinned to a dated tag, pulled once and kept", () => {
        expect(declared.one(TYPES.remoteImage, "jupyter-base-image").inputs).toEqual({
            name: "quay.io/jupyter/datascience-notebook:2026-08-24",
            keepLocally: true,
        });
        expect(jupyter().inputs.image).toBe("sha256:pulled-quay.io/jupyter/datascience-notebook:2026-08-24");
    });

    it("builds no derived image when there are no extras", () => {
        expect(declared.ofType(TYPES.image).map((i) => i.name)).toEqual(["app-image"]);
    });

    it("is named jupyter and publishes 8888 on host port 5000, as the guide's -p 5000:8888", () => {
        expect(jupyter().inputs.name).toBe("jupyter");
        expect(jupyter().inputs.ports).toEqual([{ internal: 8888, external: 5000, ip: "0.0.0.0", protocol: "tcp" }]);
        expect(envMap(jupyter().inputs.envs).JUPYTER_PORT).toBe("8888");
    });

    it("mounts the jupyter_volume volume at the guide's /home/jovyan/work/notebooks", () => {
        expect(declared.one(TYPES.volume, "jupyter-notebooks").inputs.name).toBe("jupyter_volume");
        expect(jupyter().inputs.volumes).toEqual([{ volumeName: "jupyter_volume", containerPath: "/home/jovyan/work/notebooks" }]);
        expect(jupyter().inputs.mounts).toEqual([]);
    });

    it("makes the notebooks folder writable by the notebook user with the image's own start-up options, not chmod 777", () => {
        // The start-up script needs root to chown; it then runs the server as the notebook user.
        expect(jupyter().inputs.user).toBe("root");
        expect(envMap(jupyter().inputs.envs)).toMatchObject({ CHOWN_EXTRA: "/home/jovyan/work/notebooks", CHOWN_EXTRA_OPTS: "-R" });
        expect(JSON.stringify(jupyter().inputs)).not.toMatch(/chmod|777/);
    });

    it("does not grant sudo by default", () => {
        expect(envMap(jupyter().inputs.envs)).not.toHaveProperty("GRANT_SUDO");
    });

    it("generates the login token and hands it over as a file the notebook user alone can read", () => {
        expect(declared.one(TYPES.password, "jupyter-token").inputs).toEqual({ length: 48, special: false });
        expect(envMap(jupyter().inputs.envs).JUPYTER_TOKEN_FILE).toBe("/run/secrets/jupyter_token");
        expect(jupyter().inputs.uploads).toEqual([
            { file: "/run/secrets/jupyter_token", content: "generated-jupyter-token", owner: "1000", group: "1000", permissions: "0400" },
        ]);
        expect(jupyter().secretInputs).toEqual(new Set(["uploads"]));
    });

    it("shows the token in no plain input of any resource: no env, label, command or entrypoint", () => {
        expect(jupyter().inputs.command).toBeUndefined();
        expect(jupyter().inputs.entrypoints).toBeUndefined();
        for (const resource of run.resources) {
            expect(plainInputsText(resource)).not.toContain("generated-jupyter-token");
        }
    });

    it("exports the login URL with its token as a secret, and the container and volume names", async () => {
        expect(await run.pulumi.isSecret(run.outputs.jupyterUrl)).toBe(true);
        expect(await valueOf(run.outputs.jupyterUrl)).toBe("http://localhost:5000/lab?token=generated-jupyter-token");
        expect(await valueOf(run.outputs.jupyterContainerName)).toBe("jupyter");
        expect(await valueOf(run.outputs.jupyterVolumeName)).toBe("jupyter_volume");
    });

    it("relies on the image's own health check, which Pulumi waits on", () => {
        expect(jupyter().inputs.healthcheck).toBeUndefined();
        expect(jupyter().inputs.wait).toBe(true);
        expect(jupyter().inputs.waitTimeout).toBeGreaterThanOrEqual(180);
    });

    it("restarts unless stopped, is replaced delete-first, and keeps its volume on destroy", () => {
        expect(jupyter().inputs.restart).toBe("unless-stopped");
        expect(jupyter().opts.deleteBeforeReplace).toBe(true);
        expect(declared.one(TYPES.volume, "jupyter-notebooks").opts).toMatchObject({ retainOnDelete: true, protect: false });
        expect(parentName(jupyter())).toBe("jupyter");
    });

    it("is not on the services' network, as in the guide", () => {
        expect(jupyter().inputs.networksAdvanced).toBeUndefined();
    });
});

describe("the Jupyter workspace's switches", () => {
    it("grants sudo when asked, running the start-up as root", async () => {
        const declared = await declareStack("dev", { jupyterGrantSudo: true });
        const jupyter = declared.container("jupyter-container");
        expect(envMap(jupyter.inputs.envs).GRANT_SUDO).toBe("yes");
        expect(jupyter.inputs.user).toBe("root");
    });

    it("takes the token kept in config, as a secret, and generates none", async () => {
        const token = "kept-in-config-0123456789abcdefghijklmn";
        const run = await runProgram("dev", stackConfig("dev", { jupyterToken: token }));
        const declared = new Declared(run);
        expect(declared.ofType(TYPES.password).map((p) => p.name)).not.toContain("jupyter-token");
        expect(declared.container("jupyter-container").inputs.uploads[0]).toMatchObject({ file: "/run/secrets/jupyter_token", content: token, owner: "1000" });
        expect(declared.container("jupyter-container").secretInputs).toEqual(new Set(["uploads"]));
        expect(await run.pulumi.isSecret(run.outputs.jupyterUrl)).toBe(true);
        expect(await valueOf(run.outputs.jupyterUrl)).toBe(`http://localhost:5000/lab?token=${token}`);
    });

    it("declares no generated secret at all once the stack command keeps them all in config", async () => {
        const declared = await declareStack("dev", {
            mysqlRootPassword: "root-password-kept-in-config",
            mysqlPassword: "user-password-kept-in-config",
            jupyterToken: "token-kept-in-config-0123456789abcdef",
        });
        expect(declared.ofType(TYPES.password)).toEqual([]);
    });

    it("binds an existing host folder instead of the volume, and declares no volume", async () => {
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), "notebooks-"));
        try {
            const run = await runProgram("dev", stackConfig("dev", { jupyterHostFolder: folder }));
            const declared = new Declared(run);
            const jupyter = declared.container("jupyter-container");
            expect(jupyter.inputs.mounts).toEqual([{ type: "bind", source: folder, target: "/home/jovyan/work/notebooks", readOnly: false }]);
            expect(jupyter.inputs.volumes).toEqual([]);
            expect(declared.ofType("docker:index/volume:Volume").map((v) => v.inputs.name).sort()).toEqual(["esdata1", "mysql_volume"]);
            expect(envMap(jupyter.inputs.envs).CHOWN_EXTRA).toBe("/home/jovyan/work/notebooks");
            expect(run.outputs).not.toHaveProperty("jupyterVolumeName");
        } finally {
            fs.rmSync(folder, { recursive: true, force: true });
        }
    });

    it("bakes extra pip packages into a derived image built from the pinned base, and runs that", async () => {
        const declared = await declareStack("dev", { jupyterPipPackages: ["nltk==3.9.1", "pandas>=2.2,<3"] });
        const image = declared.one(TYPES.image, "jupyter-image");
        expect(image.inputs).toEqual({
            imageName: "jupyter_nltk:dev",
            skipPush: true,
            buildOnPreview: false,
            build: {
                context: "./jupyter",
                dockerfile: "./jupyter/Dockerfile",
                target: "packages",
                platform: "linux/amd64",
                args: {
                    BASE_IMAGE: "quay.io/jupyter/datascience-notebook:2026-08-24",
                    PIP_REQUIREMENTS: "nltk==3.9.1 pandas>=2.2,<3",
                    EXTRA_FILES_PATH: "/home/jovyan/templates",
                },
            },
        });
        expect(dependsOnNames(image)).toEqual(["jupyter-base-image"]);
        expect(declared.container("jupyter-container").inputs.image).toBe("sha256:built-jupyter-image");
    });

    it("copies a folder of extra files into the derived image, using it as the build context", async () => {
        const declared = await declareStack("dev", { jupyterExtraFilesDir: "test/fixtures/templates", jupyterExtraFilesPath: "/home/jovyan/nltk_data" });
        const build = declared.one(TYPES.image, "jupyter-image").inputs.build;
        expect(build).toMatchObject({ context: "test/fixtures/templates", dockerfile: "./jupyter/Dockerfile", target: "files" });
        expect(build.args).toEqual({
            BASE_IMAGE: "quay.io/jupyter/datascience-notebook:2026-08-24",
            PIP_REQUIREMENTS: "",
            EXTRA_FILES_PATH: "/home/jovyan/nltk_data",
        });
        expect(declared.container("jupyter-container").inputs.image).toBe("sha256:built-jupyter-image");
    });

    it("takes the registry, tag and ports from config", async () => {
        const run = await runProgram(
            "dev",
            stackConfig("dev", { jupyterImage: "registry.example.com/mirror/datascience-notebook", jupyterTag: "2026-11-23", jupyterHostPort: 15000, jupyterContainerPort: 9999 }),
        );
        const declared = new Declared(run);
        expect(declared.one(TYPES.remoteImage, "jupyter-base-image").inputs.name).toBe("registry.example.com/mirror/datascience-notebook:2026-11-23");
        expect(declared.container("jupyter-container").inputs.ports).toEqual([{ internal: 9999, external: 15000, ip: "0.0.0.0", protocol: "tcp" }]);
        expect(envMap(declared.container("jupyter-container").inputs.envs).JUPYTER_PORT).toBe("9999");
        expect(await valueOf(run.outputs.jupyterUrl)).toBe("http://localhost:15000/lab?token=generated-jupyter-token");
    });

    it("declares nothing of Jupyter's when it is switched off", async () => {
        const run = await runProgram("dev", stackConfig("dev", { jupyterEnabled: false }));
        expect(run.resources.filter((r) => r.name.startsWith("jupyter"))).toEqual([]);
        expect(Object.keys(run.outputs).filter((k) => k.startsWith("jupyter"))).toEqual([]);
    });
});

describe("jupyterEnv", () => {
    it("names the token file, never the token, and asks for sudo only when config does", () => {
        const expected = {
            CHOWN_EXTRA: "/home/jovyan/work/notebooks",
            CHOWN_EXTRA_OPTS: "-R",
            JUPYTER_PORT: "8888",
            JUPYTER_TOKEN_FILE: "/run/secrets/jupyter_token",
        };
        expect(jupyterEnv(jupyterConfig({ grantSudo: true }))).toEqual({ ...expected, GRANT_SUDO: "yes" });
        expect(jupyterEnv(jupyterConfig({ grantSudo: false }))).toEqual(expected);
    });
});

describe("the Jupyter workspace's bad config", () => {
    async function problemsFor(overrides: Record<string, unknown>): Promise<string> {
        const { error, declared } = await runFailingProgram("dev", stackConfig("dev", overrides));
        expect(declared).toEqual([]);
        return error.message;
    }

    it.each([
        ["nltk; python_version < '3.8'"],
        ["git+https://github.com/nltk/nltk"],
        ["nl tk"],
        ["--index-url=https://evil.example.com"],
        ["nltk==3.9.1 && curl evil"],
        [""],
    ])("refuses the pip requirement %j", async (requirement) => {
        expect(await problemsFor({ jupyterPipPackages: ["nltk", requirement] })).toContain(
            `smart-building:jupyterPipPackages[1]: ${JSON.stringify(requirement)} is not valid; expected a pip requirement such as "nltk" or "nltk==3.9.1" (no spaces, URLs or markers).`,
        );
    });

    it.each(["nltk", "nltk==3.9.1", "scikit-learn[all]>=1.5,<2", "pandas==2.*", "zope.interface~=6.0", "Django!=4.0.1"])(
        "accepts the pip requirement %j",
        (requirement) => {
            expect(PIP_REQUIREMENT.test(requirement)).toBe(true);
        },
    );

    it("hands an accepted requirement to the image build unchanged", async () => {
        const declared = await declareStack("dev", { jupyterPipPackages: ["scikit-learn[all]>=1.5,<2", "pandas==2.*"] });
        expect(declared.one(TYPES.image, "jupyter-image").inputs.build.args.PIP_REQUIREMENTS).toBe("scikit-learn[all]>=1.5,<2 pandas==2.*");
    });

    it("refuses a host folder that does not exist, rather than mounting an empty one", async () => {
        expect(await problemsFor({ jupyterHostFolder: "/root/no-such-jupyterhub" })).toContain(
            'smart-building:jupyterHostFolder: "/root/no-such-jupyterhub" is not valid; expected an absolute path to an existing folder, or "" for none; /root/no-such-jupyterhub is not an existing folder.',
        );
    });

    it("refuses an extras folder that does not exist", async () => {
        expect(await problemsFor({ jupyterExtraFilesDir: "nltk_data" })).toContain('smart-building:jupyterExtraFilesDir: "nltk_data" is not valid');
    });

    it.each([
        ["", 'a non-empty image tag other than "latest", such as "2026-08-24"'],
        ["latest", 'a non-empty image tag other than "latest", such as "2026-08-24"'],
    ])("refuses the tag %j", async (tag, expected) => {
        expect(await problemsFor({ jupyterTag: tag })).toContain(`smart-building:jupyterTag: ${JSON.stringify(tag)} is not valid; expected ${expected}.`);
    });

    it("refuses an image given with its tag in the registry key", async () => {
        expect(await problemsFor({ jupyterImage: "quay.io/jupyter/datascience-notebook:latest" })).toContain('smart-building:jupyterImage: "quay.io/jupyter/datascience-notebook:latest" is not valid');
    });

    it.each([0, 65536, "5k"])("refuses the port %j", async (port) => {
        expect(await problemsFor({ jupyterHostPort: port })).toContain(
            `smart-building:jupyterHostPort: ${JSON.stringify(String(port))} is not valid; expected an integer port from 1 to 65535.`,
        );
    });

    it("refuses a port another service of the stack publishes", async () => {
        expect(await problemsFor({ jupyterHostPort: 9200 })).toContain(
            "smart-building:elasticsearchHttpHostPort, smart-building:jupyterHostPort all publish host port 9200; each service needs its own host port.",
        );
    });

    it("refuses a relative mount path", async () => {
        expect(await problemsFor({ jupyterMountPath: "work/notebooks" })).toContain(
            'smart-building:jupyterMountPath: "work/notebooks" is not valid; expected an absolute path in the container.',
        );
    });

    it("reports all of its problems at once", async () => {
        const message = await problemsFor({ jupyterTag: "", jupyterHostPort: 3000, jupyterPipPackages: ["a b"], jupyterHostFolder: "relative/dir" });
        expect(message).toMatch(/^Invalid stack configuration \(4 problems\)/);
    });
});
