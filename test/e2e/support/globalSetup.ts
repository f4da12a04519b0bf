/**
 * Before the real-engine suites start (side by side, in several workers): the base and
 * stand-in images they all run on, built or reused once here, so that no two workers build
 * the same image at the same time; and the engine made a one-node swarm for the swarm suite,
 * while no container runs. It is left again by globalTeardown.ts once every suite is done:
 * leaving a swarm breaks the name resolution of containers running on bridge networks at that
 * moment (tried here: a running container's `getent hosts <alias>` fails from then on), which
 * would break the suites that run beside the swarm one. Without an engine, nothing: the suites
 * skip themselves.
 */
import { engineAnswers } from "./docker";
import { ensureBaseImages } from "./images";
import { joinSwarm } from "./swarm";

/** Where the setup leaves the teardown the swarm to leave (Jest shares globals between the two). */
export const LEAVE_SWARM = "__sbE2eLeaveSwarm";

export default async function globalSetup(): Promise<void> {
    if (!engineAnswers().ok) return;
    const started = Date.now();
    const prepared = await ensureBaseImages();
    const built = prepared.filter((p) => !p.reused).map((p) => `${p.tag} ${p.seconds.toFixed(1)} s`);
    (globalThis as Record<string, unknown>)[LEAVE_SWARM] = await joinSwarm();
    process.stderr.write(`\ne2e: base and stand-in images ready, and a swarm, in ${((Date.now() - started) / 1000).toFixed(1)} s (built: ${built.join(", ") || "none, all reused"})\n`);
}
