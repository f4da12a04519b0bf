import { STATEFUL_UPDATE, STATELESS_ROLLBACK, STATELESS_UPDATE } from "../components/swarmTarget";
import { Declared, DeclaredResource, ProgramRun, TYPES, dependsOnNames, mockDigest, plainInputsText, runFailingProgram, runProgram, stackConfig } from "./support/program";

/** Known secret values, so that the tests can look for them in everything declared. */
const SECRETS = {
    mysqlRootPassword: "root-password-for-the-swarm-test",
    mysqlPassword: "app-password-for-the-swarm-test",
    jupyterToken: "a-token-for-the-swarm-test-0123456789abcdef",
    registryPassword: "registry-password-for-the-swarm-test",
};

async function swarmStack(overrides: Record<string, unknown> = {}): Promise<{ run: ProgramRun; declared: Declared }> {
    const run = await runProgram("swarm", stackConfig("swarm", { ...SECRETS, registryUsername: "deploy", ...overrides }));
    return { run, declared: new Declared(run) };
}

const SERVICES = ["mysql-service", "elasticsearch-service", "app-service", "jupyter-service", "backup-mysql-service", "backup-elasticsearch-service", "backup-notebooks-service"];
const STATEFUL = SERVICES.filter((s) => s !== "app-service");

