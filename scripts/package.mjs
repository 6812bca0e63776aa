// Assembles the npm package in pkg/ from the wasm-bindgen output in .build/wasm and the
// hand-written files in npm/. wasm-pack writes one target's package.json without `exports`;
// edge-caches needs one package with an entry per runtime, so it is written here.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildSync, transformSync } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const wasmOut = join(root, ".build/wasm");
const pkg = join(root, "pkg");

const cargo = readFileSync(join(root, "Cargo.toml"), "utf8");
const field = (name) => cargo.match(new RegExp(`^${name} = "(.*)"`, "m"))[1];

rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg);
cpSync(join(wasmOut, "edge_caches_bg.wasm"), join(pkg, "edge_caches_bg.wasm"));
const wasmBytes = readFileSync(join(pkg, "edge_caches_bg.wasm"));
// The one import module the glue provides (see shortenBoundaryNames), checked against the wasm.
const importModules = new Set(WebAssembly.Module.imports(new WebAssembly.Module(wasmBytes)).map((i) => i.module));
if (importModules.size !== 1 || !importModules.has("a")) throw new Error(`package.mjs: the wasm imports from ${[...importModules].join(", ")}, the glue provides "a"`);
const multiValue = multiValueExports(wasmBytes);
if (multiValue.length > 0) throw new Error(`package.mjs: exports ${multiValue.join(", ")} return several values (see Cargo.toml, [profile.release] strip)`);

// The JavaScript is staged, then bundled into one module, edge_caches.js: the wasm-bindgen glue,
// runtime.js and cache.js. One module instead of three loads faster (Node's import of the
// package: about 1 ms less of a 9 ms import) and gzips smaller (one dictionary: 0.7 KB less).
const stage = join(root, ".build/stage");
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
for (const file of ["edge_caches.js", "snippets"]) cpSync(join(wasmOut, file), join(stage, file), { recursive: true });
shortenBoundaryNames(join(stage, "edge_caches.js"), JSON.parse(readFileSync(join(wasmOut, "names.json"), "utf8")));
// wasm-bindgen names the snippet folder after a hash of the crate; find it.
const [snippetDir] = readdirSync(join(stage, "snippets"));
const runtime = `./snippets/${snippetDir}/src/js/runtime.js`;
if (!existsSync(join(stage, runtime))) throw new Error(`no runtime.js at ${runtime}`);
writeFileSync(join(stage, "cache.js"), readFileSync(join(root, "npm/cache.js"), "utf8").replaceAll("@@RUNTIME@@", runtime));
writeFileSync(
  join(stage, "bundle.js"),
  `export { initSync, default } from "./edge_caches.js";
export { Cache, CacheError } from "./cache.js";
export { useNode } from "${runtime}";
`,
);
// Minified in two steps. Each file on its own first: esbuild then shortens local names but
// keeps top-level ones (Cache.name, CacheError and the methods in stack traces), which a
// minifying bundle would rename and esbuild's keepNames would wrap every closure a call makes
// in a naming helper (measured: 3% of a call). Then bundled, whitespace only.
for (const file of ["edge_caches.js", "cache.js", runtime]) {
  const path = join(stage, file);
  const { code } = transformSync(readFileSync(path, "utf8"), { minify: true, target: "es2022", legalComments: "none" });
  writeFileSync(path, code);
}
const bundled = buildSync({
  entryPoints: [join(stage, "bundle.js")],
  bundle: true,
  write: false,
  format: "esm",
  target: "es2022",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
}).outputFiles[0].text;
writeFileSync(join(pkg, "edge_caches.js"), keepClassNames(bundled, ["Cache", "Core"]));

