/**
 * The policy pack started the way the Pulumi CLI starts it, in a process of its own (a
 * `new PolicyPack(...)` in this process would start a server and never let Jest exit).
 *
 * For `pulumi preview|up --policy-pack policy`, the CLI (v3.248.0, sdk/go/common/resource/plugin:
 * NewPolicyAnalyzer, ExecPlugin) reads policy/PulumiPolicy.yaml and asks the Node.js language host
 * to run the pack (RunPlugin, kind "analyzer", with the CLI's own environment and its engine's
 * address as the only argument). The language host (sdk/nodejs/cmd/pulumi-language-nodejs,
 * RunPlugin and locateModule) then:
 *   - resolves `@pulumi/pulumi/cmd/run-policy-pack` with `require.resolve`, from the pack's folder;
 *   - runs `node <that file> <nodeargs...> <engine address> <the pack's absolute folder>`, with the
 *     pack's folder as the working directory;
 *   - adds PULUMI_NODEJS_TYPESCRIPT (the `typescript` option, true unless set otherwise) and the
 *     stack's organization, project, stack, dry-run flag and config (PULUMI_CONFIG) to that
 *     environment;
 *   - reads the port the pack's gRPC server listens on from its first line of output.
 * run-policy-pack compiles the pack with ts-node (type-checked) and the project's TypeScript, and
 * @pulumi/policy reads the pack's version from package.json in the working directory.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
// The gRPC library and protobuf runtime of @pulumi/pulumi (its dependencies, one copy in node_modules):
// the analyzer protocol's generated client is built on them.
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { AnalyzeRequest, AnalyzeResponse, AnalyzerInfo, AnalyzerResourceOptions, EnforcementLevel } from "@pulumi/pulumi/proto/analyzer_pb";
import { parse } from "yaml";
import { policies } from "../policy/rules";
import { PROJECT, PROJECT_DIR, TYPES, stackConfig } from "./support/program";

const POLICY_DIR = path.join(PROJECT_DIR, "policy");
const PACKAGE_JSON = path.join(POLICY_DIR, "package.json");
/** The pack's package.json, or nothing when it has none (the CLI then fails to start the pack: see below). */
const packageJson = fs.existsSync(PACKAGE_JSON) ? JSON.parse(fs.readFileSync(PACKAGE_JSON, "utf8")) : {};
const policyProject = parse(fs.readFileSync(path.join(POLICY_DIR, "PulumiPolicy.yaml"), "utf8"));
const runtimeName: string = typeof policyProject.runtime === "string" ? policyProject.runtime : policyProject.runtime?.name;
const runtimeOptions: Record<string, unknown> = (typeof policyProject.runtime === "object" && policyProject.runtime?.options) || {};

/** What the language host's locateModule prints: `require.resolve(module)` run by node in the pack's folder. */
function locateModule(module: string): string {
    const script = `try { console.log(require.resolve('${module}')); } catch (error) { console.error(error.message); process.exit(1); }`;
    return execFileSync(process.execPath, ["-e", script], { cwd: POLICY_DIR, encoding: "utf8" }).trim();
}

interface RunningPack {
    child: ChildProcess;
    port: number;
    stderr: () => string;
}

