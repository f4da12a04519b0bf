import { Declared, ProgramRun, TYPES, committedStacks, envMap, projectFile, runProgram, stackConfig, stackFile, PROJECT, declareStack } from "./support/program";

const stacks = committedStacks();

it("commits a dev, a prod and a swarm stack", () => {
    expect(stacks).toEqual(["dev", "prod", "swarm"]);
});

/** The host ports a stack publishes, with the container or swarm service publishing each. */
function hostPorts(declared: Declared): [number, string][] {
    const containers = declared
        .ofType(TYPES.container)
        .flatMap((c) => (c.inputs.ports ?? []).map((p: { external: number }) => [p.external, c.inputs.name] as [number, string]));
    const services = declared
        .ofType(TYPES.service)
        .flatMap((s) => (s.inputs.endpointSpec?.ports ?? []).filter((p: { publishedPort?: number }) => p.publishedPort).map((p: { publishedPort: number }) => [p.publishedPort, s.inputs.name] as [number, string]));
    return [...containers, ...services];
}

describe.each(stacks)("the %s stack", (stack) => {
    let run: ProgramRun;
    let declared: Declared;
    beforeAll(async () => {
        run = await runProgram(stack, stackConfig(stack));
        declared = new Declared(run);
    });

    it("diffs no data volume on its labels: one made by Compose or kept by a destroy keeps those it was made with, and labels would replace it", () => {
        for (const volume of declared.ofType(TYPES.volume)) expect({ volume: volume.name, ignoreChanges: volume.opts.ignoreChanges }).toEqual({ volume: volume.name, ignoreChanges: ["labels"] });
    });

    it("sets only keys that Pulumi.yaml declares", () => {
        const declaredKeys = Object.keys(projectFile().config);
        for (const key of Object.keys(stackFile(stack))) {
            if (key.startsWith("pulumi:")) continue;
            expect(key.startsWith(`${PROJECT}:`)).toBe(true);
            expect(declaredKeys).toContain(key.slice(PROJECT.length + 1));
        }
    });

    it("disables default providers, so that no resource can land on an engine the stack did not name", () => {
        expect(stackFile(stack)["pulumi:disable-default-providers"]).toEqual(["*"]);
    });

    it("sends every resource through the stack's own providers, built from its config", () => {
        const provider = declared.one(TYPES.dockerProvider, `${stack}-docker`);
        expect(provider.inputs.host).toBe(stackConfig(stack).dockerHost);
        for (const resource of run.resources.filter((r) => !r.type.startsWith("pulumi:") && !r.type.startsWith("smart-building:"))) {
            const expected = resource.type.startsWith("docker:") ? `pulumi:providers:docker::${stack}-docker::` : `pulumi:providers:random::${stack}-random::`;
            expect(`${resource.name} -> ${resource.provider}`).toContain(expected);
        }
    });

    it("gives every container, service, secret, volume and network a unique name", () => {
        for (const type of [TYPES.container, TYPES.service, TYPES.secret, TYPES.serviceConfig, TYPES.volume, TYPES.network]) {
            const names = declared.ofType(type).map((r) => r.inputs.name);
            expect(new Set(names).size).toBe(names.length);
        }
    });

    it("publishes each host port once", () => {
        const ports = hostPorts(declared).map(([port]) => port);
        expect(new Set(ports).size).toBe(ports.length);
    });

    it("labels every container, service, secret and volume with the stack and its environment", () => {
        const environment = stackConfig(stack).environment;
        const labelled = [TYPES.container, TYPES.service, TYPES.secret, TYPES.volume].flatMap((type) => declared.ofType(type));
        const labelLists = [
            ...labelled.map((r) => r.inputs.labels),
            // A service's tasks and the volumes its mounts create carry them too.
            ...declared.ofType(TYPES.service).flatMap((s) => [
                s.inputs.taskSpec.containerSpec.labels,
                ...s.inputs.taskSpec.containerSpec.mounts.filter((m: { type: string }) => m.type === "volume").map((m: { volumeOptions: { labels: unknown } }) => m.volumeOptions.labels),
            ]),
        ];
        expect(labelLists.length).toBeGreaterThan(0);
        for (const list of labelLists) {
            const labels = Object.fromEntries(list.map((l: { label: string; value: string }) => [l.label, l.value]));
            expect(labels).toMatchObject({ "org.smartbuilding.stack": stack, "org.smartbuilding.environment": environment });
        }
    });
});

