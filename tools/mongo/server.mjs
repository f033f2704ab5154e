// Starts CongoDB, an in-memory MongoDB wire-protocol server from @push.rocks/smartmongo
// (unpacked into vendor/smartmongo by scripts/ensure-mongo.sh), for the Mongo integration
// tests: no real mongod installs here. Listens on 127.0.0.1:$MANDI_MONGO_PORT (27017),
// prints one "ready" line once it accepts connections, stops on SIGTERM/SIGINT and exits
// non-zero when it cannot start. Data lives only as long as the process.
//
// Only the congodb/ module is imported: the package's main entry pulls in
// mongodb-memory-server, which downloads a mongod binary and is not installed.
import { CongoServer } from './vendor/smartmongo/dist_ts/congodb/index.js';

const host = '127.0.0.1';
const port = Number(process.env.MANDI_MONGO_PORT ?? 27017);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`mongo: MANDI_MONGO_PORT is not a port: ${process.env.MANDI_MONGO_PORT}`);
  process.exit(64);
}

const server = new CongoServer({ port, host, storage: 'memory' });
try {
  await server.start();
} catch (err) {
  console.error(`mongo: cannot listen on ${host}:${port}: ${err?.message ?? err}`);
  process.exit(1);
}
console.log(`mongo: CongoDB (smartmongo 2.2.0, in memory) ready on mongodb://${host}:${port} pid ${process.pid}`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`mongo: ${signal}, stopping`);
  try {
    await server.stop();
    process.exit(0);
  } catch (err) {
    console.error(`mongo: stop failed: ${err?.message ?? err}`);
    process.exit(1);
  }
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