// The entry files are a few lines of code under a comment that says why: users get the code
// (whole-line comments dropped, two thirds of their bytes; they stay readable in npm/).
for (const file of ["index.js", "node.js", "deno.js", "workerd.js"]) {
  const code = readFileSync(join(root, "npm", file), "utf8").replace(/^\s*\/\/.*\n/gm, "");
  writeFileSync(join(pkg, file), code);
}
cpSync(join(root, "npm/index.d.ts"), join(pkg, "index.d.ts"));
cpSync(join(root, "README.md"), join(pkg, "README.md"));

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
  engines: { node: ">=18" },
  keywords: ["cache", "redis", "upstash", "wasm", "cloudflare-workers", "deno", "edge"],
};
writeFileSync(join(pkg, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`pkg/: edge-caches ${manifest.version}`);

// The Makefile's wasm-opt renames the wasm's imports and exports to one or two letters
// (--minify-imports-and-exports-and-modules, mapping in names.json): wasm-bindgen names each
// import `__wbg_<name>_<16 hex digits>`, which gzip cannot compress, in the wasm and again in
// the glue (1.8 KB of the gzipped download). The glue is renamed to match here, and the
// build stops if anything is left unmapped: a name missed would only fail at instantiation.
function shortenBoundaryNames(gluePath, names) {
  let glue = readFileSync(gluePath, "utf8");
  const modules = new Set(names.imports.map(([module]) => module));
  const replaceExactlyOnce = (from, to) => {
    const at = glue.indexOf(from);
    if (at < 0 || glue.indexOf(from, at + 1) >= 0) throw new Error(`package.mjs: expected one ${JSON.stringify(from)} in the glue`);
    glue = glue.slice(0, at) + to + glue.slice(at + from.length);
  };
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // wasm-opt puts every import in one module, "a". The glue's own imports object keeps its
  // functions (renamed); what wasm-bindgen imported from a snippet module directly is added to
  // it, read from the namespace the glue already imports.
  const extra = [];
  for (const [module, name, short] of names.imports) {
    if (module === "./edge_caches_bg.js") {
      const pattern = new RegExp(`\\b${escape(name)}\\b`, "g");
      if (!pattern.test(glue)) throw new Error(`package.mjs: import ${name} is not in the glue`);
      glue = glue.replace(pattern, () => short);
    } else {
      const ns = glue.match(new RegExp(`import \\* as (import\\d+) from "${escape(module)}"`));
      if (!ns) throw new Error(`package.mjs: no namespace import of ${module} in the glue`);
      extra.push(`${short}: ${ns[1]}.${name},`);
    }
  }
  replaceExactlyOnce("const import0 = {\n        __proto__: null,", `const import0 = {\n        __proto__: null, ${extra.join(" ")}`);
  for (const module of modules) {
    if (module === "./edge_caches_bg.js") continue;
    glue = glue.replace(new RegExp(`\\n\\s*"${escape(module)}": import\\d+,`, "g"), "");
  }
  replaceExactlyOnce(`"./edge_caches_bg.js": import0,`, `"a": import0,`);
  for (const [name, short] of names.exports) {
    glue = glue.replace(new RegExp(`\\bwasm\\.${escape(name)}\\b`, "g"), () => `wasm.${short}`);
  }
  const shorts = new Set(names.exports.map(([, short]) => short));
  const left = [...glue.matchAll(/\bwasm\.([A-Za-z_$][\w$]*)/g)].map((m) => m[1]).filter((n) => !shorts.has(n));
  if (left.length > 0) throw new Error(`package.mjs: wasm exports left unrenamed in the glue: ${left.join(", ")}`);
  if (/__wbg_\w+_[0-9a-f]{16}\b/.test(glue)) throw new Error("package.mjs: an import left unrenamed in the glue");
  writeFileSync(gluePath, glue);
}

// A bundle declares a top-level class as `var Cache=class _Cache{...}` and refers to it by the
// inner name inside its body, so `Cache.name` would be "_Cache". The inner name can only be
// seen inside the class body, where it and the outer name are the same class: renamed back.
// The build stops if the bundle is not of that shape.
function keepClassNames(code, names) {
  for (const name of names) {
    const declaration = `var ${name}=class _${name}{`;
    if (code.split(declaration).length !== 2) throw new Error(`package.mjs: expected ${JSON.stringify(declaration)} once in the bundle`);
    code = code.replace(new RegExp(`(?<![\\w$])_${name}(?![\\w$])`, "g"), name);
  }
  return code;
}

// The exports whose function returns more than one value. V8 (Node 20) compiles a JS-to-wasm
// wrapper for each such signature when the module is first compiled, with its optimizing
// compiler: 2-4 ms of the package's import (single-value exports did not cost this).
// Read from the binary's type, import, function and export sections.
function multiValueExports(bytes) {
  let at = 8;
  const u32 = () => {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
    }
  };
  const name = () => {
    const length = u32();
    at += length;
    return new TextDecoder().decode(bytes.subarray(at - length, at));
  };
  const results = []; // result count per type
  const functionTypes = []; // type index per function, imports first
  const exports = [];
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = u32();
    const end = at + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        if (bytes[at++] !== 0x60) throw new Error("package.mjs: a type that is not a function type");
        const parameters = u32(); // (numbers and reference types: one byte each)
        at += parameters; // not `at += u32()`: that adds to `at` as it was before the read
        const count = u32();
        results.push(count);
        at += count;
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        name();
        name();
        const kind = bytes[at++];
        if (kind !== 0) throw new Error("package.mjs: the wasm imports something other than functions");
        functionTypes.push(u32());
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) functionTypes.push(u32());
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const exported = name();
        const kind = bytes[at++];
        const index = u32();
        if (kind === 0) exports.push([exported, index]);
      }
    }
    at = end;
  }
  return exports.filter(([, index]) => results[functionTypes[index]] > 1).map(([exported]) => exported);
}
