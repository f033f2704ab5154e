// Bundles the TypeScript SDK (sdk/ts) into one ES module for the Node side of the browser
// tests, which stock products and sign in an admin through grpc-web like any client.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  logLevel: "warn",
  build: {
    lib: { entry: fileURLToPath(new URL("../../sdk/ts/src/index.ts", import.meta.url)), formats: ["es"], fileName: () => "mandi-sdk.mjs" },
    outDir: fileURLToPath(new URL("./.sdk", import.meta.url)),
    emptyOutDir: true,
    target: "node20",
    minify: false,
  },
  resolve: { dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"] },
});
