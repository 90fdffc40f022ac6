// Validates Kubernetes objects against the API's OpenAPI schemas with the
// npm package kubernetes-models (types, required fields, formats; it does
// not reject unknown fields). Reads a JSON array of objects on stdin;
// prints one line per problem and exits 1 if there is any.
import { readFileSync } from "node:fs";

const objs = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const o of objs) {
  const name = `${o.kind}/${o.metadata?.name}`;
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  const mod = group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
  let Model;
  try {
    Model = (await import(mod))[o.kind];
  } catch (e) {
    if (group.endsWith("kustomize.config.k8s.io")) continue; // not an API object
    console.log(`${name}: no schema for ${o.apiVersion} (${e.message})`);
    bad++;
    continue;
  }
  if (!Model) {
    console.log(`${name}: ${o.apiVersion} has no kind ${o.kind}`);
    bad++;
    continue;
  }
  try {
    new Model(o).validate();
  } catch (e) {
    console.log(`${name}: ${e.message}`);
    bad++;
  }
}
console.log(`${objs.length} objects checked, ${bad} invalid`);
process.exit(bad ? 1 : 0);
