import * as path from "path";
import * as fs from "fs";
import { Declared, PROJECT_DIR, ProgramRun, TYPES, dependsOnNames, envMap, parentName, plainInputsText, runProgram, stackConfig, declareStack } from "./support/program";

describe("sb-app in the dev stack", () => {
    let run: ProgramRun;
    let declared: Declared;
    beforeAll(async () => {
        run = await runProgram("dev", stackConfig("dev"));
        declared = new Declared(run);
    });

    const app = () => declared.container("app-container");
    const image = () => declared.one(TYPES.image, "app-image");

    it("builds its image from app/ with a relative, stable context and never pushes it", () => {
        expect(image().inputs).toEqual({
            imageName: "smartbuildingapp:dev",
            skipPush: true,
            // A preview does not build (the real-engine tests build app/Dockerfile instead).
            buildOnPreview: false,
            build: {
                context: "./app",
                dockerfile: "./app/Dockerfile",
                platform: "linux/amd64",
                args: { NODE_IMAGE: "node:24.11.1-bookworm-slim" },
            },
        });
    });

    it("runs the built image by its digest, so a rebuild replaces the container", () => {
        expect(app().inputs.image).toBe("sha256:built-app-image");
    });

    it("is named sb-app and publishes 3000 on host port 3000", () => {
        expect(app().inputs.name).toBe("sb-app");
        expect(app().inputs.ports).toEqual([{ internal: 3000, external: 3000, ip: "0.0.0.0", protocol: "tcp" }]);
    });

    it("binds the project's dashboard folder at the guide's working directory, read-only", () => {
        expect(app().inputs.mounts).toEqual([
            { type: "bind", source: path.join(PROJECT_DIR, "app/dashboard"), target: "/home/elmkarim/dashboard", readOnly: true },
        ]);
    });

    it("reaches MySQL and Elasticsearch by their aliases on sb-network", () => {
        expect(app().inputs.networksAdvanced).toEqual([{ name: "sb-network", aliases: ["app"] }]);
        expect(envMap(app().inputs.envs)).toEqual({
            PORT: "3000",
            MYSQL_HOST: "mysql",
            MYSQL_PORT: "3306",
            MYSQL_USER: "BAS_DEV_RW",
            MYSQL_DATABASE: "bas_dev",
            MYSQL_PASSWORD_FILE: "/run/secrets/mysql_password",
            ELASTICSEARCH_URL: "http://elasticsearch:9200",
        });
    });

    it("gets the MySQL user's password as a secret file only the app user can read", () => {
        expect(app().inputs.uploads).toEqual([
            { file: "/run/secrets/mysql_password", content: "generated-mysql-user-password", owner: "1000", group: "1000", permissions: "0400" },
        ]);
        expect(app().secretInputs).toEqual(new Set(["uploads"]));
        expect(plainInputsText(app())).not.toContain("generated-mysql-user-password");
    });

    it("is created only after MySQL and Elasticsearch, which Pulumi waits on until healthy", () => {
        expect(dependsOnNames(app())).toEqual(["elasticsearch-container", "mysql-container"]);
        for (const name of ["mysql-container", "elasticsearch-container"]) {
            const store = declared.container(name);
            expect(store.inputs.wait).toBe(true);
            expect(store.inputs.healthcheck.tests.length).toBeGreaterThan(1);
        }
    });

    it("waits on the health check its image declares, and has an init process and a restart policy", () => {
        expect(app().inputs.healthcheck).toBeUndefined();
        const dockerfile = fs.readFileSync(path.join(PROJECT_DIR, "app/Dockerfile"), "utf8");
        expect(dockerfile).toMatch(/^HEALTHCHECK .*\\\n\s+CMD \["node", "-e", ".*\/health\/live/m);
        expect(app().inputs).toMatchObject({ wait: true, init: true, restart: "unless-stopped" });
    });

    it("is replaced by deleting the old container first", () => {
        expect(app().opts).toMatchObject({ deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"] });
        expect(parentName(app())).toBe("app");
        expect(parentName(image())).toBe("app");
    });

    it("exports its URL", () => {
        expect(run.outputs.appUrl).toBe("http://localhost:3000");
    });
});

describe("sb-app with other config", () => {
    it("runs the dashboard copy inside the image when no content folder is bound", async () => {
        const declared = await declareStack("dev", { appContentDir: "" });
        expect(declared.container("app-container").inputs.mounts).toEqual([]);
    });

    it("builds on another Node image and platform, and publishes on another port and address", async () => {
        const run = await runProgram(
            "dev",
            stackConfig("dev", { appNodeImage: "node:22.21.1-bookworm-slim", buildPlatform: "linux/arm64", appHostPort: 8080, publishAddress: "127.0.0.1", publicHost: "dash.example.com" }),
        );
        const declared = new Declared(run);
        expect(declared.one(TYPES.image, "app-image").inputs.build).toMatchObject({ platform: "linux/arm64", args: { NODE_IMAGE: "node:22.21.1-bookworm-slim" } });
        expect(declared.container("app-container").inputs.ports).toEqual([{ internal: 3000, external: 8080, ip: "127.0.0.1", protocol: "tcp" }]);
        expect(run.outputs.appUrl).toBe("http://dash.example.com:8080");
    });
});
