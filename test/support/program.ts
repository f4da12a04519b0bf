/**
 * Runs the real Pulumi program (index.ts) in-process against Pulumi's mocks and records
 * everything it declares: each resource's type, name, inputs (with secrecy kept), provider
 * and resource options. This is what `pulumi preview`/`up` would send to the engine.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { asConfigString, ProjectFile, readProjectFile, withDefaults } from "../../scripts/projectConfig";

export const PROJECT_DIR = path.resolve(__dirname, "../..");

// Each run loads a fresh Pulumi SDK, which listens for the process's exit.
process.setMaxListeners(100);

export function projectFile(): ProjectFile {
    return readProjectFile(PROJECT_DIR);
}

export const PROJECT = projectFile().name;

/** Every committed stack, from its `Pulumi.<stack>.yaml`. */
export function committedStacks(): string[] {
    return fs
        .readdirSync(PROJECT_DIR)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/**
 * The raw `config:` map of a stack file (keys with their namespace, values as YAML typed them),
 * without its encrypted (`secure:`) values: those are the secrets `npm run up` kept in a
 * developer's copy, which the tests cannot read and do not depend on (the program generates
 * what is unset; test/cliConfig.test.ts checks the encrypted ones).
 */
export function stackFile(stack: string): Record<string, unknown> {
    const file = parse(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
    const encrypted = (v: unknown) => typeof v === "object" && v !== null && "secure" in v;
    return Object.fromEntries(Object.entries(file.config ?? {}).filter(([, v]) => !encrypted(v)));
}

/**
 * What the CLI gives the program for `stack`: the project's defaults from Pulumi.yaml,
 * overridden by the stack file, then by `overrides` (keys without namespace; `undefined`
 * removes a key). Keys are returned without the project namespace.
 */
export function stackConfig(stack: string | undefined, overrides: Record<string, unknown> = {}): Record<string, string> {
    const values = withDefaults(projectFile(), stack ? stackFile(stack) : {});
    for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) delete values[key];
        else values[key] = asConfigString(value);
    }
    return values;
}

export interface DeclaredResource {
    type: string;
    name: string;
    /** Inputs with secrets unwrapped. */
    inputs: Record<string, any>;
    /** Names of the inputs that were sent as secrets. */
    secretInputs: Set<string>;
    /** The provider reference (`urn::id`) of a custom resource. */
    provider?: string;
    /** Resource options, as a stack transformation sees them. */
    opts: Record<string, any>;
    /** Whether the engine's provider manages it (false for components). */
    custom: boolean;
    /**
     * The logical names of the resources it waits for, as the SDK tells the engine: those
     * in `dependsOn` and those whose outputs its inputs use.
     */
    dependencies: string[];
}

/**
 * What the engine does with a resource the program registers, and what it hands back: the
 * physical id and the output state. The default returns what Pulumi's mocks would
 * (`computedState`); the real-engine tests plug in one that creates the resource on Docker.
 * Pulumi calls it for independent resources at once, and for a resource only once every
 * resource it depends on has been handled, as the engine does.
 */
export type ResourceEngine = (resource: DeclaredResource) => Promise<{ id: string; state: Record<string, any> }>;

const mockEngine: ResourceEngine = async (r) => ({ id: `${r.name}-id`, state: computedState(r.type, r.name, r.inputs) });

export interface ProgramRun {
    resources: DeclaredResource[];
    /** The program's exports (Pulumi Outputs). */
    outputs: Record<string, any>;
    /** The @pulumi/pulumi instance the program ran with (for `isSecret`, `Output`). */
    pulumi: typeof import("@pulumi/pulumi");
}

/** Values the engine or the Docker provider computes, as the mocks hand them back. */
/** The digest the mocks give the push of image resource `name`. */
export function mockDigest(name: string): string {
    return `sha256:${crypto.createHash("sha256").update(name).digest("hex")}`;
}

function computedState(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            // Deliberately not marked secret here: the program must protect it itself.
            return { ...inputs, result: `generated-${name}` };
        case "docker:index/remoteImage:RemoteImage":
            return { ...inputs, imageId: `sha256:pulled-${inputs.name}`, repoDigest: `${inputs.name}@sha256:remote` };
        case "docker:index/image:Image":
            // Pushed: a registry's manifest digest (64 hex digits, here from the resource's name), by
            // repository, the tag dropped; local: the image id.
            return {
                ...inputs,
                repoDigest: inputs.skipPush ? `sha256:built-${name}` : `${String(inputs.imageName).replace(/:[^:/]+$/, "")}@${mockDigest(name)}`,
                baseImageName: inputs.imageName,
            };
        default:
            return inputs;
    }
}

