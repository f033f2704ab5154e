// mandi's TypeScript SDK: the generated messages and services (./gen, from proto/ by
// `buf generate`) and a thin client with session handling.
export * from "./client";
export * from "./errors";
export * from "./money";
