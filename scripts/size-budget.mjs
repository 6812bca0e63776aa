// `make test-size`: the packed package (.build/packed/edge-caches) against size-budget.json, as
// bench/size.mjs counts it (each .wasm and .js file gzip -9 on its own, summed). Fails past the
// budget, saying by how much and what each file takes.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, ".build/packed/edge-caches");
const { package: budget } = JSON.parse(readFileSync(join(root, "size-budget.json"), "utf8"));
const walk = (d) => readdirSync(d).flatMap((name) => (statSync(join(d, name)).isDirectory() ? walk(join(d, name)) : [join(d, name)]));
const files = walk(dir)
  .filter((p) => p.endsWith(".js") || p.endsWith(".wasm"))
  .map((p) => ({ file: relative(dir, p), gzip9: gzipSync(readFileSync(p), { level: 9 }).length }));
const total = files.reduce((n, f) => n + f.gzip9, 0);
const detail = files.map((f) => `${f.file} ${f.gzip9}`).join(", ");
if (total > budget) {
  console.error(`size: the package is ${total} B gzip -9, ${total - budget} B over size-budget.json's ${budget} (${detail})`);
  process.exit(1);
}
console.log(`size: ${total} B gzip -9 of ${budget} (${detail})`);
