#!/usr/bin/env bash
# Drops the per-test databases earlier runs left behind (tests create mandi_test_<uuid>).
set -euo pipefail
url=${MANDI_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
psql -q -X -At "$url" -c "SELECT datname FROM pg_database WHERE datname LIKE 'mandi_test_%'" |
  while read -r db; do
    psql -q -X "$url" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
  done
