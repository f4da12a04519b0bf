import type { JupyterConfig } from "../../components/config";

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
