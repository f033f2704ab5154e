#!/usr/bin/env bash
# Makes sure Redis answers on 127.0.0.1:6379, installing it from Debian's packages and
# starting it (no persistence) when needed. Idempotent.
set -euo pipefail

ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

ready && exit 0
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing Redis from Debian's packages" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null
fi
echo "starting Redis" >&2
mkdir -p /var/lib/redis /var/log/redis
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
  --dir /var/lib/redis --logfile /var/log/redis/ci.log
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "Redis did not come up on 127.0.0.1:6379" >&2
exit 1
