#!/usr/bin/env bash
# Make sure a Docker engine answers before the e2e tests run.
#
# As root on Debian, installs with apt what is missing of docker.io, debootstrap,
# docker-compose, docker-registry and chromium; then, unless `docker info` already works, starts
# dockerd in the background with its log in a temporary file, and waits until `docker info` answers.
# Exits non-zero with a message saying what is missing when it cannot.
set -euo pipefail

timeout_s="${ENGINE_WAIT_SECONDS:-60}"

say() { printf 'ensure-engine: %s\n' "$*" >&2; }

# What the suites need besides the engine: debootstrap for the base image, docker-compose for
# the guide's own deployment (the adoption suite), docker-registry (the CNCF Distribution
# registry, /usr/bin/docker-registry) for the Swarm tests' local registry, which the test support
# starts itself on a loopback port (test/e2e/support/swarm.ts), chromium (Debian's headless-capable
# browser, /usr/bin/chromium) for the dashboard's real-browser suite, which fails, not skips,
# without it (test/e2e/dashboard-browser.e2e.test.ts). Installed when missing and this runs as root.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${missing[*]}, and this script cannot install them (it needs root and apt-get)"
  else
    say "installing ${missing[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
  fi
fi

if docker info >/dev/null 2>&1; then
  say "a Docker engine already answers"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  say "no Docker engine answers and this script is not running as root, so it cannot start one"
  say "start dockerd yourself (or run this script as root) and retry"
  exit 1
fi
command -v dockerd >/dev/null 2>&1 || { say "dockerd could not be installed"; exit 1; }

# The Docker CLI may come from another package than the daemon; both must be on PATH.
command -v docker >/dev/null 2>&1 || { say "dockerd is installed but the docker CLI is not on PATH"; exit 1; }

log="$(mktemp -d)/dockerd.log"
say "starting dockerd (log: $log)"
# setsid + nohup: the daemon outlives this script and the shell that ran it.
setsid nohup dockerd >"$log" 2>&1 </dev/null &
pid=$!

for _ in $(seq 1 "$timeout_s"); do
  if docker info >/dev/null 2>&1; then
    say "Docker engine ready (dockerd pid $pid)"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    say "dockerd exited during start-up; last lines of $log:"
    tail -n 20 "$log" >&2 || true
    exit 1
  fi
  sleep 1
done

say "dockerd did not answer within ${timeout_s}s; last lines of $log:"
tail -n 20 "$log" >&2 || true
exit 1
