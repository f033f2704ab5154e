#!/usr/bin/env bash
# Makes sure a MongoDB wire-protocol server answers on 127.0.0.1:$MANDI_MONGO_PORT (27017)
# for the Mongo integration tests. No mongod installs from the registries here, so when
# nothing answers this starts CongoDB, the in-memory wire-protocol server inside the npm
# package @push.rocks/smartmongo 2.2.0: its runtime dependencies are pinned in
# tools/mongo/package.json (its own dependency tree does not install), the package itself
# is fetched with `npm pack`, checked against its registry checksum and unpacked into
# tools/mongo/vendor/. Idempotent; nothing is installed outside the checkout.
# Clients connect with ?directConnection=true&serverMonitoringMode=poll (the Makefile's
# MANDI_TEST_MONGO_URL): CongoDB answers awaitable `hello`s at once instead of holding them,
# so a driver's streaming monitor would resend them in a tight loop.
# Stop it with: kill "$(cat tools/mongo/server.pid)"
set -euo pipefail
cd "$(dirname "$0")/../tools/mongo"

port=${MANDI_MONGO_PORT:-27017}
SMARTMONGO=@push.rocks/smartmongo@2.2.0
SMARTMONGO_INTEGRITY=sha512-ovVCNoJ3D0aBuKtoKaQWWQKvBngaGJq9fAPQigzji1EHsS1XyGpXWCpe5nq/ptGvBROOcpqZcOFEGAcrnb+OjA==

# Sends one OP_MSG `hello` to admin and succeeds only on a reply with ok: 1, so another
# program on the port does not pass for MongoDB. Plain Node, no driver: it runs before
# anything is installed.
HELLO_CHECK='
import net from "node:net";
const [host, port] = [process.argv[1], Number(process.argv[2])];
const cstr = (s) => Buffer.concat([Buffer.from(s, "utf8"), Buffer.alloc(1)]);
const i32 = (n) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const body = Buffer.concat([
  Buffer.from([0x10]), cstr("hello"), i32(1),
  Buffer.from([0x02]), cstr("$db"), i32(6), cstr("admin"), Buffer.alloc(1),
]);
const doc = Buffer.concat([i32(body.length + 4), body]);
const payload = Buffer.concat([i32(0), Buffer.from([0]), doc]); // flagBits, section kind 0
const header = Buffer.concat([i32(16 + payload.length), i32(4242), i32(0), i32(2013)]);
const fail = () => process.exit(1);
setTimeout(fail, 2000);
const sock = net.connect({ host, port }, () => sock.write(Buffer.concat([header, payload])));
sock.on("error", fail);
sock.on("close", fail);
let buf = Buffer.alloc(0);
sock.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  if (buf.length < 4 || buf.length < buf.readInt32LE(0)) return;
  if (buf.readInt32LE(8) !== 4242 || buf.readInt32LE(12) !== 2013 || buf[20] !== 0) fail();
  // Walk the reply document for a top-level "ok" equal to 1 (double, int32 or int64).
  let at = 25; const end = 21 + buf.readInt32LE(21) - 1;
  const fixed = { 1: 8, 7: 12, 8: 1, 9: 8, 10: 0, 16: 4, 17: 8, 18: 8, 19: 16 };
  while (at < end) {
    const type = buf[at]; const nameEnd = buf.indexOf(0, at + 1);
    const name = buf.toString("utf8", at + 1, nameEnd); at = nameEnd + 1;
    if (name === "ok") {
      const ok = type === 1 ? buf.readDoubleLE(at) : type === 16 ? buf.readInt32LE(at)
        : type === 18 ? Number(buf.readBigInt64LE(at)) : 0;
      process.exit(ok === 1 ? 0 : 1);
    }
    if (type in fixed) at += fixed[type];
    else if (type === 2) at += 4 + buf.readInt32LE(at);
    else if (type === 3 || type === 4) at += buf.readInt32LE(at);
    else if (type === 5) at += 5 + buf.readInt32LE(at);
    else fail();
  }
  fail();
});
'
ready() { node --input-type=module -e "$HELLO_CHECK" 127.0.0.1 "$port" 2>/dev/null; }

command -v node >/dev/null 2>&1 || { echo "node is needed to run the MongoDB test server" >&2; exit 1; }
ready && exit 0

# Runtime dependencies, pinned by package.json and package-lock.json; reinstalled when
# either changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ] ||
  { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  echo "installing the MongoDB test server's dependencies into tools/mongo" >&2
  npm install --no-audit --no-fund --loglevel=error
fi

if ! grep -qs '"version": "2.2.0"' vendor/smartmongo/package.json; then
  echo "unpacking $SMARTMONGO into tools/mongo/vendor" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  tarball=$(npm pack "$SMARTMONGO" --pack-destination "$work" --loglevel=error | tail -n 1)
  actual=sha512-$(node -e 'const fs = require("fs"), c = require("crypto");
    process.stdout.write(c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' \
    "$work/$tarball")
  if [ "$actual" != "$SMARTMONGO_INTEGRITY" ]; then
    echo "$SMARTMONGO: checksum $actual, expected $SMARTMONGO_INTEGRITY" >&2
    exit 1
  fi
  rm -rf vendor/smartmongo
  mkdir -p vendor/smartmongo
  tar -xzf "$work/$tarball" -C vendor/smartmongo --strip-components=1
fi

echo "starting CongoDB (in memory) on 127.0.0.1:$port, log in tools/mongo/server.log" >&2
# Own session, so a Ctrl-C on `make test` or the end of the calling shell leaves it running
# like the PostgreSQL and Redis servers.
MANDI_MONGO_PORT=$port setsid nohup node server.mjs </dev/null >>server.log 2>&1 &
pid=$!
for _ in $(seq 1 30); do
  if ready; then
    echo "$pid" >server.pid
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "CongoDB exited before answering on 127.0.0.1:$port; end of tools/mongo/server.log:" >&2
    tail -n 20 server.log >&2
    exit 1
  fi
  sleep 1
done
kill "$pid" 2>/dev/null || true
echo "CongoDB did not answer on 127.0.0.1:$port within 30 s; end of tools/mongo/server.log:" >&2
tail -n 20 server.log >&2
exit 1
