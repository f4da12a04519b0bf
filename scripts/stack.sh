#!/usr/bin/env bash
# Runs a Pulumi command against one stack of this project, with nothing to set up first:
#
#   scripts/stack.sh up                          # the dev stack
#   STACK=prod scripts/stack.sh preview
#   scripts/stack.sh stack output --show-secrets
#
# - State: $PULUMI_BACKEND_URL when set (a team's shared backend, e.g. s3://...), otherwise
#   a file backend in .pulumi/ inside this project (ignored by git): no Pulumi account.
# - Secrets: the passphrase provider. The passphrase comes from $PULUMI_CONFIG_PASSPHRASE or
#   $PULUMI_CONFIG_PASSPHRASE_FILE when set, otherwise from .pulumi/passphrase, generated on
#   first use and readable by you alone. Keep it: the stack's secrets cannot be read without it.
# - The stack is created on first use; preview and up load the policy pack in policy/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ $# -eq 0 ]; then
    echo "usage: $0 <pulumi command> [flags]   (stack: \$STACK, default dev)" >&2
    exit 2
fi
if ! command -v pulumi >/dev/null 2>&1; then
    echo "The Pulumi CLI is not installed; see https://www.pulumi.com/docs/iac/download-install/" >&2
    exit 1
fi
stack=${STACK:-dev}

if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p .pulumi
    export PULUMI_BACKEND_URL="file://$PWD/.pulumi"
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    passphrase_file="$PWD/.pulumi/passphrase"
    if [ ! -s "$passphrase_file" ]; then
        mkdir -p .pulumi
        (umask 077 && head -c 32 /dev/urandom | base64 >"$passphrase_file")
        echo "Generated $passphrase_file, the key to this stack's secrets: back it up." >&2
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$passphrase_file"
fi
[ -d node_modules ] || npm ci

pulumi stack select --create --secrets-provider passphrase "$stack"
case "$1" in
    preview | up | update) exec pulumi "$@" --stack "$stack" --policy-pack policy ;;
    *) exec pulumi "$@" --stack "$stack" ;;
esac