describe("the committed swarm stack", () => {
    let run: ProgramRun;
    let declared: Declared;
    beforeAll(async () => ({ run, declared } = await swarmStack()));
    const service = (name: string) => declared.service(name).inputs;
    const container = (name: string) => service(name).taskSpec.containerSpec;

    it("declares every service of the engine stacks as a swarm service, and no container, volume or pulled image", () => {
        expect(declared.ofType(TYPES.service).map((s) => s.name).sort()).toEqual([...SERVICES].sort());
        expect(declared.ofType(TYPES.container)).toEqual([]);
        // Volumes are created by the services' mounts on the data node (components/target.ts).
        expect(declared.ofType(TYPES.volume)).toEqual([]);
        expect(declared.ofType(TYPES.remoteImage)).toEqual([]);
    });

    it("puts every service on an attachable overlay network under the aliases of the guide's compose file", () => {
        expect(declared.one(TYPES.network, "network").inputs).toMatchObject({ name: "swarm-sb-network", driver: "overlay", attachable: true });
        const aliases = Object.fromEntries(SERVICES.filter((s) => s !== "jupyter-service" && s !== "backup-notebooks-service").map((s) => [s, service(s).taskSpec.networksAdvanceds]));
        expect(aliases["mysql-service"]).toEqual([{ id: "network-id", aliases: ["mysql"] }]);
        expect(aliases["elasticsearch-service"]).toEqual([{ id: "network-id", aliases: ["elasticsearch"] }]);
        expect(aliases["app-service"]).toEqual([{ id: "network-id", aliases: ["app"] }]);
        expect(container("app-service").env).toMatchObject({ MYSQL_HOST: "mysql", ELASTICSEARCH_URL: "http://elasticsearch:9200" });
    });

    it("runs one task of each stateful service on the data node, stopped before its replacement starts", () => {
        for (const name of STATEFUL) {
            expect({ name, mode: service(name).mode }).toEqual({ name, mode: { replicated: { replicas: 1 } } });
            expect({ name, placement: service(name).taskSpec.placement }).toEqual({ name, placement: { constraints: ["node.labels.org.smartbuilding.data==true"] } });
            expect({ name, update: service(name).updateConfig }).toEqual({ name, update: STATEFUL_UPDATE });
        }
        expect(STATEFUL_UPDATE).toMatchObject({ order: "stop-first", parallelism: 1 });
    });

    it("runs 2 app tasks anywhere, rolled one at a time start-first and rolled back on failure", () => {
        const app = service("app-service");
        expect(app.mode).toEqual({ replicated: { replicas: 2 } });
        expect(app.taskSpec.placement).toBeUndefined();
        expect(app.updateConfig).toEqual(STATELESS_UPDATE);
        expect(STATELESS_UPDATE).toMatchObject({ order: "start-first", parallelism: 1, failureAction: "rollback" });
        expect(app.rollbackConfig).toEqual(STATELESS_ROLLBACK);
    });

    it("waits for each store to converge before the app, and for each store before its backup", () => {
        expect(dependsOnNames(declared.service("app-service"))).toEqual(["elasticsearch-service", "mysql-service"]);
        expect(dependsOnNames(declared.service("backup-mysql-service"))).toEqual(["mysql-service"]);
        for (const name of SERVICES) {
            expect({ name, converge: service(name).convergeConfig?.timeout }).toEqual({ name, converge: expect.stringMatching(/^\d+s$/) });
        }
    });

    it("runs each pulled image pinned to the digest its registry gives now, as the provider reads a service's image back", () => {
        const config = stackConfig("swarm");
        expect(container("mysql-service").image).toBe(`${config.mysqlImage}@${mockDigest(`registry:${config.mysqlImage}`)}`);
        expect(container("elasticsearch-service").image).toBe(`${config.elasticsearchImage}@${mockDigest(`registry:${config.elasticsearchImage}`)}`);
        const jupyter = `${config.jupyterImage}:${config.jupyterTag}`;
        expect(container("jupyter-service").image).toBe(`${jupyter}@${mockDigest(`registry:${jupyter}`)}`);
        // The backups run their store's image, pinned the same way.
        expect(container("backup-mysql-service").image).toBe(container("mysql-service").image);
    });

    it("pushes the app image to the registry and runs it by the digest the push returns", () => {
        const image = declared.one(TYPES.image, "app-image").inputs;
        expect(image.imageName).toBe("127.0.0.1:5000/smartbuildingapp:swarm");
        expect(image.skipPush).not.toBe(true);
        expect(image.registry).toMatchObject({ server: "127.0.0.1:5000", username: "deploy" });
        expect(container("app-service").image).toBe(`127.0.0.1:5000/smartbuildingapp@${mockDigest("app-image")}`);
    });

    it("keeps the registry password a secret: the registry settings that hold it are sent encrypted", () => {
        const image = declared.one(TYPES.image, "app-image");
        expect(image.inputs.registry.password).toBe(SECRETS.registryPassword);
        expect(image.secretInputs.has("registry")).toBe(true);
    });

    it("hands the registry's login to the services whose image the registry serves, and to no other", () => {
        // The app is pushed there; MySQL and Elasticsearch come from Docker Hub, Jupyter from quay.io: those pull anonymously.
        expect(service("app-service").auth).toEqual({ serverAddress: "127.0.0.1:5000", username: "deploy", password: SECRETS.registryPassword });
        for (const name of STATEFUL) expect({ name, auth: service(name).auth }).toEqual({ name, auth: undefined });
    });

    it("keeps the registry password a secret in the services' auth and the provider's registry login", () => {
        expect(declared.service("app-service").secretInputs.has("auth")).toBe(true);
        const provider = declared.one(TYPES.dockerProvider, "swarm-docker");
        // Pulumi hands a provider a structured setting as JSON text.
        expect(JSON.parse(provider.inputs.registryAuth)).toEqual([{ address: "127.0.0.1:5000", username: "deploy", password: SECRETS.registryPassword }]);
        expect(provider.secretInputs.has("registryAuth")).toBe(true);
    });

    it("mounts each secret as a swarm secret under /run/secrets, readable by the user that reads it alone", () => {
        const mounts = (name: string) => container(name).secrets.map((s: Record<string, unknown>) => ({ file: s.fileName, uid: s.fileUid, gid: s.fileGid, mode: s.fileMode }));
        expect(mounts("mysql-service")).toEqual([
            { file: "mysql_password", uid: "0", gid: "0", mode: 0o400 },
            { file: "mysql_root_password", uid: "0", gid: "0", mode: 0o400 },
        ]);
        expect(mounts("app-service")).toEqual([{ file: "mysql_password", uid: "1000", gid: "1000", mode: 0o400 }]);
        expect(mounts("jupyter-service")).toEqual([{ file: "jupyter_token", uid: "1000", gid: "1000", mode: 0o400 }]);
        expect(mounts("backup-mysql-service")).toEqual([{ file: "mysql_root_password", uid: "0", gid: "0", mode: 0o400 }]);
        expect(container("mysql-service").env).toMatchObject({ MYSQL_PASSWORD_FILE: "/run/secrets/mysql_password", MYSQL_ROOT_PASSWORD_FILE: "/run/secrets/mysql_root_password" });
        expect(container("jupyter-service").env).toMatchObject({ JUPYTER_TOKEN_FILE: "/run/secrets/jupyter_token" });
    });

    it("names each secret after its service, its file and a keyed hash of its value, and keeps the value secret", () => {
        const secrets = declared.ofType(TYPES.secret);
        expect(secrets.map((s) => s.inputs.name).sort()).toEqual([
            expect.stringMatching(/^swarm-jupyter-jupyter-token-[0-9a-f]{12}$/),
            expect.stringMatching(/^swarm-sb-app-mysql-password-[0-9a-f]{12}$/),
            expect.stringMatching(/^swarm-sb-mysql-backup-mysql-root-password-[0-9a-f]{12}$/),
            expect.stringMatching(/^swarm-sb-mysql-mysql-password-[0-9a-f]{12}$/),
            expect.stringMatching(/^swarm-sb-mysql-mysql-root-password-[0-9a-f]{12}$/),
        ]);
        for (const s of secrets) {
            expect({ name: s.name, secretData: s.secretInputs.has("data") }).toEqual({ name: s.name, secretData: true });
            expect({ name: s.name, secretName: s.secretInputs.has("name") }).toEqual({ name: s.name, secretName: false });
        }
        const data = (name: string) => Buffer.from(declared.one(TYPES.secret, name).inputs.data, "base64").toString("utf8");
        expect(data("jupyter-service-jupyter-token")).toBe(SECRETS.jupyterToken);
        expect(data("app-service-mysql-password")).toBe(SECRETS.mysqlPassword);
        // The service mounts the secret it declares, by id and name.
        const mount = container("jupyter-service").secrets[0];
        expect(mount.secretName).toBe(declared.one(TYPES.secret, "jupyter-service-jupyter-token").inputs.name);
    });

    it("puts no secret value in plain text in any resource: no env, label, name or command carries one", () => {
        for (const r of run.resources) {
            const text = plainInputsText(r);
            for (const [key, value] of Object.entries(SECRETS)) {
                expect({ resource: `${r.type} ${r.name}`, key, found: text.includes(value) }).toEqual({ resource: `${r.type} ${r.name}`, key, found: false });
            }
        }
    });

    it("hands the backup script over as a swarm config, executable, named after its content", () => {
        const configs = declared.ofType(TYPES.serviceConfig);
        expect(configs.map((c) => c.name).sort()).toEqual(["backup-elasticsearch-service-script", "backup-mysql-service-script", "backup-notebooks-service-script"]);
        expect(container("backup-mysql-service").configs).toEqual([
            expect.objectContaining({ fileName: "/usr/local/bin/sb-backup", fileUid: "0", fileGid: "0", fileMode: 0o555 }),
        ]);
        expect(container("backup-mysql-service").commands).toEqual(["/bin/bash", "/usr/local/bin/sb-backup"]);
        expect(container("backup-mysql-service").args).toEqual(["schedule"]);
    });

    it("keeps the data on named volumes created by the mounts, labelled with the stack and service", () => {
        expect(container("mysql-service").mounts).toEqual([
            {
                type: "volume",
                source: "swarm-mysql_volume",
                target: "/var/lib/mysql",
                readOnly: false,
                volumeOptions: { labels: expect.arrayContaining([{ label: "org.smartbuilding.service", value: "mysql" }, { label: "org.smartbuilding.stack", value: "swarm" }]) },
            },
        ]);
    });

    it("publishes the app and Jupyter through the routing mesh, and no data port (production)", () => {
        expect(service("app-service").endpointSpec).toEqual({ mode: "vip", ports: [{ targetPort: 3000, publishedPort: 8081, publishMode: "ingress", protocol: "tcp" }] });
        expect(service("jupyter-service").endpointSpec).toEqual({ mode: "vip", ports: [{ targetPort: 8888, publishedPort: 5001, publishMode: "ingress", protocol: "tcp" }] });
        expect(service("mysql-service").endpointSpec).toEqual({ mode: "vip", ports: [] });
        expect(service("elasticsearch-service").endpointSpec).toEqual({ mode: "vip", ports: [] });
    });

    it("gives each task its grace period, the image's stop signal and the app liveness-only health check of its image", () => {
        // As the provider reads a service's durations back (shortDur): "120s" would change on every up.
        expect(container("mysql-service").stopGracePeriod).toBe("2m");
        expect(container("app-service").stopGracePeriod).toBe("10s");
        // No health check on the app service: the image's own, /health/live, which does not fail while MySQL restarts.
        expect(container("app-service").healthcheck).toBeUndefined();
        expect(container("app-service").init).toBe(true);
    });
});

