#!/usr/bin/env bash
# Makes sure PostgreSQL answers on 127.0.0.1:5432 with trust auth for user postgres,
# installing it from Debian's packages and starting it when needed. Idempotent.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ready && exit 0
installed_here=false
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian's packages" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  installed_here=true
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if $installed_here; then
  # A test-only server: trust local connections, as the tests connect as postgres
  # without a password.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  sed -i -E 's/^(host|local)(\s+all\s+all.*)\s(scram-sha-256|md5|peer)$/\1\2 trust/' "$hba"
  sed -i -E 's/^(local\s+all\s+postgres\s+)peer$/\1trust/' "$hba"
fi
echo "starting PostgreSQL $version" >&2
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
