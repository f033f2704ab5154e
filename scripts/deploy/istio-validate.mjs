// Validates Istio objects against the schemas of Istio's own CRDs (crd-all.gen.yaml of
// Istio 1.29, compiled by the npm package @kubernetes-models/istio) and refuses fields the
// CRDs do not define, as `kubectl apply --validate=strict` would.
//
// Usage: node istio-validate.mjs <tools/deploy/node_modules> < objects.json
// (a JSON array of objects; prints one line per problem, exits 1 if any).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));

// Wraps an object so that every property the validator reads is recorded: a property it
// never reads is not in the schema. Objects the validator enumerates (maps) accept any key.
function watch(value, path, seen) {
  if (value === null || typeof value !== "object") return value;
  const record = { read: new Set(), enumerated: false, value };
  seen.set(path, record);
  const children = Array.isArray(value)
    ? value.map((v, i) => watch(v, `${path}/${i}`, seen))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, watch(v, `${path}/${k}`, seen)]));
  return new Proxy(children, {
    get(target, key, receiver) {
      if (typeof key === "string") record.read.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === "string") record.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      record.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

function schemaModule(apiVersion, kind) {
  const [group, version] = apiVersion.split("/");
  const camel = group
    .split(".")
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join("");
  const name = `${camel}${version[0].toUpperCase()}${version.slice(1)}${kind}`;
  return join(modules, "@kubernetes-models/istio/_schemas", `${name}.js`);
}

let problems = 0;
let checked = 0;
for (const object of objects) {
  const label = `${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name}`;
  let validate;
  try {
    ({ validate } = await import(pathToFileURL(schemaModule(object.apiVersion, object.kind))));
  } catch {
    console.log(`${label}: no Istio schema for ${object.apiVersion} ${object.kind}`);
    problems++;
    continue;
  }
  const seen = new Map();
  const valid = validate(watch(object, "", seen));
  if (!valid) {
    for (const error of validate.errors) {
      console.log(`${label}: ${error.instancePath || "/"}: ${error.keyword} ${JSON.stringify(error.params)}`);
      problems++;
    }
  }
  const unknown = [];
  for (const [path, record] of seen) {
    if (Array.isArray(record.value) || record.enumerated) continue;
    // metadata is ObjectMeta, checked by the API server, not by the CRD.
    if (path === "/metadata" || path.startsWith("/metadata/")) continue;
    for (const key of Object.keys(record.value)) {
      if (!record.read.has(key)) unknown.push(`${path}/${key}`);
    }
  }
  for (const path of unknown) {
    if (!unknown.some((other) => other !== path && path.startsWith(`${other}/`))) {
      console.log(`${label}: unknown field ${path}`);
      problems++;
    }
  }
  checked++;
}
console.log(`istio: ${checked} objects checked against the Istio CRD schemas, ${problems} problems`);
process.exit(problems === 0 ? 0 : 1);
