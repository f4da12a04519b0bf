import { PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy, unknownCheckingProxy } from "@pulumi/policy";
import * as policyProxy from "@pulumi/policy/proxy";
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
    secretFilesPrivate,
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
const development = [{ label: "org.smartbuilding.environment", value: "development" }];

/** `base` with `overrides` merged in, object by object; an array or `undefined` replaces what was there. */
function merged(base: Record<string, any>, overrides: Record<string, any>): Record<string, any> {
    const result = { ...base };
    for (const [key, value] of Object.entries(overrides)) {
        const plain = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
        result[key] = plain(value) && plain(base[key]) ? merged(base[key], value) : value;
    }
    return result;
}

/** A swarm service that passes every rule, as components/swarmTarget.ts renders one; tests change one thing at a time. */
function goodService(overrides: Record<string, any> = {}): Candidate {
    const props = {
        name: "sb-mysql",
        labels: development,
        mode: { replicated: { replicas: 1 } },
        taskSpec: {
            containerSpec: {
                image: "mysql:5.7.44",
                env: { MYSQL_USER: "app", MYSQL_PASSWORD_FILE: "/run/secrets/mysql_password" },
                healthcheck: { tests: ["CMD-SHELL", "true"] },
                secrets: [{ secretId: "secret-id", secretName: "sb-mysql-mysql-password-0123456789ab", fileName: "mysql_password", fileUid: "0", fileGid: "0", fileMode: 0o400 }],
                capDrops: ["ALL"],
                capAdds: ["CHOWN", "SETGID", "SETUID"],
            },
            resources: { limits: { memoryBytes: 512 * 1024 * 1024 } },
            logDriver: { name: "local", options: { "max-size": "10m", "max-file": "3" } },
            restartPolicy: { condition: "any", delay: "5s" },
        },
        endpointSpec: { mode: "vip", ports: [{ targetPort: 3306, publishedPort: 13306, publishMode: "ingress", protocol: "tcp" }] },
        convergeConfig: { delay: "2s", timeout: "120s" },
    };
    return { type: TYPES.service, props: merged(props, overrides), opts: { deleteBeforeReplace: true } };
}

/** A service's overrides of its container spec. */
const spec = (containerSpec: Record<string, any>) => ({ taskSpec: { containerSpec } });