function unwrapSecrets(pulumi: ProgramRun["pulumi"], inputs: Record<string, any>) {
    const plain: Record<string, any> = {};
    const secret = new Set<string>();
    for (const [key, value] of Object.entries(inputs)) {
        if (value && typeof value === "object" && value[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) {
            secret.add(key);
            plain[key] = value.value;
        } else {
            plain[key] = value;
        }
    }
    return { plain, secret };
}

interface Execution {
    run?: ProgramRun;
    failure?: unknown;
    /** Everything declared, even when the program failed part-way. */
    declared: DeclaredResource[];
}

/** The logical name in a URN (`urn:pulumi:stack::project::type::name`). */
function urnName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/**
 * What the engine answers a provider function (an invoke) with. The default is the mocks': a
 * registry's digest for `docker.getRegistryImage`, the arguments for anything else; the
 * real-engine tests plug in one that asks the registry.
 */
export type InvokeHandler = (token: string, args: Record<string, any>) => Promise<Record<string, any>>;

export const GET_REGISTRY_IMAGE = "docker:index/getRegistryImage:getRegistryImage";

const mockInvoke: InvokeHandler = async (token, args) =>
    token === GET_REGISTRY_IMAGE ? { ...args, sha256Digest: mockDigest(`registry:${args.name}`) } : args;

async function execute(stack: string, config: Record<string, string>, engine: ResourceEngine = mockEngine, invoke: InvokeHandler = mockInvoke): Promise<Execution> {
    // The Pulumi runtime keeps its state on the global object; start each run from nothing.
    delete (globalThis as any).globalStore;
    delete (globalThis as any).stackResource;

    const execution: Execution = { declared: [] };
    await jest.isolateModulesAsync(async () => {
        const pulumi = await import("@pulumi/pulumi");
        const resources: DeclaredResource[] = [];
        const optsByKey = new Map<string, Record<string, any>>();
        const dependenciesByKey = new Map<string, string[]>();
        await pulumi.runtime.setMocks(
            {
                async newResource(args) {
                    const { plain, secret } = unwrapSecrets(pulumi, args.inputs);
                    const key = `${args.type}::${args.name}`;
                    const resource: DeclaredResource = {
                        type: args.type,
                        name: args.name,
                        inputs: plain,
                        secretInputs: secret,
                        provider: args.provider,
                        // The stack transformation has seen the resource before it is registered.
                        opts: optsByKey.get(key) ?? {},
                        custom: args.custom ?? false,
                        dependencies: dependenciesByKey.get(key) ?? [],
                    };
                    if (args.type === "pulumi:pulumi:Stack") return { id: undefined, state: {} };
                    resources.push(resource);
                    return engine(resource);
                },
                call: (args) => invoke(args.token, args.inputs),
            },
            PROJECT,
            stack,
            false,
        );
        // Pulumi's mocks hand `newResource` no dependencies; the request the SDK sends has them.
        const monitor = pulumi.runtime.getMonitor() as any;
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, callback: unknown) => {
            dependenciesByKey.set(`${req.getType()}::${req.getName()}`, (req.getDependenciesList() as string[]).map(urnName).sort());
            return register(req, callback);
        };
        pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`${PROJECT}:${k}`, v])));
        execution.declared = resources;

        let outputs: Record<string, any> = {};
        await pulumi.runtime.runInPulumiStack(async () => {
            pulumi.runtime.registerStackTransformation((a) => {
                optsByKey.set(`${a.type}::${a.name}`, a.opts);
                return undefined;
            });
            // The program's own error is kept here rather than left to reject the stack,
            // whose internal promises nobody would handle outside the Pulumi CLI.
            try {
                // `export =` in index.ts: the module object is the stack's outputs, as Pulumi `require`s it.
                const program: any = await import("../../index");
                outputs = { ...(program.default ?? program) };
            } catch (err) {
                execution.failure = err;
            }
            return outputs;
        });
        // Let this run's last calls (component outputs) reach its own mocks before the next run starts.
        await pulumi.runtime.disconnect();
        if (execution.failure !== undefined) return;
        execution.run = { resources, outputs, pulumi };
    });
    return execution;
}

/**
 * The runs against Pulumi's mocks made so far in this test file, by stack and config. Such a run
 * depends on nothing else but the project's files, and tests only read what it declared, so
 * tests asking for the same run share one. (A test that changes a folder its config names
 * between two runs gives each run a folder of its own, as a fresh temporary one does.)
 */
