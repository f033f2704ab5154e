#!/usr/bin/env bash
# Builds the storefront: installs the pinned npm packages of sdk/ts and web (npm ci, from
# their package-lock.json; skipped while node_modules matches the lock), generates the
# TypeScript SDK from proto/ with buf and the local protoc-gen-es plugin, type-checks,
# and bundles web/ into web/dist (which the gateway serves at /) and the SDK for the
# browser tests' Node side into web/e2e/.sdk. Offline once the npm
# cache holds the packages. Needs buf from `make tools`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

install() {
  local dir="$1"
  # npm ci writes node_modules/.package-lock.json; equal to the lock means up to date.
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

install "$root/sdk/ts"
install "$root/web"
[ -x "$root/tools/node_modules/.bin/buf" ] || "$root/scripts/install-tools.sh"
(cd "$root/sdk/ts" && "$root/tools/node_modules/.bin/buf" generate && node_modules/.bin/tsc -p .)
(cd "$root/web" && "$root/sdk/ts/node_modules/.bin/tsc" -p . && npx --no-install vite build --logLevel warn)
# The same SDK as one ES module for Node: the browser tests stock products through it.
(cd "$root/web" && npx --no-install vite build --config e2e/sdk.vite.config.mjs)
echo "storefront built in web/dist"
