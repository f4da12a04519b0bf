/**
 * The images the e2e tests run on. No image registry can be reached, so everything is built
 * here: a Debian base from debootstrap, then from it a Node base and stand-ins for the images the
 * stack pulls (MySQL, Jupyter), and an Elasticsearch stand-in on the Node base
 * (test/e2e/fixtures; each Dockerfile says what it imitates and what it does not). These are
 * kept between runs and reused while what they were built from is unchanged; only the app images
 * a run builds are removed afterwards.
 *
 * Every stand-in has an explicit tag other than `latest`, as the stack's config requires of the
 * images it is pointed at (`mysqlImage`, `elasticsearchImage`, `jupyterImage` + `jupyterTag`,
 * `appNodeImage`).
 *
 * Builds use the default bridge network: the Debian mirror is plain HTTP and the npm registry is
 * reached as from the host. What the host needs to reach them is handed on: its proxy variables
 * (Docker's predefined proxy build args), its npm registry, and its local certificate
 * authorities (for a TLS-inspecting proxy) into the Node base.
 */
import { spawn, spawnSync } from "child_process";
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { docker, dockerRun, imageId, LABEL } from "./docker";

export const FIXTURES = path.join(__dirname, "..", "fixtures");

/** The Jupyter stand-in, split as the stack's config splits it (`jupyterImage`, `jupyterTag`). */
export const JUPYTER_STANDIN = { repository: "sb-e2e/jupyter-standin", tag: "bookworm" } as const;

export const IMAGES = {
  debian: "sb-e2e/debian:bookworm",
  /** For `appNodeImage`: the official node image's user and commands. */
  node: "sb-e2e/node:bookworm",
  /** For `mysqlImage`: MariaDB behind the mysql:5.7 image's entrypoint contract. */
  mysql: "sb-e2e/mysql-standin:5.7",
  /** For `elasticsearchImage`: a Node server imitating the 7.x image where the stack touches it. */
  elasticsearch: "sb-e2e/elasticsearch-standin:7",
  /** For `jupyterImage`:`jupyterTag`: Jupyter Server behind the notebook images' start-up contract. */
  jupyter: `${JUPYTER_STANDIN.repository}:${JUPYTER_STANDIN.tag}`,
  /** A node of the three-node test swarm: Debian's docker.io, `dockerd` as its command (fixtures/swarm-node). */
  swarmNode: "sb-e2e/swarm-node:bookworm",
} as const;

const DEBIAN_SUITE = "bookworm";
const DEBIAN_MIRROR = "http://deb.debian.org/debian";
const LOCAL_CA_DIR = "/usr/local/share/ca-certificates";
const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
/** The label holding a digest of what a base image was built from. */
const SOURCE_LABEL = `${LABEL}.source`;

/** The host's proxy variables as `--build-arg`s (Docker predefines these args; none is needed here). */
export function proxyBuildArgs(): string[] {
  const args: string[] = [];
  for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"]) {
    for (const variant of [name, name.toLowerCase()]) {
      const value = process.env[variant];
      if (value) args.push("--build-arg", `${variant}=${value}`);
    }
  }
  return args;
}

function npmConfig(key: string): string {
  const run = spawnSync("npm", ["config", "get", key], { encoding: "utf8", timeout: 30_000 });
  const value = run.status === 0 ? run.stdout.trim() : "";
  return value === "undefined" || value === "null" ? "" : value;
}

/** How a base image came to be, for the closing summary. */
export interface Prepared {
  tag: string;
  reused: boolean;
  seconds: number;
}

