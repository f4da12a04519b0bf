import type { PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import {
    allowedCapabilities,
    allowedCapabilitiesAdvisory,
    fixedNamesReplacedDeleteFirst,
    logRotation,
    logRotationAdvisory,
    memoryLimit,
    memoryLimitAdvisory,
    noNewPrivileges,
    noNewPrivilegesAdvisory,
    healthCheck,
    noPrivilegedContainers,
    noSecretsInEnv,
    pinnedImages,
    policies,
    productionDataPortsOnLoopback,
    productionDataVolumesProtected,
    restartPolicy,
} from "../policy/rules";
import { ProgramRun, TYPES, committedStacks, runProgram, stackConfig } from "./support/program";

interface Candidate {
    type: string;
    props: Record<string, any>;
    opts?: Partial<PolicyResourceOptions>;
}

/** Runs one policy over one resource as the policy engine would, and returns the violations it reports. */
async function violations(policy: ResourceValidationPolicy, resource: Candidate): Promise<string[]> {
    const reported: string[] = [];
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : policy.validateResource ? [policy.validateResource] : [];
    for (const validate of validations) {
        const args: ResourceValidationArgs = {
            type: resource.type,
            props: resource.props,
            urn: `urn:pulumi:test::smart-building::${resource.type}::r`,
            name: "r",
            opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], ...resource.opts },
            stackTags: new Map(),
            isType: (cls) => (cls as any).__pulumiType === resource.type,
            asType: ((cls: any) => (cls.__pulumiType === resource.type ? resource.props : undefined)) as ResourceValidationArgs["asType"],
            getConfig: <T extends object>() => ({}) as T,
            notApplicable: (() => undefined) as unknown as ResourceValidationArgs["notApplicable"],
        };
        await validate(args, (message) => reported.push(message));
    }
    return reported;
}

/** A container that passes every rule; tests change one thing at a time. */
function goodContainer(overrides: Record<string, any> = {}): Candidate {
    return {
        type: TYPES.container,
        props: {
            name: "sb-mysql",
            image: `sha256:${"a".repeat(64)}`,
            restart: "unless-stopped",
            healthcheck: { tests: ["CMD-SHELL", "true"] },
            envs: ["MYSQL_USER=app", "MYSQL_PASSWORD_FILE=/run/secrets/p"],
            ports: [{ internal: 3306, external: 3306, ip: "0.0.0.0" }],
            labels: [{ label: "org.smartbuilding.environment", value: "development" }],
            memory: 512,
            logDriver: "json-file",
            logOpts: { "max-size": "10m", "max-file": "3" },
            securityOpts: ["no-new-privileges:true"],
            capabilities: { drops: ["ALL"], adds: ["CHOWN", "SETUID", "SETGID"] },
            ...overrides,
        },
        opts: { deleteBeforeReplace: true },
    };
}

const production = [{ label: "org.smartbuilding.environment", value: "production" }];

