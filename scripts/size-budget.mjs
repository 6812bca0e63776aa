// `make test-size`: the packed package (.build/packed/edge-caches) against size-budget.json,
// counted as bench/size.mjs counts it (package-bytes.mjs). Fails past the budget, saying by how
// much and what each file takes.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { packageBytes } from "./package-bytes.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { package: budget } = JSON.parse(readFileSync(join(root, "size-budget.json"), "utf8"));
const files = packageBytes(join(root, ".build/packed/edge-caches"));
const total = files.reduce((n, f) => n + f.gzip9, 0);
const detail = files.map((f) => `${f.file} ${f.gzip9}`).join(", ");
if (total > budget) {
  console.error(`size: the package is ${total} B gzip -9, ${total - budget} B over size-budget.json's ${budget} (${detail})`);
  process.exit(1);
}
console.log(`size: ${total} B gzip -9 of ${budget} (${detail})`);
