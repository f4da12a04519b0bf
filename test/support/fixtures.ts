import { ConfigError } from "../../components/configReader";
import { parseStackConfig } from "../../components/config";
import type { JupyterConfig, StackConfig } from "../../components/config";
import { PROJECT, PROJECT_DIR, stackConfig } from "./program";

/** The dev stack's Jupyter settings as the config module returns them, with `overrides`. */
export function jupyterConfig(overrides: Partial<JupyterConfig> = {}): JupyterConfig {
    return {
        baseImage: "quay.io/jupyter/datascience-notebook:2026-08-24",
        containerName: "jupyter",
        containerPort: 8888,
        published: { ip: "0.0.0.0", port: 5000 },
        volumeName: "jupyter_volume",
        mountPath: "/home/jovyan/work/notebooks",
        hostFolder: "",
        grantSudo: false,
        pipPackages: [],
        extraFilesDir: "",
        extraFilesPath: "/home/jovyan/templates",
        derivedImageName: "jupyter_nltk:dev",
        buildPlatform: "linux/amd64",
        limits: { memoryMb: 4096, cpus: "2", stopGraceSeconds: 30 },
        ...overrides,
    };
}

/** The dev stack's config as the program reads and checks it, with `overrides` (keys without namespace). */
export function parseDevConfig(overrides: Record<string, unknown> = {}): StackConfig {
    const values = stackConfig("dev", overrides);
    return parseStackConfig(PROJECT, "dev", (key) => values[key], PROJECT_DIR);
}

/** The problems the dev stack's config with `overrides` is refused for. */
export function configProblems(overrides: Record<string, unknown>): readonly string[] {
    try {
        parseDevConfig(overrides);
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
    }
    throw new Error("the config was accepted");
}
