import { heapBytes } from "../components/config";
import { configProblems as problems, parseDevConfig as parse } from "./support/fixtures";
import { PROJECT, PROJECT_DIR } from "./support/program";


describe("the dev stack's config", () => {
    const config = parse();

    it("holds the guide's compose values", () => {
        expect(config.networkName).toBe("sb-network");
        expect(config.mysql).toEqual({
            image: "mysql:5.7",
            containerName: "sb-mysql",
            volumeName: "mysql_volume",
            user: "BAS_DEV_RW",
            database: "bas_dev",
            published: { ip: "0.0.0.0", port: 3306 },
            bufferPoolSize: "128M",
            limits: { memoryMb: 512, cpus: "1", stopGraceSeconds: 60 },
            rootPassword: undefined,
            password: undefined,
        });
        expect(config.elasticsearch).toEqual({
            image: "elasticsearch:7.8.1",
            containerName: "sb-elasticsearch",
            volumeName: "esdata1",
            heapMin: "256m",
            heapMax: "512m",
            publishedHttp: { ip: "0.0.0.0", port: 9200 },
            publishedTransport: { ip: "0.0.0.0", port: 9300 },
            limits: { memoryMb: 1024, cpus: "1", stopGraceSeconds: 60 },
        });
        expect(config.app.containerName).toBe("sb-app");
        expect(config.app.published).toEqual({ ip: "0.0.0.0", port: 3000 });
        expect(config.app.contentDir).toBe("app/dashboard");
    });

    it("keeps data volumes on destroy without protecting them", () => {
        expect(config.data).toEqual({ retainOnDelete: true, protect: false });
    });

    it("targets the local Docker engine", () => {
        expect(config.docker).toEqual({ host: "unix:///var/run/docker.sock", sshOpts: [] });
    });
});

describe("config options", () => {
    it("puts the name prefix in front of every container, volume and network name", () => {
        const config = parse({ namePrefix: "qa-" });
        expect([config.networkName, config.mysql.containerName, config.mysql.volumeName]).toEqual(["qa-sb-network", "qa-sb-mysql", "qa-mysql_volume"]);
        expect([config.elasticsearch.containerName, config.elasticsearch.volumeName, config.app.containerName]).toEqual([
            "qa-sb-elasticsearch",
            "qa-esdata1",
            "qa-sb-app",
        ]);
        expect([config.jupyter?.containerName, config.jupyter?.volumeName]).toEqual(["qa-jupyter", "qa-jupyter_volume"]);
    });

    it('keeps the data ports unpublished with dataPublishAddress "none", so they cannot clash', () => {
        const config = parse({ dataPublishAddress: "none", mysqlHostPort: 3000 });
        expect(config.mysql.published).toBeUndefined();
        expect(config.elasticsearch.publishedHttp).toBeUndefined();
        expect(config.elasticsearch.publishedTransport).toBeUndefined();
    });

    it("leaves the Jupyter workspace out when it is switched off, with its keys unchecked", () => {
        const config = parse({ jupyterEnabled: false, jupyterTag: "latest", jupyterHostPort: 3000 });
        expect(config.jupyter).toBeUndefined();
    });
});

