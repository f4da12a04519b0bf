/**
 * Run before every unit test file (jest.config.js, `setupFilesAfterEnv`). The tests load a fresh
 * Pulumi SDK for every program run (test/support/program.ts); two things the SDK does on each
 * load or resource cost most of that time under Jest without being used here. Neither changes
 * what a program declares or what a test sees.
 */

/**
 * A module loaded on first use. On every load the SDK `require`s modules that a program run
 * against mocks never uses: `@npmcli/arborist` and `typescript`, for serialising JavaScript
 * functions into closures (`computeCodePaths`, `parseFunction`), and its own Automation API.
 * They were nearly half of each load. Reports `__esModule` itself so that `__importStar` hands
 * this proxy back instead of copying (and so loading) every export; anything that does use one
 * (the stack command's tests use the Automation API) gets the real module through it.
 */
function loadedOnFirstUse(name: string): object {
    let actual: Record<string | symbol, unknown> | undefined;
    const load = () => (actual ??= jest.requireActual<Record<string | symbol, unknown>>(name));
    return new Proxy(
        {},
        {
            get: (_, key) => (key === "__esModule" ? true : load()[key]),
            has: (_, key) => key in load(),
            ownKeys: () => Reflect.ownKeys(load()),
            getOwnPropertyDescriptor: (_, key) => ({ ...Reflect.getOwnPropertyDescriptor(load(), key), configurable: true }),
        },
    );
}
jest.mock("@npmcli/arborist", () => loadedOnFirstUse("@npmcli/arborist"));
jest.mock("typescript", () => loadedOnFirstUse("typescript"));
jest.mock("@pulumi/pulumi/automation", () => loadedOnFirstUse("@pulumi/pulumi/automation"));

/**
 * The SDK records a stack trace on every promise it makes (`debuggablePromise`), shown only when
 * a Pulumi process exits with promises left over, which Jest never lets happen. Jest maps every
 * stack trace through the source maps of each file in it; for these stacks that was another third
 * of each run. They are written out as Node does without source maps, and only if something reads
 * them as text; every other stack, including every failure a test reports, is still mapped.
 */
const mapped = Error.prepareStackTrace?.bind(Error);
/** V8's own rendering of a frame (`CallSite` has it, its type does not say so). */
const frameText = (frame: NodeJS.CallSite) => (frame as unknown as { toString(): string }).toString();
if (mapped) {
    Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]): unknown =>
        frames[0]?.getFunctionName() === "debuggablePromise"
            ? { toString: () => `${String(error)}${frames.map((frame) => `\n    at ${frameText(frame)}`).join("")}` }
            : mapped(error, frames);
}
