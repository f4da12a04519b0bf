import { containerHealthcheck } from "../components/containerTarget";
import { ELASTICSEARCH_HEALTHCHECK, javaOpts } from "../components/elasticsearch";
import { Declared, ProgramRun, TYPES, envMap, parentName, runProgram, stackConfig, declareStack } from "./support/program";

describe("sb-elasticsearch in the dev stack", () => {
    let run: ProgramRun;
    let declared: Declared;
    beforeAll(async () => {
        run = await runProgram("dev", stackConfig("dev"));
        declared = new Declared(run);
    });

    const es = () => declared.container("elasticsearch-container");

    it("runs the guide's elasticsearch:7.8.1 image, pulled once and kept, by its image id", () => {
        expect(declared.one(TYPES.remoteImage, "elasticsearch-image").inputs).toEqual({ name: "elasticsearch:7.8.1", keepLocally: true });
        expect(es().inputs.image).toBe("sha256:pulled-elasticsearch:7.8.1");
    });

    it("is named sb-elasticsearch and publishes 9200 and 9300 on the same host ports", () => {
        expect(es().inputs.name).toBe("sb-elasticsearch");
        expect(es().inputs.ports).toEqual([
            { internal: 9200, external: 9200, ip: "0.0.0.0", protocol: "tcp" },
            { internal: 9300, external: 9300, ip: "0.0.0.0", protocol: "tcp" },
        ]);
    });

    it("keeps its data on esdata1 at /usr/share/elasticsearch/data, and keeps the volume on destroy", () => {
        const volume = declared.one(TYPES.volume, "elasticsearch-data");
        expect(volume.inputs.name).toBe("esdata1");
        expect(volume.opts).toMatchObject({ retainOnDelete: true, protect: false });
        expect(es().inputs.volumes).toEqual([{ volumeName: "esdata1", containerPath: "/usr/share/elasticsearch/data" }]);
    });

    it("runs a single node with the guide's heap, and message lookups off (Log4Shell)", () => {
        expect(envMap(es().inputs.envs)).toEqual({
            "discovery.type": "single-node",
            ES_JAVA_OPTS: "-Xms256m -Xmx512m -Dlog4j2.formatMsgNoLookups=true",
        });
    });

    it("joins sb-network under the alias elasticsearch", () => {
        expect(es().inputs.networksAdvanced).toEqual([{ name: "sb-network", aliases: ["elasticsearch"] }]);
    });

    it("reports healthy once the cluster is at least yellow, and Pulumi waits minutes for it", () => {
        expect(es().inputs.healthcheck).toEqual(containerHealthcheck(ELASTICSEARCH_HEALTHCHECK));
        expect((ELASTICSEARCH_HEALTHCHECK.tests)[1]).toContain("/_cluster/health?wait_for_status=yellow");
        expect(es().inputs.wait).toBe(true);
        expect(es().inputs.waitTimeout).toBeGreaterThanOrEqual(180);
    });

    it("restarts unless stopped, and is replaced by deleting the old container first", () => {
        expect(es().inputs.restart).toBe("unless-stopped");
        expect(es().opts).toMatchObject({ deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"] });
        expect(parentName(es())).toBe("elasticsearch");
    });

    it("exports the URL users reach it by", () => {
        expect(run.outputs.elasticsearchUrl).toBe("http://localhost:9200");
    });
});

describe("sb-elasticsearch with other config", () => {
    it("takes its heap from config", async () => {
        const declared = await declareStack("dev", { elasticsearchHeapMin: "1g", elasticsearchHeapMax: "2g", elasticsearchMemoryMb: 4096 });
        expect(envMap(declared.container("elasticsearch-container").inputs.envs).ES_JAVA_OPTS).toBe(javaOpts("1g", "2g"));
        expect(javaOpts("1g", "2g")).toBe("-Xms1g -Xmx2g -Dlog4j2.formatMsgNoLookups=true");
    });

    it('publishes nothing with dataPublishAddress "none", and exports no URL', async () => {
        const run = await runProgram("dev", stackConfig("dev", { dataPublishAddress: "none" }));
        expect(new Declared(run).container("elasticsearch-container").inputs.ports).toEqual([]);
        expect(run.outputs).not.toHaveProperty("elasticsearchUrl");
    });
});
