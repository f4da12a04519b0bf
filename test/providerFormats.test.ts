import { containerDuration, decimalCpus, durationNanos, goDurationString, nanoCpus, serviceDuration, shortDuration } from "../components/providerFormats";

describe("Go's time.Duration.String(), as the provider reads a container's health check back", () => {
    // Outputs of Go's own (time.Duration).String() for these values.
    it.each([
        [0, "0s"],
        [1, "1ns"],
        [1_100, "1.1µs"],
        [2_200_000, "2.2ms"],
        [500_000_000, "500ms"],
        [1_500_000_000, "1.5s"],
        [10e9, "10s"],
        [60e9, "1m0s"],
        [90e9, "1m30s"],
        [600e9, "10m0s"],
        [3600e9, "1h0m0s"],
        [5400e9, "1h30m0s"],
        [4000e9 + 500_000_000, "1h6m40.5s"],
    ])("%d ns is %s", (nanos, text) => {
        expect(goDurationString(nanos)).toBe(text);
    });
});

describe("the provider's shortDur, as it reads a service's durations back", () => {
    it.each([
        [0, "0s"],
        [5e9, "5s"],
        [60e9, "1m"],
        [90e9, "1m30s"],
        [120e9, "2m"],
        [3600e9, "1h"],
        [5400e9, "1h30m"],
        [3601e9, "1h0m1s"],
    ])("%d ns is %s", (nanos, text) => {
        expect(shortDuration(nanos)).toBe(text);
    });
});

describe("durations written in the provider's forms", () => {
    it("reads Go duration texts, and refuses others", () => {
        expect(durationNanos("1m30s")).toBe(90e9);
        expect(durationNanos("1.5h")).toBe(5400e9);
        expect(durationNanos("0")).toBe(0);
        expect(() => durationNanos("60")).toThrow('"60" is not a duration');
        expect(() => durationNanos("1 m")).toThrow();
    });

    it("writes a container's as Go does and a service's as shortDur does", () => {
        expect(containerDuration("60s")).toBe("1m0s");
        expect(containerDuration("10m")).toBe("10m0s");
        expect(serviceDuration("120s")).toBe("2m");
        expect(serviceDuration("15s")).toBe("15s");
    });
});

describe("the provider's nanoInt64ToDecimalString, as it reads a container's cpus back", () => {
    it.each([
        ["1", "1.0"],
        ["2", "2.0"],
        ["0.5", "0.5"],
        ["1.5", "1.5"],
        ["0.25", "0.25"],
        ["0.1", "0.1"],
        ["2.05", "2.05"],
        // Nine "0" characters with a 5 in the second decimal: one decimal, rounded half up.
        ["0.05", "0.1"],
        // Ten "0" characters: the zeros are cut, the point stays (upstream's own quirk).
        ["10", "10."],
    ])("--cpus %s reads back %s", (cpus, text) => {
        expect(decimalCpus(nanoCpus(cpus))).toBe(text);
    });

    it("reads 0 as 0, and refuses what is not a number of CPUs", () => {
        expect(decimalCpus(0)).toBe("0");
        expect(() => nanoCpus("two")).toThrow('"two" is not a number of CPUs');
    });
});
