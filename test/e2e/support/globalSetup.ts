/**
 * Before the real-engine suites start (side by side, in several workers): the base and
 * stand-in images they all run on, built or reused once here, so that no two workers build
 * the same image at the same time. Without an engine, nothing: the suites skip themselves.
 */
import { engineAnswers } from "./docker";
import { ensureBaseImages } from "./images";

export default async function globalSetup(): Promise<void> {
    if (!engineAnswers().ok) return;
    const started = Date.now();
    const prepared = await ensureBaseImages();
    const built = prepared.filter((p) => !p.reused).map((p) => `${p.tag} ${p.seconds.toFixed(1)} s`);
    process.stderr.write(`\ne2e: base and stand-in images ready in ${((Date.now() - started) / 1000).toFixed(1)} s (built: ${built.join(", ") || "none, all reused"})\n`);
}
