// Assembles the npm package in pkg/ from wasm-bindgen's output in .build/wasm (the glue and the
// wasm) and the hand-written files in npm/. wasm-pack writes one target's
// package.json without `exports`; edge-caches needs one package with an entry per runtime, so
// it is written here. Nothing generated is edited: esbuild bundles npm/edge_caches.js (the glue
// and the modules of npm/ it imports) into the one module every entry imports, and terser
// minifies it, renaming every name but the exported classes' (Cache.name stays "Cache").
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import binaryen from "binaryen";
import { buildSync } from "esbuild";
import { minify as terser } from "terser";

const root = new URL("..", import.meta.url).pathname;
const wasmOut = join(root, ".build/wasm");
const pkg = join(root, "pkg");

const cargo = readFileSync(join(root, "Cargo.toml"), "utf8");
const field = (name) => cargo.match(new RegExp(`^${name} = "(.*)"`, "m"))[1];

rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg);
copyFileSync(join(wasmOut, "edge_caches_bg.wasm"), join(pkg, "edge_caches_bg.wasm"));
const multiValue = multiValueExports(readFileSync(join(pkg, "edge_caches_bg.wasm")));
if (multiValue.length > 0) throw new Error(`package.mjs: exports ${multiValue.join(", ")} return several values (see Cargo.toml, [profile.release] strip)`);

// esbuild bundles `class Cache {}` as `var Cache = class {}`, whose name comes from the
// variable, and its identifier minifier renames every variable (keepNames undoes that with a
// call per function: larger). terser renames all names but the two that users see (Cache.name,
// CacheError's constructor.name): 0.9 KB gzipped less (docs/performance.md, *Size*).
const minify = async (code, properties) =>
  (
    await terser(code, {
      module: true,
      ecma: 2022,
      compress: { passes: 2 },
      mangle: { toplevel: true, reserved: ["Cache", "CacheError"], ...(properties && { properties: properties.mangle }) },
      ...(properties && { nameCache: properties.nameCache }),
      format: { comments: false },
    })
  ).code;

// The wasm's import and export names as scripts/finish-wasm.sh minified them (binaryen's map,
// `[module, name, minified]` per import and `[name, minified]` per export): terser renames the
// same names in the glue by it, as properties (the imports object's keys, `wasm.name`), and
// only those. 1.3 KB gzipped less (docs/performance.md, *Size*). The imports' module
// (wasm-bindgen's "./edge_caches_bg.js") is renamed too: to the one module the wasm imports from.
function wasmNames(wasm) {
  const map = JSON.parse(readFileSync(join(wasmOut, "wasm-names.json"), "utf8"));
  const [module, ...others] = importModules(wasm);
  if (others.length > 0) throw new Error(`package.mjs: the wasm imports from ${[module, ...others].join(", ")}, not one module`);
  const renames = new Map();
  for (const [from, name, minified] of map.imports) renames.set(from, module).set(name, minified);
  for (const [name, minified] of map.exports) renames.set(name, minified);
  return renames;
}

