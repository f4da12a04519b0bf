/**
 * After every real-engine suite: the engine leaves the swarm that globalSetup.ts made it join,
 * if it was not one before (see there why this waits until no suite runs).
 */
import { LEAVE_SWARM } from "./globalSetup";

export default async function globalTeardown(): Promise<void> {
    const leave = (globalThis as Record<string, unknown>)[LEAVE_SWARM] as (() => Promise<void>) | undefined;
    await leave?.();
}