describe("bad config", () => {
    it.each([
        ["mysqlHostPort", 0],
        ["mysqlHostPort", 70000],
        ["appHostPort", "3000x"],
        ["elasticsearchHttpHostPort", -9200],
        ["elasticsearchTransportHostPort", 93.5],
    ])("refuses %s = %j as a port", (key, value) => {
        expect(problems({ [key]: value })).toEqual([
            `${PROJECT}:${key}: ${JSON.stringify(String(value))} is not valid; expected an integer port from 1 to 65535.`,
        ]);
    });

    it("refuses two services on the same host port, naming both keys", () => {
        expect(problems({ elasticsearchHttpHostPort: 3306 })).toEqual([
            `${PROJECT}:mysqlHostPort, ${PROJECT}:elasticsearchHttpHostPort all publish host port 3306; each service needs its own host port.`,
        ]);
    });

    it("counts the Jupyter port among the stack's host ports", () => {
        expect(problems({ jupyterHostPort: 3000 })).toEqual([
            `${PROJECT}:appHostPort, ${PROJECT}:jupyterHostPort all publish host port 3000; each service needs its own host port.`,
        ]);
    });

    it.each(["mysqlContainerName", "elasticsearchContainerName", "appContainerName", "mysqlVolumeName", "elasticsearchVolumeName", "networkName"])(
        "refuses an empty %s",
        (key) => {
            expect(problems({ [key]: "" })).toEqual([
                `${PROJECT}:${key}: "" is not valid; expected a Docker name: a letter or digit, then letters, digits, '_', '.' or '-'.`,
            ]);
        },
    );

    it.each([
        ["mysqlContainerName", "sb mysql"],
        ["mysqlVolumeName", "../etc"],
        ["networkName", "-net"],
    ])("refuses the invalid name %s = %j", (key, value) => {
        expect(problems({ [key]: value })).toEqual([
            `${PROJECT}:${key}: ${JSON.stringify(value)} is not valid; expected a Docker name: a letter or digit, then letters, digits, '_', '.' or '-'.`,
        ]);
    });

    it("takes MySQL passwords of any length, the guide's kind included (they may protect data already): no length rule", () => {
        expect(parse({ mysqlRootPassword: "Guide2024!", mysqlPassword: "p" }).mysql.rootPassword).toBeDefined();
    });

    it.each([
        ["mysqlRootPassword", "", "the value set is empty;"],
        ["mysqlPassword", "", "the value set is empty;"],
        ["mysqlRootPassword", "Guide2024!\n", "the value set contains a NUL character or ends with a line break,"],
        ["mysqlPassword", "Guide\u00002024!", "the value set contains a NUL character or ends with a line break,"],
    ])("refuses %s = %j, empty or not as MySQL would get it, without printing it", (key, value, why) => {
        const found = problems({ [key]: value });
        expect(found).toHaveLength(1);
        expect(found[0]).toContain(`${PROJECT}:${key}: ${why}`);
        if (value !== "") expect(found[0]).not.toContain("Guide");
    });

    it("refuses two containers with the same name", () => {
        expect(problems({ appContainerName: "sb-mysql" })).toEqual([
            `${PROJECT}:mysqlContainerName, ${PROJECT}:appContainerName all give the container name "sb-mysql"; each must be different.`,
        ]);
    });

    it("refuses two services sharing a data volume", () => {
        expect(problems({ elasticsearchVolumeName: "mysql_volume" })).toEqual([
            `${PROJECT}:mysqlVolumeName, ${PROJECT}:elasticsearchVolumeName all give the volume name "mysql_volume"; each must be different.`,
        ]);
    });

    it.each([
        ["mysqlDatabase", "", "a MySQL database name: 1 to 64 letters, digits or '_'"],
        ["mysqlDatabase", "bas-dev", "a MySQL database name: 1 to 64 letters, digits or '_'"],
        ["mysqlUser", "", "a MySQL user name: 1 to 32 letters, digits or '_'"],
        ["mysqlUser", "u".repeat(33), "a MySQL user name: 1 to 32 letters, digits or '_'"],
        ["mysqlUser", "root", "a user other than root (root gets its own generated password)"],
    ])("refuses %s = %j", (key, value, expected) => {
        expect(problems({ [key]: value })).toEqual([`${PROJECT}:${key}: ${JSON.stringify(value)} is not valid; expected ${expected}.`]);
    });

    it.each(["256", "256mb", "0m", "m", "1.5g", "-1g", ""])("refuses the heap size %j", (value) => {
        expect(problems({ elasticsearchHeapMax: value })).toEqual([
            `${PROJECT}:elasticsearchHeapMax: ${JSON.stringify(value)} is not valid; expected a JVM heap size such as "256m" or "1g".`,
        ]);
    });

    it("refuses a minimum heap above the maximum", () => {
        expect(problems({ elasticsearchHeapMin: "1g", elasticsearchHeapMax: "512m" })).toEqual([
            `${PROJECT}:elasticsearchHeapMin "1g" is above ${PROJECT}:elasticsearchHeapMax "512m"; the minimum heap must not exceed the maximum.`,
        ]);
    });

    it("accepts a minimum heap equal to the maximum in other units", () => {
        expect(parse({ elasticsearchHeapMin: "1024m", elasticsearchHeapMax: "1g", elasticsearchMemoryMb: 2048 }).elasticsearch.heapMax).toBe("1g");
    });

    it.each([
        ["mysqlImage", "mysql"],
        ["mysqlImage", "mysql:latest"],
        ["elasticsearchImage", ""],
        ["appNodeImage", "node"],
        ["appImageName", "smartbuildingapp"],
    ])("refuses the unpinned image %s = %j", (key, value) => {
        expect(problems({ [key]: value })).toEqual([
            `${PROJECT}:${key}: ${JSON.stringify(value)} is not valid; expected an image reference with an explicit tag or digest other than "latest", like "mysql:5.7" or "registry.example.com/team/app:1.2.3".`,
        ]);
    });

    it.each([
        ["restartPolicy", "no", 'one of "unless-stopped", "always", "on-failure"'],
        ["environment", "staging", 'one of "development", "production"'],
        ["retainDataOnDestroy", "yes", "true or false"],
        ["publishAddress", "0.0.0.0:80", 'an IPv4 address such as "0.0.0.0" or "127.0.0.1"'],
        ["dataPublishAddress", "", 'an IPv4 address such as "0.0.0.0" or "127.0.0.1" or "none"'],
        ["dockerHost", "/var/run/docker.sock", 'a Docker host URL such as "unix:///var/run/docker.sock" or "ssh://user@host"'],
        ["publicHost", "my host", 'a host name or IP address such as "localhost"'],
        ["buildPlatform", "amd64", 'a platform such as "linux/amd64" or "linux/arm64"'],
        ["namePrefix", "prod/", 'a name prefix of letters, digits, "_", "." or "-" (may be empty)'],
    ])("refuses %s = %j, saying what is allowed", (key, value, expected) => {
        expect(problems({ [key]: value })).toEqual([`${PROJECT}:${key}: ${JSON.stringify(value)} is not valid; expected ${expected}.`]);
    });

    it("refuses a content folder that does not exist", () => {
        expect(problems({ appContentDir: "app/no-such-folder" })).toEqual([
            `${PROJECT}:appContentDir: "app/no-such-folder" is not valid; expected a folder of this project, or "" for none; ${PROJECT_DIR}/app/no-such-folder is not an existing folder.`,
        ]);
    });

    it("refuses to bind a project folder into a remote Docker engine", () => {
        expect(problems({ dockerHost: "ssh://deploy@build-host" })).toEqual([
            `${PROJECT}:appContentDir "app/dashboard" binds a folder of this project, which only works with a local Docker engine, but ${PROJECT}:dockerHost is "ssh://deploy@build-host"; set appContentDir to "".`,
        ]);
        expect(parse({ dockerHost: "ssh://deploy@build-host", appContentDir: "" }).docker.host).toBe("ssh://deploy@build-host");
    });

    it("names a key that has no value at all", () => {
        expect(problems({ mysqlUser: undefined })).toEqual([
            `${PROJECT}:mysqlUser: no value is not valid; expected a MySQL user name: 1 to 32 letters, digits or '_' (declared with a default in Pulumi.yaml; is the key missing there?).`,
        ]);
    });

    it("reports every problem of a config at once", () => {
        const found = problems({
            mysqlHostPort: 0,
            elasticsearchHttpHostPort: 3000,
            appContainerName: "",
            mysqlDatabase: "",
            elasticsearchHeapMin: "2g",
            elasticsearchHeapMax: "1g",
            restartPolicy: "sometimes",
            elasticsearchMemoryMb: 2048,
        });
        expect(found).toHaveLength(6);
        expect(found.join("\n")).toMatch(/mysqlHostPort: "0"/);
        expect(found.join("\n")).toMatch(/elasticsearchHttpHostPort, .*appHostPort all publish host port 3000/);
        expect(found.join("\n")).toMatch(/appContainerName: ""/);
        expect(found.join("\n")).toMatch(/mysqlDatabase: ""/);
        expect(found.join("\n")).toMatch(/elasticsearchHeapMin "2g" is above/);
        expect(found.join("\n")).toMatch(/restartPolicy: "sometimes"/);
    });
});