describe("the policy rules", () => {
    it("let a well-made container through every rule", async () => {
        for (const policy of policies) expect({ policy: policy.name, found: await violations(policy, goodContainer()) }).toEqual({ policy: policy.name, found: [] });
    });

    it("are all mandatory, so a violation stops the update, except the advisory twins of the runtime rules for stacks outside production", () => {
        const advisory = policies.filter((p) => p.enforcementLevel === "advisory").map((p) => p.name);
        expect(advisory).toEqual(["memory-limit-advisory", "log-rotation-advisory", "no-new-privileges-advisory", "allowed-capabilities-advisory"]);
        expect(policies.filter((p) => p.enforcementLevel !== "advisory").map((p) => p.enforcementLevel)).toEqual(policies.filter((p) => p.enforcementLevel !== "advisory").map(() => "mandatory"));
        expect(new Set(policies.map((p) => p.name)).size).toBe(policies.length);
    });

    describe("no-privileged-containers", () => {
        it("refuses a privileged container", async () => {
            expect(await violations(noPrivilegedContainers, goodContainer({ privileged: true }))).toEqual([
                'Container "sb-mysql" is privileged; drop "privileged" and grant only what it needs.',
            ]);
        });
    });

    describe("pinned-images", () => {
        it.each(["mysql", "mysql:latest", "quay.io/jupyter/datascience-notebook"])("refuses to pull %j", async (name) => {
            expect(await violations(pinnedImages, { type: TYPES.remoteImage, props: { name } })).toEqual([
                `Image "${name}" is not pinned; use a tag or digest other than "latest" (e.g. "mysql:5.7.44").`,
            ]);
        });

        it("accepts a tag or a digest", async () => {
            expect(await violations(pinnedImages, { type: TYPES.remoteImage, props: { name: "mysql:5.7" } })).toEqual([]);
            expect(await violations(pinnedImages, { type: TYPES.remoteImage, props: { name: `mysql@sha256:${"c".repeat(64)}` } })).toEqual([]);
        });

        it("refuses to build an untagged image", async () => {
            expect(await violations(pinnedImages, { type: TYPES.image, props: { imageName: "smartbuildingapp" } })).toEqual([
                'Built image "smartbuildingapp" is not tagged; use a tag or digest other than "latest" (e.g. "mysql:5.7.44").',
            ]);
            expect(await violations(pinnedImages, { type: TYPES.image, props: { imageName: "smartbuildingapp:dev" } })).toEqual([]);
        });
    });

    describe("restart-policy", () => {
        it.each([[undefined], ["no"], [""]])("refuses restart %j", async (restart) => {
            expect(await violations(restartPolicy, goodContainer({ restart }))).toEqual([
                'Container "sb-mysql" has no restart policy; set "restart" to "unless-stopped", "always" or "on-failure".',
            ]);
        });
    });

    describe("health-check", () => {
        it("refuses a container with neither a health check nor wait", async () => {
            expect(await violations(healthCheck, goodContainer({ healthcheck: undefined }))).toEqual([
                'Container "sb-mysql" has no health check; declare "healthcheck", or set "wait" to rely on the image\'s own.',
            ]);
        });

        it('counts a health check of "NONE" as none', async () => {
            expect(await violations(healthCheck, goodContainer({ healthcheck: { tests: ["NONE"] } }))).toHaveLength(1);
        });

        it("accepts the image's own health check when Pulumi waits on it", async () => {
            expect(await violations(healthCheck, goodContainer({ healthcheck: undefined, wait: true }))).toEqual([]);
        });
    });

    describe("no-secrets-in-env", () => {
        it.each(["MYSQL_ROOT_PASSWORD=x", "JUPYTER_TOKEN=abc", "API_KEY=k", "app_secret=s", "DB_PASSWD="])("refuses %j", async (env) => {
            const name = env.split("=")[0];
            expect(await violations(noSecretsInEnv, goodContainer({ envs: ["PORT=3000", env] }))).toEqual([
                `Container "sb-mysql" sets ${name} in its environment; upload the value as a file and pass ${name}_FILE instead.`,
            ]);
        });

        it("accepts variables that point at secret files, and ordinary settings", async () => {
            expect(
                await violations(noSecretsInEnv, goodContainer({ envs: ["MYSQL_ROOT_PASSWORD_FILE=/run/secrets/r", "JUPYTER_TOKEN_FILE=/run/secrets/t", "MYSQL_USER=BAS_DEV_RW"] })),
            ).toEqual([]);
        });
    });

    describe("fixed-names-replaced-delete-first", () => {
        it("refuses a named container replaced create-first", async () => {
            expect(await violations(fixedNamesReplacedDeleteFirst, { ...goodContainer(), opts: {} })).toEqual([
                'Container "sb-mysql" has a fixed name but no "deleteBeforeReplace"; a replacement would clash with it.',
            ]);
        });

        it("lets an auto-named container be replaced create-first", async () => {
            expect(await violations(fixedNamesReplacedDeleteFirst, { ...goodContainer({ name: undefined }), opts: {} })).toEqual([]);
        });
    });

    describe("production-data-ports-on-loopback", () => {
        it("refuses a production database port published on every interface", async () => {
            expect(await violations(productionDataPortsOnLoopback, goodContainer({ labels: production }))).toEqual([
                'Container "sb-mysql" publishes data port 3306 on 0.0.0.0:3306; in production publish it on "127.0.0.1" or not at all.',
            ]);
            expect(await violations(productionDataPortsOnLoopback, goodContainer({ labels: production, ports: [{ internal: 9200, external: 19200 }] }))).toEqual([
                'Container "sb-mysql" publishes data port 9200 on every address:19200; in production publish it on "127.0.0.1" or not at all.',
            ]);
        });

        it("accepts loopback, unpublished data ports, and web ports on every interface", async () => {
            const ports = [
                { internal: 3306, external: 13306, ip: "127.0.0.1" },
                { internal: 3000, external: 8080, ip: "0.0.0.0" },
            ];
            expect(await violations(productionDataPortsOnLoopback, goodContainer({ labels: production, ports }))).toEqual([]);
            expect(await violations(productionDataPortsOnLoopback, goodContainer({ labels: production, ports: [] }))).toEqual([]);
        });

        it("leaves development stacks free to publish their databases", async () => {
            expect(await violations(productionDataPortsOnLoopback, goodContainer())).toEqual([]);
        });
    });

    describe.each([
        ["memory-limit", memoryLimit, memoryLimitAdvisory, { memory: undefined }, 'Container "sb-mysql" has no memory limit; set "memory" (MB).'],
        ["memory-limit (0)", memoryLimit, memoryLimitAdvisory, { memory: 0 }, 'Container "sb-mysql" has no memory limit; set "memory" (MB).'],
        [
            "log-rotation",
            logRotation,
            logRotationAdvisory,
            { logOpts: { "max-size": "10m" } },
            'Container "sb-mysql" does not rotate its logs; use logDriver "json-file" or "local" with logOpts "max-size" and "max-file".',
        ],
        [
            "log-rotation (syslog)",
            logRotation,
            logRotationAdvisory,
            { logDriver: "syslog" },
            'Container "sb-mysql" does not rotate its logs; use logDriver "json-file" or "local" with logOpts "max-size" and "max-file".',
        ],
        ["no-new-privileges", noNewPrivileges, noNewPrivilegesAdvisory, { securityOpts: [] }, 'Container "sb-mysql" allows new privileges; add "no-new-privileges:true" to "securityOpts".'],
        [
            "allowed-capabilities",
            allowedCapabilities,
            allowedCapabilitiesAdvisory,
            { capabilities: { drops: ["ALL"], adds: ["CHOWN", "NET_ADMIN", "SYS_ADMIN"] } },
            'Container "sb-mysql" adds NET_ADMIN, SYS_ADMIN beyond the allowed capabilities; drop "ALL" and add back only what its image needs.',
        ],
        [
            "allowed-capabilities (nothing dropped)",
            allowedCapabilities,
            allowedCapabilitiesAdvisory,
            { capabilities: undefined },
            'Container "sb-mysql" keeps Docker\'s default set, with FOWNER, FSETID, MKNOD, NET_BIND_SERVICE, NET_RAW, SETFCAP, SETPCAP beyond the allowed capabilities; drop "ALL" and add back only what its image needs.',
        ],
    ])("%s", (_name, mandatory, advisory, overrides, message) => {
        it("stops a production container that breaks it", async () => {
            expect(await violations(mandatory, goodContainer({ labels: production, ...overrides }))).toEqual([message]);
            expect(await violations(advisory, goodContainer({ labels: production, ...overrides }))).toEqual([]);
        });

        it("only advises a development container that breaks it", async () => {
            expect(await violations(advisory, goodContainer(overrides))).toEqual([message]);
            expect(await violations(mandatory, goodContainer(overrides))).toEqual([]);
            expect(advisory.enforcementLevel).toBe("advisory");
            expect(mandatory.enforcementLevel).toBe("mandatory");
        });
    });

    describe("production-data-volumes-protected", () => {
        const volume = (labels: any, protect: boolean): Candidate => ({ type: TYPES.volume, props: { name: "prod-mysql_volume", labels }, opts: { protect } });

        it("refuses an unprotected production volume", async () => {
            expect(await violations(productionDataVolumesProtected, volume(production, false))).toEqual([
                'Volume "prod-mysql_volume" holds production data but is not protected; set protectData to true for this stack.',
            ]);
        });

        it("accepts a protected production volume, and development volumes either way", async () => {
            expect(await violations(productionDataVolumesProtected, volume(production, true))).toEqual([]);
            expect(await violations(productionDataVolumesProtected, volume([], false))).toEqual([]);
        });
    });
});

