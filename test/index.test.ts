import { Declared, ProgramRun, TYPES, runFailingProgram, runProgram, stackConfig, valueOf } from "./support/program";

describe("the dev stack as a whole", () => {
    let run: ProgramRun;
    let declared: Declared;
    beforeAll(async () => {
        run = await runProgram("dev", stackConfig("dev"));
        declared = new Declared(run);
    });

    it("declares the guide's network, containers and volumes, and nothing else of Docker's", () => {
        expect(declared.ofType(TYPES.network).map((n) => n.inputs.name)).toEqual(["sb-network"]);
        expect([...declared.containersByDockerName().keys()].sort()).toEqual(["jupyter", "sb-app", "sb-elasticsearch", "sb-mysql"]);
        expect(declared.ofType(TYPES.volume).map((v) => v.inputs.name).sort()).toEqual(["esdata1", "jupyter_volume", "mysql_volume"]);
        expect(declared.ofType(TYPES.image).map((i) => i.inputs.imageName)).toEqual(["smartbuildingapp:dev"]);
        expect(declared.ofType(TYPES.remoteImage).map((i) => i.inputs.name).sort()).toEqual([
            "elasticsearch:7.8.1",
            "mysql:5.7",
            "quay.io/jupyter/datascience-notebook:2026-08-24",
        ]);
    });

    it("makes sb-network a bridge network, replaced by deleting it first", () => {
        const network = declared.one(TYPES.network, "network");
        expect(network.inputs).toMatchObject({ name: "sb-network", driver: "bridge" });
        expect(network.opts.deleteBeforeReplace).toBe(true);
    });

    it("puts MySQL, Elasticsearch and the app on sb-network, each under its service name", () => {
        const aliases = Object.fromEntries(
            ["sb-mysql", "sb-elasticsearch", "sb-app"].map((name) => {
                const container = declared.containersByDockerName().get(name)!;
                expect(container.inputs.networksAdvanced).toHaveLength(1);
                expect(container.inputs.networksAdvanced[0].name).toBe("sb-network");
                return [name, container.inputs.networksAdvanced[0].aliases];
            }),
        );
        expect(aliases).toEqual({ "sb-mysql": ["mysql"], "sb-elasticsearch": ["elasticsearch"], "sb-app": ["app"] });
    });

    it("sends every resource through the stack's own Docker and random providers", () => {
        const dockerProvider = declared.one(TYPES.dockerProvider, "dev-docker");
        expect(dockerProvider.inputs.host).toBe("unix:///var/run/docker.sock");
        expect(declared.ofType(TYPES.dockerProvider)).toHaveLength(1);
        expect(declared.ofType(TYPES.randomProvider)).toHaveLength(1);
        const custom = run.resources.filter((r) => r.type.startsWith("docker:") || r.type.startsWith("random:"));
        expect(custom.length).toBeGreaterThan(10);
        for (const resource of custom) {
            const expected = resource.type.startsWith("docker:") ? "pulumi:providers:docker::dev-docker" : "pulumi:providers:random::dev-random";
            expect({ resource: resource.name, provider: resource.provider }).toEqual({ resource: resource.name, provider: expect.stringContaining(expected) });
        }
    });

    it("gives every container a restart policy, a fixed name replaced delete-first, and labels naming its stack", () => {
        for (const container of declared.ofType(TYPES.container)) {
            expect(container.inputs.restart).toBe("unless-stopped");
            expect(container.opts.deleteBeforeReplace).toBe(true);
            const labels = Object.fromEntries(container.inputs.labels.map((l: { label: string; value: string }) => [l.label, l.value]));
            expect(labels).toMatchObject({ "org.smartbuilding.stack": "dev", "org.smartbuilding.environment": "development" });
        }
    });

    it("exports the services' addresses, with every password and token secret", async () => {
        expect(Object.keys(run.outputs).sort()).toEqual([
            "appUrl",
            "elasticsearchUrl",
            "jupyterContainerName",
            "jupyterUrl",
            "jupyterVolumeName",
            "mysqlDatabase",
            "mysqlHost",
            "mysqlPassword",
            "mysqlPort",
            "mysqlRootPassword",
            "mysqlUser",
            "networkName",
        ]);
        const secrets = ["mysqlPassword", "mysqlRootPassword", "jupyterUrl"];
        for (const [name, output] of Object.entries(run.outputs)) {
            const secret = output && typeof output.apply === "function" ? await run.pulumi.isSecret(output) : false;
            expect({ name, secret }).toEqual({ name, secret: secrets.includes(name) });
            if (!secrets.includes(name)) expect(JSON.stringify(await valueOf(output))).not.toMatch(/generated-/);
        }
    });
});

describe("a stack with bad config", () => {
    it("stops before declaring any resource, listing every problem", async () => {
        const { error, declared } = await runFailingProgram("dev", stackConfig("dev", { mysqlHostPort: 99999, elasticsearchHeapMax: "lots", networkName: "" }));
        expect(error.message).toMatch(/^Invalid stack configuration \(3 problems\); nothing was declared:/);
        expect(error.message).toContain('smart-building:mysqlHostPort: "99999" is not valid; expected an integer port from 1 to 65535.');
        expect(error.message).toContain('smart-building:elasticsearchHeapMax: "lots" is not valid');
        expect(error.message).toContain('smart-building:networkName: "" is not valid');
        expect(declared).toEqual([]);
    });
});
