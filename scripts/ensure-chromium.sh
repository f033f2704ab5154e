#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the storefront's browser tests
# (playwright-core drives it; no browser is downloaded by npm). Idempotent: installs the
# `chromium` package only when the binary is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing and installing it needs root: apt-get install -y chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
[ -x /usr/bin/chromium ] || { echo "apt-get installed chromium but /usr/bin/chromium is missing" >&2; exit 1; }
/usr/bin/chromium --version