/** Every violation the given policies find in a program run, as "policy: message". */
async function stackViolations(run: ProgramRun, checked: ResourceValidationPolicy[]): Promise<string[]> {
    const found: string[] = [];
    for (const resource of run.resources) {
        const opts = { protect: resource.opts.protect === true, deleteBeforeReplace: resource.opts.deleteBeforeReplace };
        for (const policy of checked) {
            for (const v of await violations(policy, { type: resource.type, props: resource.inputs, opts })) found.push(`${policy.name}: ${v}`);
        }
    }
    return found;
}

describe.each(committedStacks())("the committed %s stack", (stack) => {
    it("passes every policy", async () => {
        expect(await stackViolations(await runProgram(stack, stackConfig(stack)), policies)).toEqual([]);
    });
});

describe("the runtime policies against a stack that leaves them out", () => {
    /** The program's own containers, each stripped of one setting, as a hand edit or a new component might leave them. */
    async function strippedViolations(stack: string, field: string): Promise<string[]> {
        const run = await runProgram(stack, stackConfig(stack));
        const stripped = { ...run, resources: run.resources.map((r) => (r.type === TYPES.container ? { ...r, inputs: { ...r.inputs, [field]: undefined } } : r)) };
        return stackViolations(stripped, policies);
    }

    it.each([
        ["memory", "memory-limit"],
        ["logOpts", "log-rotation"],
        ["securityOpts", "no-new-privileges"],
        ["capabilities", "allowed-capabilities"],
    ])("stop the prod stack without %s on its containers (%s), and only advise the dev stack", async (field, rule) => {
        const prod = await strippedViolations("prod", field);
        expect(prod.map((v) => v.split(":")[0])).toEqual(["prod-sb-mysql", "prod-sb-elasticsearch", "prod-sb-app", "prod-sb-mysql-backup", "prod-sb-elasticsearch-backup"].map(() => rule));
        const dev = await strippedViolations("dev", field);
        expect(dev.map((v) => v.split(":")[0])).toEqual(["sb-mysql", "sb-elasticsearch", "sb-app", "jupyter"].map(() => `${rule}-advisory`));
    });
});