/** The Debian base: reused when the tag exists, else debootstrap + `docker import` (needs root). */
export async function ensureDebianBase(): Promise<Prepared> {
  const started = Date.now();
  if ((await imageId(IMAGES.debian)) !== null) return { tag: IMAGES.debian, reused: true, seconds: 0 };
  if (process.getuid?.() !== 0) {
    throw new Error(`${IMAGES.debian} is missing and only root can create it with debootstrap; run the tests as root once`);
  }
  if (spawnSync("debootstrap", ["--version"]).error) {
    throw new Error(`${IMAGES.debian} is missing and debootstrap is not installed (test/e2e/ensure-engine.sh installs it)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-rootfs-"));
  try {
    await run("debootstrap", ["--variant=minbase", DEBIAN_SUITE, dir, DEBIAN_MIRROR]);
    // The downloaded packages and package lists are debootstrap's working files (80 MB); every
    // image built on this base runs `apt-get update` itself.
    for (const [sub, isWorkFile] of [
      ["var/cache/apt/archives", (name: string) => name.endsWith(".deb")],
      ["var/lib/apt/lists", (name: string) => name !== "lock" && name !== "partial"],
    ] as const) {
      for (const name of fs.readdirSync(path.join(dir, sub)).filter(isWorkFile)) fs.rmSync(path.join(dir, sub, name));
    }
    await pipe(["tar", "-C", dir, "-c", "."], ["docker", "import", "--change", 'CMD ["bash"]', "-", IMAGES.debian]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { tag: IMAGES.debian, reused: false, seconds: (Date.now() - started) / 1000 };
}

/**
 * A base image built from a fixture folder. It is reused while its label matches a digest of the
 * build context, the build args and the parent image's id, so a changed fixture or a re-created
 * parent rebuilds it, and an unchanged one costs nothing.
 */
async function ensureFixtureImage(options: {
  tag: string;
  fixture: string;
  parent: string;
  buildArgs: Record<string, string>;
  extraFiles?: Record<string, string>;
}): Promise<Prepared> {
  const started = Date.now();
  const context = fs.mkdtempSync(path.join(os.tmpdir(), "sb-e2e-context-"));
  try {
    fs.cpSync(path.join(FIXTURES, options.fixture), context, { recursive: true });
    for (const [name, source] of Object.entries(options.extraFiles ?? {})) {
      fs.mkdirSync(path.dirname(path.join(context, name)), { recursive: true });
      fs.copyFileSync(source, path.join(context, name));
    }
    const digest = crypto.createHash("sha256");
    digest.update(`parent ${await imageId(options.parent)}\n`);
    for (const [key, value] of Object.entries(options.buildArgs).sort()) digest.update(`arg ${key}=${value}\n`);
    for (const file of listFiles(context)) {
      digest.update(`file ${file}\n`);
      digest.update(fs.readFileSync(path.join(context, file)));
    }
    const source = digest.digest("hex");

    const current = await dockerRun(["image", "inspect", "--format", `{{ index .Config.Labels "${SOURCE_LABEL}" }}`, options.tag]);
    if (current.code === 0 && current.stdout.trim() === source) return { tag: options.tag, reused: true, seconds: 0 };

    const args = Object.entries(options.buildArgs).flatMap(([key, value]) => ["--build-arg", `${key}=${value}`]);
    await docker(
      ["build", "--force-rm", "--label", `${LABEL}=base`, "--label", `${SOURCE_LABEL}=${source}`, ...args, ...proxyBuildArgs(), "-t", options.tag, context],
      { timeoutMs: 600_000 },
    );
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
  }
  return { tag: options.tag, reused: false, seconds: (Date.now() - started) / 1000 };
}

/** The host's local CAs, and npm's own CA file when it is not the system bundle. */
function hostCertificateAuthorities(): Record<string, string> {
  const files: Record<string, string> = {};
  if (fs.existsSync(LOCAL_CA_DIR)) {
    for (const file of listFiles(LOCAL_CA_DIR).filter((f) => f.endsWith(".crt"))) {
      files[path.join("extra-ca", file)] = path.join(LOCAL_CA_DIR, file);
    }
  }
  const npmCafile = npmConfig("cafile");
  if (npmCafile && path.resolve(npmCafile) !== SYSTEM_CA_BUNDLE && fs.existsSync(npmCafile)) {
    files[path.join("extra-ca", "npm-cafile.crt")] = npmCafile;
  }
  return files;
}

/**
 * Every base image the tests need, built or reused. The Debian base comes first; the Node base
 * and the MySQL and Jupyter stand-ins are built from it side by side, the Elasticsearch stand-in
 * as soon as the Node base is there. Listed in that order.
 */
export async function ensureBaseImages(): Promise<Prepared[]> {
  const debian = await ensureDebianBase();
  const fromDebian = (tag: string, fixture: string, buildArgs: Record<string, string> = {}, extraFiles?: Record<string, string>) =>
    ensureFixtureImage({ tag, fixture, parent: IMAGES.debian, buildArgs: { DEBIAN_IMAGE: IMAGES.debian, ...buildArgs }, extraFiles });

  const node = fromDebian(
    IMAGES.node,
    "node-base",
    { NPM_REGISTRY: npmConfig("registry") || "https://registry.npmjs.org/" },
    hostCertificateAuthorities(),
  );
  const elasticsearch = node.then(() =>
    ensureFixtureImage({
      tag: IMAGES.elasticsearch,
      fixture: "elasticsearch-standin",
      parent: IMAGES.node,
      buildArgs: { NODE_IMAGE: IMAGES.node },
    }),
  );
  const mysql = fromDebian(IMAGES.mysql, "mysql-standin");
  const jupyter = fromDebian(IMAGES.jupyter, "jupyter-standin");
  // allSettled: a failed build does not leave the others running unobserved.
  const results = await Promise.allSettled([node, mysql, jupyter, elasticsearch]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) throw new Error([...new Set(failed.map((r) => String(r.reason)))].join("\n"));
  return [debian, ...results.map((r) => (r as PromiseFulfilledResult<Prepared>).value)];
}

/**
 * The image of the test swarm's nodes (test/e2e/support/swarmCluster.ts), built on the Debian
 * base or reused; only the suites that start such a swarm need it, so the global setup leaves it.
 */
export async function ensureSwarmNodeImage(): Promise<Prepared> {
  await ensureDebianBase();
  return ensureFixtureImage({ tag: IMAGES.swarmNode, fixture: "swarm-node", parent: IMAGES.debian, buildArgs: { DEBIAN_IMAGE: IMAGES.debian } });
}

export interface Build {
  seconds: number;
  output: string;
}

/** Builds the app's Dockerfile from `context` on the local Node base. */
export async function buildApp(context: string, tag: string): Promise<Build> {
  const started = Date.now();
  const run = await dockerRun(
    ["build", "--force-rm", "--label", `${LABEL}=app`, "--build-arg", `NODE_IMAGE=${IMAGES.node}`, ...proxyBuildArgs(), "-t", tag, context],
    { timeoutMs: 600_000 },
  );
  const output = `${run.stdout}\n${run.stderr}`;
  if (run.code !== 0) throw new Error(`building ${tag} from ${context} failed:\n${output.slice(-4000)}`);
  return { seconds: (Date.now() - started) / 1000, output };
}

/** Relative paths of all files under `dir`, sorted. */
function listFiles(dir: string, prefix = ""): string[] {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) => {
      const rel = path.join(prefix, entry.name);
      return entry.isDirectory() ? listFiles(dir, rel) : entry.isFile() ? [rel] : [];
    })
    .sort();
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}:\n${stderr}`))));
  });
}

/** `from | to`, failing when either side fails. */
function pipe(from: string[], to: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const producer = spawn(from[0], from.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    const consumer = spawn(to[0], to.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    consumer.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    producer.stdout.pipe(consumer.stdin);
    let pending = 2;
    const done = (name: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`${name} exited ${code}: ${stderr}`));
      else if (--pending === 0) resolve();
    };
    producer.on("error", reject).on("exit", done(from[0]));
    consumer.on("error", reject).on("exit", done(to[0]));
  });
}