describe("the policy rules", () => {
    it("let a well-made container through every rule", async () => {
        for (const policy of policies) expect({ policy: policy.name, found: await violations(policy, goodContainer()) }).toEqual({ policy: policy.name, found: [] });
    });

    it("let a well-made swarm service through every rule, in production too", async () => {
        for (const labels of [development, production]) {
            const service = goodService({ labels, endpointSpec: { ports: labels === production ? [] : undefined } });
            for (const policy of policies) expect({ policy: policy.name, labels, found: await violations(policy, service) }).toEqual({ policy: policy.name, labels, found: [] });
        }
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

        it.each(["mysql", "mysql:latest", "127.0.0.1:5000/smartbuildingapp"])("refuses a service that runs %j", async (image) => {
            expect(await violations(pinnedImages, goodService(spec({ image })))).toEqual([
                `Service "sb-mysql" runs image "${image}", which is not pinned; use a tag or digest other than "latest" (e.g. "mysql:5.7.44").`,
            ]);
        });

        it("accepts a service that runs a tag or a pushed image's digest", async () => {
            expect(await violations(pinnedImages, goodService(spec({ image: "elasticsearch:7.17.28" })))).toEqual([]);
            expect(await violations(pinnedImages, goodService(spec({ image: `127.0.0.1:5000/smartbuildingapp@sha256:${"d".repeat(64)}` })))).toEqual([]);
        });

        it("leaves a service's image to the update when the preview does not know it yet (a digest still to be pushed), and checks the rest", async () => {
            // What the policy engine hands a rule at preview: unknown values as sentinels, behind a proxy that throws on reading one.
            const unknownImage = (labels: typeof production) => {
                const service = goodService({ labels, taskSpec: { containerSpec: { image: (policyProxy as any).unknownStringValue }, resources: undefined } });
                return { ...service, props: unknownCheckingProxy(service.props) };
            };
            expect(() => unknownImage(production).props.taskSpec.containerSpec.image).toThrow("can't be known during preview");
            expect(await violations(pinnedImages, unknownImage(production))).toEqual([]);
            expect(await violations(memoryLimit, unknownImage(production))).toEqual(['Service "sb-mysql" has no memory limit; set taskSpec.resources.limits.memoryBytes.']);
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

        it.each([[{ condition: "none" }], [{ condition: undefined, delay: "5s" }], [undefined]])("refuses a service with restart policy %j", async (policy) => {
            expect(await violations(restartPolicy, goodService({ taskSpec: { restartPolicy: policy } }))).toEqual([
                'Service "sb-mysql" has no restart policy; set taskSpec.restartPolicy.condition to "any" or "on-failure".',
            ]);
        });

        it("accepts a service restarted on failure only", async () => {
            expect(await violations(restartPolicy, goodService({ taskSpec: { restartPolicy: { condition: "on-failure" } } }))).toEqual([]);
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

        it("refuses a service with neither a health check nor convergeConfig", async () => {
            expect(await violations(healthCheck, goodService({ ...spec({ healthcheck: undefined }), convergeConfig: undefined }))).toEqual([
                'Service "sb-mysql" has no health check; declare taskSpec.containerSpec.healthcheck, or set "convergeConfig" to rely on the image\'s own.',
            ]);
        });

        it("accepts a service that relies on its image's health check and converges on it", async () => {
            expect(await violations(healthCheck, goodService(spec({ healthcheck: undefined })))).toEqual([]);
        });

        it("refuses a service that turns the health check off, even one that converges: it would converge on a merely started task", async () => {
            expect(await violations(healthCheck, goodService(spec({ healthcheck: { tests: ["NONE"] } })))).toEqual([
                'Service "sb-mysql" turns its image\'s health check off ("NONE"); declare one in taskSpec.containerSpec.healthcheck.',
            ]);
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

        it("refuses a service with a secret in its environment map, and accepts one that points at its swarm secret", async () => {
            expect(await violations(noSecretsInEnv, goodService(spec({ env: { MYSQL_USER: "app", MYSQL_ROOT_PASSWORD: "x", JUPYTER_TOKEN_FILE: "/run/secrets/t" } })))).toEqual([
                'Service "sb-mysql" sets MYSQL_ROOT_PASSWORD in its environment; mount the value as a swarm secret and pass MYSQL_ROOT_PASSWORD_FILE instead.',
            ]);
            expect(await violations(noSecretsInEnv, goodService(spec({ env: undefined })))).toEqual([]);
        });
    });

    describe("secret-files-private", () => {
        const mount = (fileMode: number | undefined) => spec({ secrets: [{ secretId: "secret-id", fileName: "mysql_password", fileUid: "0", fileGid: "0", fileMode }] });

        it.each([
            ["mode 0444", 0o444],
            ["mode 0640", 0o640],
            ["mode 0600", 0o600],
            ["Docker's default mode 0444", undefined],
        ])("refuses a service that mounts a secret with %s", async (how, fileMode) => {
            expect(await violations(secretFilesPrivate, goodService(mount(fileMode)))).toEqual([
                `Service "sb-mysql" mounts secret file "mysql_password" with ${how}; set its fileMode to 0o400 (256), or 0o440 (288) to share it with its group.`,
            ]);
        });

        it("accepts a secret readable by its owner, or its owner and group, alone", async () => {
            expect(await violations(secretFilesPrivate, goodService(mount(0o400)))).toEqual([]);
            expect(await violations(secretFilesPrivate, goodService(mount(0o440)))).toEqual([]);
        });

        it("refuses a container's secret file readable by others, and leaves its other files alone", async () => {
            const uploads = [
                { file: "/run/secrets/mysql_password", content: "x", owner: "0", group: "0", permissions: "0644" },
                { file: "/run/secrets/mysql_root_password", content: "x", owner: "0", group: "0", permissions: "0400" },
                { file: "/usr/local/bin/sb-backup", content: "#!/bin/bash", owner: "0", group: "0", permissions: "0555" },
            ];
            expect(await violations(secretFilesPrivate, goodContainer({ uploads }))).toEqual([
                'Container "sb-mysql" gets secret file /run/secrets/mysql_password with permissions 0644; set its "permissions" to "0400" (or "0440" to share it with its group).',
            ]);
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

        it("refuses a named service replaced create-first, and lets an auto-named one be", async () => {
            expect(await violations(fixedNamesReplacedDeleteFirst, { ...goodService(), opts: {} })).toEqual([
                'Service "sb-mysql" has a fixed name but no "deleteBeforeReplace"; a replacement would clash with it.',
            ]);
            expect(await violations(fixedNamesReplacedDeleteFirst, { ...goodService({ name: undefined }), opts: {} })).toEqual([]);
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
            expect(await violations(productionDataPortsOnLoopback, goodService())).toEqual([]);
        });

        it("refuses a production swarm service that publishes a database port at all: a swarm cannot publish on loopback", async () => {
            const ports = [
                { targetPort: 3306, publishedPort: 13306, publishMode: "ingress", protocol: "tcp" },
                { targetPort: 9300, publishMode: "host", protocol: "tcp" },
                { targetPort: 3000, publishedPort: 8080 },
            ];
            expect(await violations(productionDataPortsOnLoopback, goodService({ labels: production, endpointSpec: { ports } }))).toEqual([
                'Service "sb-mysql" publishes data port 3306 as 13306 on every address of every node; a swarm cannot publish on loopback, so in production publish it not at all: set dataPublishAddress: none for this stack.',
                'Service "sb-mysql" publishes data port 9300 on every address of its task\'s node; a swarm cannot publish on loopback, so in production publish it not at all: set dataPublishAddress: none for this stack.',
            ]);
            expect(productionDataPortsOnLoopback.description).toContain("dataPublishAddress: none");
        });

        it("accepts a production swarm service that publishes only web ports", async () => {
            const ports = [{ targetPort: 3000, publishedPort: 8081, publishMode: "ingress", protocol: "tcp" }];
            expect(await violations(productionDataPortsOnLoopback, goodService({ labels: production, endpointSpec: { ports } }))).toEqual([]);
            expect(await violations(productionDataPortsOnLoopback, goodService({ labels: production, endpointSpec: undefined }))).toEqual([]);
        });
    });

    /** A broken resource, built for the given labels. */
    type Broken = (labels: typeof production) => Candidate;
    const container = (overrides: Record<string, any>): Broken => (labels) => goodContainer({ labels, ...overrides });
    const service = (overrides: Record<string, any>): Broken => (labels) => goodService({ labels, ...overrides });

    describe.each<[string, ResourceValidationPolicy, ResourceValidationPolicy, Broken, string]>([
        ["memory-limit", memoryLimit, memoryLimitAdvisory, container({ memory: undefined }), 'Container "sb-mysql" has no memory limit; set "memory" (MB).'],
        ["memory-limit (0)", memoryLimit, memoryLimitAdvisory, container({ memory: 0 }), 'Container "sb-mysql" has no memory limit; set "memory" (MB).'],
        [
            "memory-limit (service)",
            memoryLimit,
            memoryLimitAdvisory,
            service({ taskSpec: { resources: undefined } }),
            'Service "sb-mysql" has no memory limit; set taskSpec.resources.limits.memoryBytes.',
        ],
        [
            "memory-limit (service, 0)",
            memoryLimit,
            memoryLimitAdvisory,
            service({ taskSpec: { resources: { limits: { memoryBytes: 0, nanoCpus: 1e9 } } } }),
            'Service "sb-mysql" has no memory limit; set taskSpec.resources.limits.memoryBytes.',
        ],
        [
            "log-rotation",
            logRotation,
            logRotationAdvisory,
            container({ logOpts: { "max-size": "10m" } }),
            'Container "sb-mysql" does not rotate its logs; use logDriver "json-file" or "local" with logOpts "max-size" and "max-file".',
        ],
        [
            "log-rotation (syslog)",
            logRotation,
            logRotationAdvisory,
            container({ logDriver: "syslog" }),
            'Container "sb-mysql" does not rotate its logs; use logDriver "json-file" or "local" with logOpts "max-size" and "max-file".',
        ],
        [
            "log-rotation (service)",
            logRotation,
            logRotationAdvisory,
            service({ taskSpec: { logDriver: { name: "json-file", options: { "max-file": undefined } } } }),
            'Service "sb-mysql" does not rotate its logs; use taskSpec.logDriver "json-file" or "local" with options "max-size" and "max-file".',
        ],
        [
            "log-rotation (service without a log driver)",
            logRotation,
            logRotationAdvisory,
            service({ taskSpec: { logDriver: undefined } }),
            'Service "sb-mysql" does not rotate its logs; use taskSpec.logDriver "json-file" or "local" with options "max-size" and "max-file".',
        ],
        ["no-new-privileges", noNewPrivileges, noNewPrivilegesAdvisory, container({ securityOpts: [] }), 'Container "sb-mysql" allows new privileges; add "no-new-privileges:true" to "securityOpts".'],
        [
            "allowed-capabilities",
            allowedCapabilities,
            allowedCapabilitiesAdvisory,
            container({ capabilities: { drops: ["ALL"], adds: ["CHOWN", "NET_ADMIN", "SYS_ADMIN"] } }),
            'Container "sb-mysql" adds NET_ADMIN, SYS_ADMIN beyond the allowed capabilities; drop "ALL" and add back only what its image needs.',
        ],
        [
            "allowed-capabilities (nothing dropped)",
            allowedCapabilities,
            allowedCapabilitiesAdvisory,
            container({ capabilities: undefined }),
            'Container "sb-mysql" keeps Docker\'s default set, with FOWNER, FSETID, MKNOD, NET_BIND_SERVICE, NET_RAW, SETFCAP, SETPCAP beyond the allowed capabilities; drop "ALL" and add back only what its image needs.',
        ],
        [
            "allowed-capabilities (service)",
            allowedCapabilities,
            allowedCapabilitiesAdvisory,
            service(spec({ capAdds: ["CAP_CHOWN", "CAP_NET_ADMIN"] })),
            'Service "sb-mysql" adds NET_ADMIN beyond the allowed capabilities; set capDrops to ["ALL"] and add back in capAdds only what its image needs.',
        ],
        [
            "allowed-capabilities (service dropping nothing)",
            allowedCapabilities,
            allowedCapabilitiesAdvisory,
            service(spec({ capDrops: undefined, capAdds: undefined })),
            'Service "sb-mysql" keeps Docker\'s default set, with FOWNER, FSETID, MKNOD, NET_BIND_SERVICE, NET_RAW, SETFCAP, SETPCAP beyond the allowed capabilities; set capDrops to ["ALL"] and add back in capAdds only what its image needs.',
        ],
    ])("%s", (_name, mandatory, advisory, broken, message) => {
        it("stops a production resource that breaks it", async () => {
            expect(await violations(mandatory, broken(production))).toEqual([message]);
            expect(await violations(advisory, broken(production))).toEqual([]);
        });

        it("only advises a development resource that breaks it", async () => {
            expect(await violations(advisory, broken(development))).toEqual([message]);
            expect(await violations(mandatory, broken(development))).toEqual([]);
            expect(advisory.enforcementLevel).toBe("advisory");
            expect(mandatory.enforcementLevel).toBe("mandatory");
        });
    });

    describe("no-new-privileges on a swarm service", () => {
        it("holds containers only, and says why: a swarm service cannot set it", async () => {
            for (const labels of [production, development]) {
                expect(await violations(noNewPrivileges, goodService({ labels }))).toEqual([]);
                expect(await violations(noNewPrivilegesAdvisory, goodService({ labels }))).toEqual([]);
            }
            expect(noNewPrivileges.description).toMatch(/Containers only: a swarm service cannot set it \(Docker's API has it for services from version 1\.46 only, and the Docker provider has no field for it\)/);
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

    /** The swarm stack's own services, each stripped of one task setting (`taskSpec` or its `containerSpec`). */
    async function strippedServiceViolations(environment: string, strip: Record<string, any>): Promise<string[]> {
        const run = await runProgram("swarm", stackConfig("swarm", { environment }));
        const stripped = { ...run, resources: run.resources.map((r) => (r.type === TYPES.service ? { ...r, inputs: merged(r.inputs, { taskSpec: strip }) } : r)) };
        return stackViolations(stripped, policies);
    }
    const SWARM_SERVICES = ["swarm-sb-mysql", "swarm-sb-elasticsearch", "swarm-sb-app", "swarm-jupyter", "swarm-sb-mysql-backup", "swarm-sb-elasticsearch-backup", "swarm-jupyter-backup"];

    it.each<[string, string, Record<string, any>]>([
        ["resources", "memory-limit", { resources: undefined }],
        ["logDriver", "log-rotation", { logDriver: undefined }],
        ["containerSpec.capDrops", "allowed-capabilities", { containerSpec: { capDrops: undefined } }],
    ])("stop the swarm stack without taskSpec.%s on its services (%s), and only advise it outside production", async (_field, rule, strip) => {
        const prod = await strippedServiceViolations("production", strip);
        expect(prod.map((v) => v.split(":")[0])).toEqual(SWARM_SERVICES.map(() => rule));
        expect(prod.map((v) => /Service "([^"]+)"/.exec(v)?.[1]).sort()).toEqual([...SWARM_SERVICES].sort());
        const dev = await strippedServiceViolations("development", strip);
        expect(dev.map((v) => v.split(":")[0])).toEqual(SWARM_SERVICES.map(() => `${rule}-advisory`));
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

    it("stop a production swarm stack that publishes its databases at all", async () => {
        const run = await runProgram("swarm", stackConfig("swarm", { dataPublishAddress: "0.0.0.0" }));
        const found = await stackViolations(run, policies);
        const rest = "a swarm cannot publish on loopback, so in production publish it not at all: set dataPublishAddress: none for this stack.";
        expect(found.sort()).toEqual([
            `production-data-ports-on-loopback: Service "swarm-sb-elasticsearch" publishes data port 9200 as 9200 on every address of every node; ${rest}`,
            `production-data-ports-on-loopback: Service "swarm-sb-elasticsearch" publishes data port 9300 as 9300 on every address of every node; ${rest}`,
            `production-data-ports-on-loopback: Service "swarm-sb-mysql" publishes data port 3306 as 3306 on every address of every node; ${rest}`,
        ]);
    });
});