describe("the policies against a misconfigured stack", () => {
    it("stop a production stack that publishes its databases on every interface and leaves its data unprotected", async () => {
        const run = await runProgram("prod", stackConfig("prod", { dataPublishAddress: "0.0.0.0", protectData: false }));
        const found = await stackViolations(run, [productionDataPortsOnLoopback, productionDataVolumesProtected]);
        expect(found.sort()).toEqual([
            'production-data-ports-on-loopback: Container "prod-sb-elasticsearch" publishes data port 9200 on 0.0.0.0:19200; in production publish it on "127.0.0.1" or not at all.',
            'production-data-ports-on-loopback: Container "prod-sb-elasticsearch" publishes data port 9300 on 0.0.0.0:19300; in production publish it on "127.0.0.1" or not at all.',
            'production-data-ports-on-loopback: Container "prod-sb-mysql" publishes data port 3306 on 0.0.0.0:13306; in production publish it on "127.0.0.1" or not at all.',
            'production-data-volumes-protected: Volume "prod-backup_volume" holds production data but is not protected; set protectData to true for this stack.',
            'production-data-volumes-protected: Volume "prod-esdata1" holds production data but is not protected; set protectData to true for this stack.',
            'production-data-volumes-protected: Volume "prod-mysql_volume" holds production data but is not protected; set protectData to true for this stack.',
        ]);
    });
});
