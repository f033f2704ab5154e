// The storefront calls grpc-web on its own origin (`/<package.Service>/<Method>`): in
// production the gateway serves both this build and those calls. In `npm run dev` and
// `vite preview` the same paths are proxied to a gateway (MANDI_API, default the
// `make run` one on 8080), so the code never needs CORS or a second origin.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const api = process.env.MANDI_API ?? "http://127.0.0.1:8080";
const proxy = { "^/mandi\\.[a-z]+\\.v1\\.": { target: api, changeOrigin: false } };

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@mandi\/sdk$/, replacement: fileURLToPath(new URL("../sdk/ts/src/index.ts", import.meta.url)) },
      { find: /^@mandi\/sdk\//, replacement: fileURLToPath(new URL("../sdk/ts/src/", import.meta.url)) },
    ],
    // The SDK's sources live outside this package: resolve its runtime from web/node_modules,
    // so there is one copy of each (and sdk/ts needs no install to build the storefront).
    dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"],
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  server: { host: "127.0.0.1", proxy, fs: { allow: [".."] } },
  preview: { host: "127.0.0.1", proxy },
  build: { target: "es2022", sourcemap: true },
});