const mockRuns = new Map<string, Promise<Execution>>();

function executeOnMocks(stack: string, config: Record<string, string>): Promise<Execution> {
    const key = JSON.stringify([stack, Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
    let execution = mockRuns.get(key);
    if (execution === undefined) {
        execution = execute(stack, config);
        mockRuns.set(key, execution);
    }
    return execution;
}

/**
 * Runs index.ts for `stack` with `config` (keys without namespace, as from `stackConfig`)
 * in a fresh module registry and a fresh Pulumi runtime, each resource handed to `engine`
 * (by default, Pulumi's mocks, once per stack and config in a test file). Rejects with the
 * program's error.
 */
export async function runProgram(stack: string, config: Record<string, string>, engine?: ResourceEngine, invoke?: InvokeHandler): Promise<ProgramRun> {
    const execution = await (engine === undefined ? executeOnMocks(stack, config) : execute(stack, config, engine, invoke));
    if (execution.failure !== undefined) throw execution.failure as Error;
    return execution.run!;
}

/** Runs a program that must fail: returns its error and whatever it declared before failing. */
export async function runFailingProgram(stack: string, config: Record<string, string>): Promise<{ error: Error; declared: DeclaredResource[] }> {
    const execution = await executeOnMocks(stack, config);
    if (execution.failure === undefined) throw new Error("the program ran without error");
    return { error: execution.failure as Error, declared: execution.declared };
}

/** The value of an Output (or a plain value). */
export function valueOf<T>(output: any): Promise<T> {
    if (output && typeof output.apply === "function") return new Promise((resolve) => output.apply(resolve));
    return Promise.resolve(output as T);
}

/** Helpers over one run's declared resources. */
export class Declared {
    constructor(readonly run: ProgramRun) {}

    ofType(type: string): DeclaredResource[] {
        return this.run.resources.filter((r) => r.type === type);
    }

    /** The one resource of `type` named `name`; fails if there is not exactly one. */
    one(type: string, name: string): DeclaredResource {
        const found = this.run.resources.filter((r) => r.type === type && r.name === name);
        if (found.length !== 1) {
            throw new Error(`expected one ${type} named ${name}, found ${found.length}: ${this.run.resources.map((r) => `${r.type}/${r.name}`).join(", ")}`);
        }
        return found[0];
    }

    container(name: string): DeclaredResource {
        return this.one(TYPES.container, name);
    }

    service(name: string): DeclaredResource {
        return this.one(TYPES.service, name);
    }

    /** The containers keyed by their Docker name. */
    containersByDockerName(): Map<string, DeclaredResource> {
        return new Map(this.ofType(TYPES.container).map((c) => [c.inputs.name as string, c]));
    }
}

export const TYPES = {
    container: "docker:index/container:Container",
    network: "docker:index/network:Network",
    volume: "docker:index/volume:Volume",
    remoteImage: "docker:index/remoteImage:RemoteImage",
    image: "docker:index/image:Image",
    service: "docker:index/service:Service",
    secret: "docker:index/secret:Secret",
    serviceConfig: "docker:index/serviceConfig:ServiceConfig",
    password: "random:index/randomPassword:RandomPassword",
    dockerProvider: "pulumi:providers:docker",
    randomProvider: "pulumi:providers:random",
} as const;

/** `KEY=value` strings as a map. */
export function envMap(envs: string[] | undefined): Record<string, string> {
    return Object.fromEntries((envs ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

/** The inputs a resource sends in plain text (its secret inputs left out), as JSON. */
export function plainInputsText(resource: DeclaredResource): string {
    return JSON.stringify(Object.fromEntries(Object.entries(resource.inputs).filter(([key]) => !resource.secretInputs.has(key))));
}

/** The names of the resources a resource was told to wait for (`dependsOn`). */
export function dependsOnNames(resource: DeclaredResource): string[] {
    const deps = resource.opts.dependsOn;
    const list: any[] = deps === undefined ? [] : Array.isArray(deps) ? deps : [deps];
    return list.map((d) => d.__name as string).sort();
}

/** The logical name of a resource's parent component. */
export function parentName(resource: DeclaredResource): string | undefined {
    return resource.opts.parent?.__name;
}

/** Runs the program for `stack` with its committed config and `overrides`, and returns what it declared. */
export async function declareStack(stack: string, overrides: Record<string, unknown> = {}): Promise<Declared> {
    return new Declared(await runProgram(stack, stackConfig(stack, overrides)));
}
