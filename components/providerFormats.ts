/**
 * Values written the way the Docker provider reads them back from the engine.
 *
 * After every create and update the provider (kreuzwerker/terraform-provider-docker, which
 * `@pulumi/docker` 5.2 bridges) reads the container or service back and keeps what it read as the
 * resource's state; the next `pulumi up` compares the program's inputs with that state, not with
 * the inputs of the last run. A value the program writes in another form than the provider reads
 * back ("60s" for a duration the provider reads as "1m0s") is a change on every `up`, and for a
 * field that replaces the resource (a container's `cpus`), a new database container every time.
 * So the renderers write these fields in the provider's own form.
 */

const NANOS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Nanoseconds of a Go duration text ("90s", "1m30s", "1.5h"), as Go's `time.ParseDuration` reads it. */
export function durationNanos(text: string): number {
    if (text === "0") return 0;
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`"${text}" is not a duration like 10s, 1m30s or 2h`);
    return Math.round(parts.reduce((sum, [, value, unit]) => sum + Number(value) * NANOS[unit], 0));
}

/** A number with at most 9 decimals, trailing zeros (and a trailing point) dropped. */
function fraction(value: number, decimals: number): string {
    return value.toFixed(decimals).replace(/\.?0+$/, "");
}

/**
 * Go's `time.Duration.String()` ("1m0s", "1h30m0s", "1.5s", "500ms", "0s"): how the provider reads
 * a container's health check back (resourceDockerContainerRead, internal/provider/
 * resource_docker_container_funcs.go: `container.Config.Healthcheck.Interval.String()`).
 */
export function goDurationString(nanos: number): string {
    if (nanos === 0) return "0s";
    if (nanos < 1e9) {
        if (nanos < 1e3) return `${nanos}ns`;
        if (nanos < 1e6) return `${fraction(nanos / 1e3, 3)}µs`;
        return `${fraction(nanos / 1e6, 6)}ms`;
    }
    const hours = Math.floor(nanos / 3600e9);
    const minutes = Math.floor((nanos % 3600e9) / 60e9);
    const seconds = fraction((nanos % 60e9) / 1e9, 9);
    if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
    if (minutes > 0) return `${minutes}m${seconds}s`;
    return `${seconds}s`;
}

/**
 * The provider's `shortDur` (internal/provider/resource_docker_service_structures.go): Go's
 * `Duration.String()` without a trailing "0s" after minutes and "0m" after hours ("1m", "2h",
 * "1h30m"). How it reads back a service's stop grace period, health check, restart policy and
 * update and rollback settings.
 */
export function shortDuration(nanos: number): string {
    let s = goDurationString(nanos);
    if (s.endsWith("m0s")) s = s.slice(0, -2);
    if (s.endsWith("h0m")) s = s.slice(0, -2);
    return s;
}

/** A duration text in the form a container's state holds it. */
export const containerDuration = (text: string): string => goDurationString(durationNanos(text));

/** A duration text in the form a service's state holds it. */
export const serviceDuration = (text: string): string => shortDuration(durationNanos(text));

/** Billionths of a CPU of a `--cpus` text ("0.5", "2"), as docker/cli's `ParseCPUs` counts them. */
export function nanoCpus(text: string): number {
    if (!/^\d+(\.\d+)?$/.test(text)) throw new Error(`"${text}" is not a number of CPUs`);
    return Math.round(Number(text) * 1e9);
}

/**
 * The provider's `nanoInt64ToDecimalString` (internal/provider/helpers.go), how it reads a
 * container's `cpus` back: the value with 9 decimals; exactly nine "0" characters in that text give
 * one decimal ("1.0", "2.0", "0.5"), otherwise the trailing zeros are cut ("1.5", "0.25", and
 * "10." for ten CPUs, as upstream does).
 */
export function decimalCpus(nanos: number): string {
    if (nanos === 0) return "0";
    const whole = Math.floor(nanos / 1e9);
    const nine = `${whole}.${String(nanos % 1e9).padStart(9, "0")}`;
    if ((nine.match(/0/g) ?? []).length === 9) {
        // big.Rat's FloatString(1): rounded to one decimal, halves away from zero.
        const tenths = Math.round(nanos / 1e8);
        return `${Math.floor(tenths / 10)}.${tenths % 10}`;
    }
    return nine.replace(/0+$/, "");
}
