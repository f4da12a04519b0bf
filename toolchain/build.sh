#!/usr/bin/env bash
# Builds the pinned Pulumi toolchain from the Go module proxy, with the Go client, into a cache
# outside the clone, and reuses it when it is there:
#
#   $PULUMI_TOOLCHAIN_DIR (default ~/.cache/smart-building-stack/pulumi/v3.248.0)/bin/pulumi
#
# What is built: the Pulumi CLI v3.248.0 (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi), through the
# small consumer module in toolchain/pulumi-cli (go.mod pins pkg/v3 and sdk/v3 at v3.248.0 and
# restates the one third-party `replace` of pkg/v3's own go.mod), with the release's version stamped
# in, as release builds do.
#
# What cannot be built here (the module proxy answers 403 "This module version is not available"
# for each, checked with `go list -m <module>@<version>`): the Node.js language host
# (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 at the v3.248.0 commit's
# pseudo-version v3.0.0-20260624120734-a88168d865b7), the Docker provider
# (github.com/pulumi/pulumi-docker/provider/v5 v5.2.0) and the random provider
# (github.com/pulumi/pulumi-random/provider/v4 v4.21.2). `--check` asks the proxy again and says
# which of them it serves now.
#
# Cost on 2 cores: about 3 minutes and 2.6 GB of module cache plus 1.7 GB of build cache cold
# (both under ~/go and ~/.cache/go-build, kept between runs); a few seconds when the binary is
# cached, and well under a minute to relink it from a warm Go cache.
set -euo pipefail

VERSION=v3.248.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${PULUMI_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/smart-building-stack/pulumi/$VERSION}"
say() { printf 'toolchain: %s\n' "$*" >&2; }

if [ "${1:-}" = "--check" ]; then
  cd "$here/pulumi-cli"
  for m in \
    "github.com/pulumi/pulumi/pkg/v3@$VERSION" \
    "github.com/pulumi/pulumi/sdk/v3@$VERSION" \
    "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@v3.0.0-20260624120734-a88168d865b7" \
    "github.com/pulumi/pulumi-docker/provider/v5@v5.2.0" \
    "github.com/pulumi/pulumi-random/provider/v4@v4.21.2"; do
    if out=$(GOFLAGS=-mod=mod go list -m "$m" 2>&1); then say "served: $out"; else say "refused: $m: $(printf '%s' "$out" | tail -1 | sed 's/^[[:space:]]*//')"; fi
  done
  exit 0
fi

if [ -x "$root/bin/pulumi" ] && [ "$("$root/bin/pulumi" version 2>/dev/null)" = "$VERSION" ]; then
  say "Pulumi CLI $VERSION already in $root/bin"
  exit 0
fi

command -v go >/dev/null 2>&1 || { say "Go is not installed: the CLI is built with it (Go 1.25 or later)"; exit 1; }
mkdir -p "$root/bin"
say "building the Pulumi CLI $VERSION into $root/bin (cold: about 3 minutes on 2 cores)"
started=$(date +%s)
(
  cd "$here/pulumi-cli"
  GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local go build -trimpath \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
    -o "$root/bin/pulumi.partial" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
)
mv "$root/bin/pulumi.partial" "$root/bin/pulumi"
say "built $("$root/bin/pulumi" version) in $(( $(date +%s) - started )) s ($(du -h "$root/bin/pulumi" | cut -f1))"
