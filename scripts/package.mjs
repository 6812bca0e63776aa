// Assembles the npm package in pkg/ from the wasm-bindgen output in .build/wasm and the
// hand-written files in npm/. wasm-pack writes one target's package.json without `exports`;
// edge-caches needs one package with an entry per runtime, so it is written here.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { transformSync } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const wasmOut = join(root, ".build/wasm");
const pkg = join(root, "pkg");

const cargo = readFileSync(join(root, "Cargo.toml"), "utf8");
const field = (name) => cargo.match(new RegExp(`^${name} = "(.*)"`, "m"))[1];

rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg);
for (const file of ["edge_caches.js", "edge_caches_bg.wasm", "snippets"]) {
  cpSync(join(wasmOut, file), join(pkg, file), { recursive: true });
}

// wasm-bindgen names the snippet folder after a hash of the crate; find it.
const [snippetDir] = readdirSync(join(pkg, "snippets"));
const runtime = `./snippets/${snippetDir}/src/js/runtime.js`;
if (!existsSync(join(pkg, runtime))) throw new Error(`no runtime.js at ${runtime}`);

const cache = readFileSync(join(root, "npm/cache.js"), "utf8").replaceAll("@@RUNTIME@@", runtime);
writeFileSync(join(pkg, "cache.js"), cache);
for (const file of ["index.js", "node.js", "deno.js", "workerd.js", "index.d.ts"]) {
  cpSync(join(root, "npm", file), join(pkg, file));
}
cpSync(join(root, "README.md"), join(pkg, "README.md"));

// The JavaScript every user downloads is minified (about half the bytes after gzip). With no
// `format`, esbuild keeps top-level names (`Cache.name`, `CacheError` in stack traces), and
// not `keepNames`, which would wrap every closure a call creates in a naming helper (measured:
// 3% of a call). The entry files stay as written: they are a few lines each, and deno.js uses
// `import source`, which esbuild does not parse.
for (const file of ["edge_caches.js", "cache.js", runtime]) {
  const path = join(pkg, file);
  const { code } = transformSync(readFileSync(path, "utf8"), {
    minify: true,
    target: "es2022",
    legalComments: "none",
  });
  writeFileSync(path, code);
}

const manifest = {
  name: "edge-caches",
  version: field("version"),
  description: field("description"),
  license: field("license"),
  repository: field("repository"),
  type: "module",
  types: "./index.d.ts",
  // The first condition a runtime matches wins, so the specific runtimes come before "node"
  // (Deno and Bun match "node" too, and workerd with nodejs_compat may).
  exports: {
    ".": {
      types: "./index.d.ts",
      workerd: "./workerd.js",
      worker: "./workerd.js",
      deno: "./deno.js",
      bun: "./node.js",
      node: "./node.js",
      browser: "./index.js",
      import: "./index.js",
      default: "./index.js",
    },
    "./package.json": "./package.json",
  },
  files: ["*.js", "*.d.ts", "edge_caches_bg.wasm", "snippets/"],
  // Every entry instantiates the wasm when imported: bundlers must keep them.
  sideEffects: ["./node.js", "./index.js", "./deno.js", "./workerd.js", "./cache.js"],
  engines: { node: ">=18" },
  keywords: ["cache", "redis", "upstash", "wasm", "cloudflare-workers", "deno", "edge"],
};
writeFileSync(join(pkg, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`pkg/: edge-caches ${manifest.version}`);