describe("the prod stack", () => {
    let declared: Declared;
    beforeAll(async () => {
        declared = await declareStack("prod");
    });

    it("prefixes every name, so it can share a Docker host with dev", () => {
        const names = [TYPES.container, TYPES.volume, TYPES.network].flatMap((t) => declared.ofType(t).map((r) => r.inputs.name as string));
        expect(names.sort()).toEqual([
            "prod-backup_volume",
            "prod-esdata1",
            "prod-mysql_volume",
            "prod-sb-app",
            "prod-sb-elasticsearch",
            "prod-sb-elasticsearch-backup",
            "prod-sb-mysql",
            "prod-sb-mysql-backup",
            "prod-sb-network",
        ]);
    });

    it("publishes MySQL and Elasticsearch on loopback only, and the app on every interface", () => {
        expect(hostPorts(declared).sort()).toEqual([
            [13306, "prod-sb-mysql"],
            [19200, "prod-sb-elasticsearch"],
            [19300, "prod-sb-elasticsearch"],
            [8080, "prod-sb-app"],
        ]);
        for (const name of ["prod-sb-mysql", "prod-sb-elasticsearch"]) {
            for (const port of declared.containersByDockerName().get(name)!.inputs.ports) expect(port.ip).toBe("127.0.0.1");
        }
        expect(declared.containersByDockerName().get("prod-sb-app")!.inputs.ports[0].ip).toBe("0.0.0.0");
    });

    it("protects its data volumes and keeps them on destroy", () => {
        for (const volume of declared.ofType(TYPES.volume)) expect(volume.opts).toMatchObject({ protect: true, retainOnDelete: true });
    });

    it("runs the dashboard baked into its image, with no host folder bound", () => {
        expect(declared.containersByDockerName().get("prod-sb-app")!.inputs.mounts).toEqual([]);
    });

    it("pins exact image versions, with an Elasticsearch that has the Log4Shell fixes", () => {
        expect(declared.ofType(TYPES.remoteImage).map((i) => i.inputs.name).sort()).toEqual(["elasticsearch:7.17.28", "mysql:5.7.44"]);
    });

    it("leaves the Jupyter workspace out", () => {
        expect(declared.containersByDockerName().has("prod-jupyter")).toBe(false);
        expect(declared.ofType(TYPES.container).map((c) => c.inputs.name).sort()).toEqual([
            "prod-sb-app",
            "prod-sb-elasticsearch",
            "prod-sb-elasticsearch-backup",
            "prod-sb-mysql",
            "prod-sb-mysql-backup",
        ]);
    });

    it("has its own database user and a larger Elasticsearch heap", () => {
        expect(envMap(declared.containersByDockerName().get("prod-sb-mysql")!.inputs.envs)).toMatchObject({ MYSQL_USER: "BAS_PROD_RW", MYSQL_DATABASE: "bas_prod" });
        expect(envMap(declared.containersByDockerName().get("prod-sb-elasticsearch")!.inputs.envs).ES_JAVA_OPTS).toMatch(/^-Xms1g -Xmx1g /);
    });
});

it("lets dev and prod share one Docker host: no name and no host port in common", async () => {
    // One run at a time: each run owns the Pulumi runtime while it lasts.
    const dev = await declareStack("dev");
    const prod = await declareStack("prod");
    const names = (d: Declared) => new Set([TYPES.container, TYPES.volume, TYPES.network].flatMap((t) => d.ofType(t).map((r) => r.inputs.name as string)));
    const ports = (d: Declared) => new Set(hostPorts(d).map(([p]) => p));
    expect([...names(dev)].filter((n) => names(prod).has(n))).toEqual([]);
    expect([...ports(dev)].filter((p) => ports(prod).has(p))).toEqual([]);
});