// The members of the glue's classes (`Engine`, `RestRequest`, as wasm-bindgen's .d.ts lists
// them): only the package's own modules call them, so terser renames them too, as it does the
// wasm's names, but for any name that users or a runtime also know, which it keeps: the public
// API's (npm/index.d.ts) and terser's list of DOM and built-in property names (`free`, `read`,
// `body`...; the list terser itself keeps unless told, in a file its package does not export).
// 0.1 KB gzipped less.
async function glueMembers() {
  const types = readFileSync(join(wasmOut, "edge_caches.d.ts"), "utf8");
  const api = readFileSync(join(root, "npm/index.d.ts"), "utf8");
  const { domprops } = await import(pathToFileURL(join(root, "node_modules/terser/tools/domprops.js")).href);
  const known = new Set(domprops);
  const members = new Set();
  for (const [, body] of types.matchAll(/^export class \w+ \{([\s\S]*?)^\}/gm)) {
    for (const [, name] of body.matchAll(/^ {4}(?:readonly |static )?(\w+)[(:]/gm)) members.add(name);
  }
  return [...members].filter((name) => name !== "constructor" && !known.has(name) && !new RegExp(`\\b${name}\\b`).test(api));
}
const stage = join(root, ".build/stage");
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
// The .wasm keeps wasm-bindgen's name (edge_caches_bg.wasm, which the entries load); the glue
// is wasm.js in the package's sources (it binds src/wasm.rs), the module cache.js and
// transport.js import. Every entry instantiates with its initSync, so esbuild leaves the
// glue's async loader out.
cpSync(join(root, "npm"), stage, { recursive: true });
cpSync(join(wasmOut, "edge_caches.js"), join(stage, "wasm.js"));
const [bundle] = buildSync({
  entryPoints: [join(stage, "edge_caches.js")],
  bundle: true,
  format: "esm",
  target: "esnext",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
  write: false,
}).outputFiles;
const renames = wasmNames(readFileSync(join(pkg, "edge_caches_bg.wasm")));
const members = await glueMembers();
const escape = (name) => name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const bundled = await minify(bundle.text, {
  // builtins: `memory` is one of terser's DOM names, which it leaves alone unless told.
  mangle: { regex: new RegExp(`^(${[...renames.keys(), ...members].map(escape).join("|")})$`), builtins: true },
  nameCache: { props: { props: Object.fromEntries([...renames].map(([name, minified]) => ["$" + name, minified])) } },
});
// A renamed name left in the bundle (one it reaches some other way than as a property: the
// wasm's, or a glue class member's) would be undefined at run time: stop here instead.
const named = (name) => new RegExp(`\\.${escape(name)}(?![\\w$])|[{,]${escape(name)}:|["']${escape(name)}["'][:\\]]`).test(bundled);
const left = [...renames.keys(), ...members].filter(named);
if (left.length > 0) throw new Error(`package.mjs: the bundle still names ${left.join(", ")} after renaming them`);
writeFileSync(join(pkg, "edge_caches.js"), bundled);
for (const file of ["index.js", "node.js", "deno.js", "workerd.js"]) {
  writeFileSync(join(pkg, file), await minify(readFileSync(join(root, "npm", file), "utf8")));
}
copyFileSync(join(root, "npm/index.d.ts"), join(pkg, "index.d.ts"));
copyFileSync(join(root, "README.md"), join(pkg, "README.md"));

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
  files: ["*.js", "*.d.ts", "edge_caches_bg.wasm"],
  // Every entry instantiates the wasm when imported: bundlers must keep them.
  sideEffects: ["./node.js", "./index.js", "./deno.js", "./workerd.js", "./edge_caches.js"],
  engines: { node: ">=20" },
  keywords: ["cache", "redis", "upstash", "wasm", "cloudflare-workers", "deno", "edge"],
};
writeFileSync(join(pkg, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`pkg/: edge-caches ${manifest.version}`);

// The exports whose function returns more than one value. V8 compiles a JS-to-wasm wrapper for
// each such signature with its optimizing compiler when the module is first compiled: several
// ms of the package's import (docs/performance.md). Read with binaryen.
function multiValueExports(bytes) {
  const module = binaryen.readBinary(bytes);
  try {
    const found = [];
    for (let i = 0; i < module.getNumExports(); i++) {
      const info = binaryen.getExportInfo(module.getExportByIndex(i));
      if (info.kind !== binaryen.ExternalFunction) continue;
      const results = binaryen.getFunctionInfo(module.getFunction(info.value)).results;
      if (binaryen.expandType(results).length > 1) found.push(info.name);
    }
    return found;
  } finally {
    module.dispose();
  }
}

// The modules the wasm's imports come from, read with binaryen.
function importModules(bytes) {
  const module = binaryen.readBinary(bytes);
  try {
    const modules = new Set();
    for (let i = 0; i < module.getNumFunctions(); i++) {
      const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
      if (info.module) modules.add(info.module);
    }
    return [...modules];
  } finally {
    module.dispose();
  }
}