describe("the swarm settings a stack's config changes", () => {
    it("take the endpoint and publish modes from config; host mode leaves the app's port per task to the engine", async () => {
        const { declared } = await swarmStack({ swarmEndpointMode: "dnsrr", swarmPublishMode: "host", appReplicas: 3 });
        const app = declared.service("app-service").inputs;
        expect(app.endpointSpec).toEqual({ mode: "dnsrr", ports: [{ targetPort: 3000, publishMode: "host", protocol: "tcp" }] });
        expect(app.mode).toEqual({ replicated: { replicas: 3 } });
        // One stateful task at a time, stopped first: it keeps its port.
        expect(declared.service("jupyter-service").inputs.endpointSpec).toEqual({ mode: "dnsrr", ports: [{ targetPort: 8888, publishedPort: 5001, publishMode: "host", protocol: "tcp" }] });
    });

    it("name a changed secret anew, so the service rolls onto a new swarm secret, and leave the others' names alone", async () => {
        const names = async (overrides: Record<string, unknown>) =>
            Object.fromEntries((await swarmStack(overrides)).declared.ofType(TYPES.secret).map((s: DeclaredResource) => [s.name, s.inputs.name]));
        const before = await names({});
        const after = await names({ jupyterToken: "another-token-for-the-swarm-test-0123456789" });
        expect(after["jupyter-service-jupyter-token"]).not.toBe(before["jupyter-service-jupyter-token"]);
        expect({ ...after, "jupyter-service-jupyter-token": "" }).toEqual({ ...before, "jupyter-service-jupyter-token": "" });
        // New labels replace a secret too: it comes with a new name, so it never clashes with the old one.
        const relabelled = await names({ environment: "development" });
        for (const key of Object.keys(before)) expect(relabelled[key]).not.toBe(before[key]);
    });

    it("use the data node label from config", async () => {
        const { declared } = await swarmStack({ swarmDataNodeLabel: "storage" });
        expect(declared.service("mysql-service").inputs.taskSpec.placement).toEqual({ constraints: ["node.labels.storage==true"] });
    });

    it("push without credentials to a registry without authentication, and give the services and the provider no login", async () => {
        const { declared } = await swarmStack({ registryUsername: "", registryPassword: undefined });
        expect(declared.one(TYPES.image, "app-image").inputs.registry).toEqual({ server: "127.0.0.1:5000" });
        for (const name of SERVICES) expect({ name, auth: declared.service(name).inputs.auth }).toEqual({ name, auth: undefined });
        expect(declared.one(TYPES.dockerProvider, "swarm-docker").inputs.registryAuth).toBeUndefined();
    });

    it("give the login to every service when the registry serves every image, the backups' included, and pin each there with it", async () => {
        const { run, declared } = await swarmStack({
            registryServer: "registry.example.com:5000",
            mysqlImage: "registry.example.com:5000/mysql:5.7.44",
            elasticsearchImage: "registry.example.com:5000/elasticsearch:7.17.28",
            jupyterImage: "registry.example.com:5000/jupyter/datascience-notebook",
        });
        const login = { serverAddress: "registry.example.com:5000", username: "deploy", password: SECRETS.registryPassword };
        for (const name of SERVICES) {
            expect({ name, auth: declared.service(name).inputs.auth }).toEqual({ name, auth: login });
            expect({ name, secret: declared.service(name).secretInputs.has("auth") }).toEqual({ name, secret: true });
        }
        // The provider's look-up of each pulled image's digest logs in to the registry that serves it.
        expect(JSON.parse(declared.one(TYPES.dockerProvider, "swarm-docker").inputs.registryAuth)).toEqual([{ address: "registry.example.com:5000", username: "deploy", password: SECRETS.registryPassword }]);
        for (const r of run.resources) expect({ resource: r.name, found: plainInputsText(r).includes(SECRETS.registryPassword) }).toEqual({ resource: r.name, found: false });
    });

    it("give the login to a derived Jupyter image's service, which the registry serves, and not to an image of another registry named alike", async () => {
        const derived = (await swarmStack({ jupyterPipPackages: ["nltk"] })).declared;
        expect(derived.service("jupyter-service").inputs.auth).toMatchObject({ serverAddress: "127.0.0.1:5000", username: "deploy" });
        // 127.0.0.1:50001 is another registry, whatever its name starts with.
        const other = (await swarmStack({ mysqlImage: "127.0.0.1:50001/mysql:5.7.44" })).declared;
        expect(other.service("mysql-service").inputs.auth).toBeUndefined();
    });

    it("push a derived Jupyter image too, and run it by digest", async () => {
        const { declared } = await swarmStack({ jupyterPipPackages: ["nltk"] });
        expect(declared.one(TYPES.image, "jupyter-image").inputs.imageName).toBe("127.0.0.1:5000/jupyter_nltk:swarm");
        expect(declared.service("jupyter-service").inputs.taskSpec.containerSpec.image).toBe(`127.0.0.1:5000/jupyter_nltk@${mockDigest("jupyter-image")}`);
    });
});