describe("limits, logs and grace periods", () => {
    it("reads each service's limits, sized per service, and one log rotation for every container", () => {
        const config = parse();
        expect(config.log).toEqual({ driver: "json-file", maxSize: "10m", maxFiles: 3 });
        expect([config.mysql.limits, config.elasticsearch.limits, config.app.limits, config.jupyter?.limits]).toEqual([
            { memoryMb: 512, cpus: "1", stopGraceSeconds: 60 },
            { memoryMb: 1024, cpus: "1", stopGraceSeconds: 60 },
            { memoryMb: 256, cpus: "0.5", stopGraceSeconds: 10 },
            { memoryMb: 4096, cpus: "2", stopGraceSeconds: 30 },
        ]);
    });

    it.each([
        ["logDriver", "syslog", 'one of "json-file", "local"'],
        ["logMaxSize", "10", 'a log file size such as "10m" (k, m or g)'],
        ["logMaxSize", "10mb", 'a log file size such as "10m" (k, m or g)'],
        ["logMaxFiles", "0", "an integer from 1 to 100"],
        ["mysqlMemoryMb", "32", "an integer from 64 to 1048576"],
        ["appMemoryMb", "256m", "an integer from 64 to 1048576"],
        ["jupyterCpus", "0", 'a number of CPUs above 0 such as "0.5" or "2" (at most two decimals)'],
        ["appCpus", "-1", 'a number of CPUs above 0 such as "0.5" or "2" (at most two decimals)'],
        ["elasticsearchCpus", "1.125", 'a number of CPUs above 0 such as "0.5" or "2" (at most two decimals)'],
        ["mysqlStopGraceSeconds", "0", "an integer from 1 to 3600"],
        ["elasticsearchStopGraceSeconds", "1.5", "an integer from 1 to 3600"],
        ["mysqlBufferPoolSize", "128MB", 'a size such as "128m" or "1g"'],
    ])("refuses %s %j, saying what is allowed", (key, value, expected) => {
        expect(problems({ [key]: value })).toEqual([`${PROJECT}:${key}: ${JSON.stringify(value)} is not valid; expected ${expected}.`]);
    });

    it("refuses a MySQL limit that does not cover the buffer pool plus the server's overhead, naming both keys", () => {
        expect(problems({ mysqlMemoryMb: 767, mysqlBufferPoolSize: "512m" })).toEqual([
            `${PROJECT}:mysqlMemoryMb 767 does not cover ${PROJECT}:mysqlBufferPoolSize "512m" plus 256 MB for the rest of the server; set mysqlMemoryMb to at least 768, or a smaller buffer pool.`,
        ]);
        expect(parse({ mysqlMemoryMb: 768, mysqlBufferPoolSize: "512m" }).mysql.bufferPoolSize).toBe("512M");
        // The image's default buffer pool (128M) needs 384 MB.
        expect(problems({ mysqlMemoryMb: 383 })).toHaveLength(1);
    });

    it("refuses an Elasticsearch heap above half its memory limit, naming both keys", () => {
        expect(problems({ elasticsearchMemoryMb: 1000 })).toEqual([
            `${PROJECT}:elasticsearchHeapMax "512m" is more than half of ${PROJECT}:elasticsearchMemoryMb 1000; the other half is for off-heap memory and the file system cache: set elasticsearchMemoryMb to at least 1024, or a smaller heap.`,
        ]);
        expect(parse({ elasticsearchHeapMin: "1g", elasticsearchHeapMax: "1g", elasticsearchMemoryMb: 2048 }).elasticsearch.limits.memoryMb).toBe(2048);
    });
});

describe("heapBytes", () => {
    it.each([
        ["256m", 256 * 1024 ** 2],
        ["1g", 1024 ** 3],
        ["1G", 1024 ** 3],
        ["512k", 512 * 1024],
        ["256", undefined],
        ["1.5g", undefined],
    ])("reads %j as %j bytes", (size, bytes) => {
        expect(heapBytes(size)).toBe(bytes);
    });
});
