// What the package ships, file by file: each .js and .wasm file of a packed package directory
// (snippets/ included), raw and gzip -9 (Node's zlib, each file on its own, as a server or CDN
// sends it). One count for `make test`'s budget (size-budget.mjs) and `make bench`'s size
// section (bench/size.mjs).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const walk = (dir) => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]));

/** `[{ file, raw, gzip9 }]`, largest first. */
export function packageBytes(dir) {
  return walk(dir)
    .filter((p) => p.endsWith(".js") || p.endsWith(".wasm"))
    .map((p) => {
      const bytes = readFileSync(p);
      return { file: relative(dir, p), raw: bytes.length, gzip9: gzipSync(bytes, { level: 9 }).length };
    })
    .sort((a, b) => b.raw - a.raw);
}