describe("a swarm stack's bad config", () => {
    async function problemsFor(overrides: Record<string, unknown>): Promise<string> {
        const { error, declared } = await runFailingProgram("swarm", stackConfig("swarm", overrides));
        expect(declared).toEqual([]);
        return error.message;
    }

    it("names every key a swarm cannot honour, all at once", async () => {
        const message = await problemsFor({
            registryServer: "",
            publishAddress: "127.0.0.1",
            dataPublishAddress: "127.0.0.1",
            swarmEndpointMode: "dnsrr",
            appContentDir: "app/dashboard",
            registryUsername: "deploy",
        });
        expect(message).toContain('smart-building:registryServer: "" is not valid; expected a registry address such as "registry.example.com:5000"; target "swarm" needs one');
        expect(message).toContain('smart-building:publishAddress "127.0.0.1" cannot be honoured with smart-building:target "swarm"');
        expect(message).toContain('smart-building:dataPublishAddress "127.0.0.1" cannot be honoured');
        expect(message).toContain('smart-building:swarmEndpointMode "dnsrr" cannot be used with smart-building:swarmPublishMode "ingress"');
        expect(message).toContain('smart-building:appContentDir "app/dashboard" binds a folder of this machine');
        expect(message).toContain("smart-building:registryUsername \"deploy\" is set without smart-building:registryPassword");
        expect(message).toMatch(/\(6 problems\)/);
    });

    it("refuses values outside what each swarm key allows", async () => {
        const message = await problemsFor({ target: "kubernetes", swarmPublishMode: "mesh", appReplicas: 0, swarmDataNodeLabel: "a label" });
        expect(message).toContain('smart-building:target: "kubernetes" is not valid; expected one of "engine", "swarm"');
        expect(message).toContain('smart-building:swarmPublishMode: "mesh" is not valid; expected one of "ingress", "host"');
        expect(message).toContain('smart-building:appReplicas: "0" is not valid; expected an integer from 1 to 100');
        expect(message).toContain('smart-building:swarmDataNodeLabel: "a label" is not valid');
    });

    it("checks the swarm keys on an engine stack too, before anyone moves it to a swarm", async () => {
        const { error } = await runFailingProgram("dev", stackConfig("dev", { swarmEndpointMode: "round-robin", registryServer: "http://registry" }));
        expect(error.message).toContain('smart-building:swarmEndpointMode: "round-robin" is not valid');
        expect(error.message).toContain('smart-building:registryServer: "http://registry" is not valid');
    });
});