/** Starts the pack as the language host does, and resolves with the port it prints once it serves. */
function startPack(engineAddress: string, timeoutMs: number): Promise<RunningPack> {
    const runPath = locateModule("@pulumi/pulumi/cmd/run-policy-pack");
    const nodeargs = typeof runtimeOptions.nodeargs === "string" ? runtimeOptions.nodeargs.split(/\s+/).filter(Boolean) : [];
    const args = [runPath, ...nodeargs, engineAddress, POLICY_DIR];
    // The CLI's environment (this process's, less what Jest added), then what the language host adds.
    const cliEnv = { ...process.env };
    delete cliEnv.JEST_WORKER_ID;
    const config = Object.fromEntries(Object.entries(stackConfig("dev")).map(([key, value]) => [`${PROJECT}:${key}`, value]));
    const env = {
        ...cliEnv,
        ...(runtimeOptions.typescript !== false ? { PULUMI_NODEJS_TYPESCRIPT: "true" } : {}),
        PULUMI_NODEJS_ORGANIZATION: "organization",
        PULUMI_NODEJS_PROJECT: PROJECT,
        PULUMI_NODEJS_STACK: "dev",
        PULUMI_NODEJS_DRY_RUN: "true",
        PULUMI_CONFIG: JSON.stringify(config),
    };
    const child = spawn(process.execPath, args, { cwd: POLICY_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    return new Promise((resolve, reject) => {
        let settled = false;
        const fail = (why: string) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            child.kill("SIGKILL");
            reject(new Error(`The policy pack ${why}.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        };
        const timer = setTimeout(() => fail(`printed no port within ${timeoutMs} ms`), timeoutMs);
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
            stdout += chunk;
            const firstLine = /^(.*)\r?\n/.exec(stdout)?.[1];
            if (firstLine === undefined || settled) return;
            if (!/^\d+$/.test(firstLine.trim())) return fail(`printed ${JSON.stringify(firstLine)} where the CLI reads its port`);
            settled = true;
            clearTimeout(timer);
            resolve({ child, port: Number(firstLine.trim()), stderr: () => stderr });
        });
        child.on("exit", (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before printing its port`));
    });
}

function getAnalyzerInfo(client: AnalyzerClient): Promise<AnalyzerInfo> {
    return new Promise((resolve, reject) => client.getAnalyzerInfo(new Empty(), (err, info) => (err ? reject(err) : resolve(info))));
}

function analyze(client: AnalyzerClient, request: AnalyzeRequest): Promise<AnalyzeResponse> {
    return new Promise((resolve, reject) => client.analyze(request, (err, response) => (err ? reject(err) : resolve(response))));
}

const LEVELS: Record<string, EnforcementLevel> = {
    advisory: EnforcementLevel.ADVISORY,
    mandatory: EnforcementLevel.MANDATORY,
    disabled: EnforcementLevel.DISABLED,
    remediate: EnforcementLevel.REMEDIATE,
};

describe("the policy pack's folder", () => {
    it("is a Node.js policy pack with a package.json naming the pack and its version (which @pulumi/policy reads)", () => {
        expect(runtimeName).toBe("nodejs");
        expect(packageJson.name).toMatch(/^[a-zA-Z0-9-_.]{1,100}$/);
        expect(packageJson.version).toMatch(/^\d+\.\d+\.\d+$/);
        expect(path.resolve(POLICY_DIR, packageJson.main ?? "")).toBe(path.join(POLICY_DIR, "index.ts"));
    });

    it("takes its dependencies from the project's install (no second @pulumi/pulumi to disagree with the program's)", () => {
        expect(packageJson.dependencies).toBeUndefined();
        expect(packageJson.devDependencies).toBeUndefined();
        for (const module of ["@pulumi/pulumi/cmd/run-policy-pack", "@pulumi/policy", "@pulumi/docker"]) {
            expect(path.relative(PROJECT_DIR, locateModule(module)).split(path.sep).slice(0, 1)).toEqual(["node_modules"]);
        }
    });
});

describe("the policy pack, started from its folder through @pulumi/pulumi's run-policy-pack as the CLI's language host starts it", () => {
    let engine: net.Server;
    let pack: RunningPack | undefined;
    let client: AnalyzerClient | undefined;

    beforeAll(async () => {
        // The CLI's engine address: the pack is handed it and does not call it while it starts.
        engine = net.createServer((socket) => socket.destroy());
        await new Promise<void>((resolve) => engine.listen(0, "127.0.0.1", resolve));
        const { port } = engine.address() as net.AddressInfo;
        pack = await startPack(`127.0.0.1:${port}`, 25_000);
        client = new AnalyzerClient(`127.0.0.1:${pack.port}`, grpc.credentials.createInsecure());
    }, 30_000);

    afterAll(async () => {
        client?.close();
        if (pack && pack.child.exitCode === null && pack.child.signalCode === null) {
            const exited = new Promise((resolve) => pack!.child.once("exit", resolve));
            pack.child.kill("SIGTERM");
            await exited;
        }
        await new Promise((resolve) => engine?.close(resolve));
    });

    it("serves the pack by its package.json's name and version, with every policy and its enforcement level", async () => {
        const info = await getAnalyzerInfo(client!);
        expect(info.getName()).toBe(packageJson.name);
        expect(info.getVersion()).toBe(packageJson.version);
        expect(info.getPoliciesList().map((p) => ({ name: p.getName(), description: p.getDescription(), level: p.getEnforcementlevel() }))).toEqual(
            policies.map((p) => ({ name: p.name, description: p.description, level: LEVELS[p.enforcementLevel ?? "advisory"] })),
        );
    });

    it("runs the rules on a resource the engine sends it", async () => {
        const request = new AnalyzeRequest()
            .setType(TYPES.container)
            .setName("db")
            .setUrn(`urn:pulumi:dev::${PROJECT}::${TYPES.container}::db`)
            .setProperties(Struct.fromJavaScript({ name: "sb-db", image: "sha256:0", privileged: true, restart: "unless-stopped", wait: true }))
            .setOptions(new AnalyzerResourceOptions().setDeletebeforereplace(true).setDeletebeforereplacedefined(true));
        const found = (await analyze(client!, request)).getDiagnosticsList().filter((d) => d.getEnforcementlevel() === EnforcementLevel.MANDATORY);
        expect(found.map((d) => ({ policy: d.getPolicyname(), pack: d.getPolicypackname(), version: d.getPolicypackversion(), message: d.getMessage() }))).toEqual([
            {
                policy: "no-privileged-containers",
                pack: packageJson.name,
                version: packageJson.version,
                message: expect.stringContaining('Container "sb-db" is privileged; drop "privileged" and grant only what it needs.'),
            },
        ]);
    });
});
