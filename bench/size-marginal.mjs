// What each function adds to the package's gzipped bytes: the file gzipped again (Node's zlib,
// level 9, as bench/size.mjs counts) with that one function's body taken out. Unlike a raw byte
// table (twiggy), it shows what gzip does not already share with the rest: the measure that
// found issue 33's third and fourth cuts (docs/performance.md, *Size*). Not part of `make bench`.
//
// Usage: node bench/size-marginal.mjs FILE [ROWS] [--by-module]
//   FILE.wasm: a wasm with its names kept (bench/size-marginal.sh builds one); each function's
//              body becomes `unreachable` (binaryen), the names section left out of the count.
//              With --by-module, the functions of one module at a time (`edge_caches::engine::
//              plan`, `hashbrown`, `core`...; the export shims, named after the export, as one).
//   FILE.js:   a module as shipped (pkg/edge_caches.js); each function body of 60+ characters
//              becomes `{}` (acorn). A nested function counts within its parent too.
// Prints: marginal gzipped bytes, raw bytes of the body, the function.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const byModule = process.argv.includes("--by-module");
const [file, rowsArg = "60"] = process.argv.slice(2).filter((arg) => arg !== "--by-module");
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const rows = [];
let base;

if (file.endsWith(".wasm")) {
  const { default: binaryen } = await import("binaryen");
  const bytes = readFileSync(file);
  binaryen.setDebugInfo(false);
  const read = () => {
    const module = binaryen.readBinary(bytes);
    module.setFeatures(binaryen.Features.All);
    return module;
  };
  const module = read();
  base = gz(module.emitBinary());
  const names = [];
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
    if (info.body) names.push(info.name);
  }
  module.dispose();
  // A Rust path's crate and module (generic impls are named `<impl ...>`: its module is the
  // path before it); anything else (an export's shim, a wasm-bindgen intrinsic) by itself.
  const moduleOf = (name) => {
    const path = name.replace(/^[<"]+/, "").replace(/^([a-z_]+)\[[0-9a-f]+\]/, "$1");
    const parts = path.split("::");
    if (parts.length < 2) return /^[a-z]+_[a-zA-Z]+$/.test(name) ? "the export shims" : "other";
    const crate = parts[0].replace(/ as .*/, "");
    if (!/^[a-z_]+$/.test(crate)) return "other generic impls";
    if (crate !== "edge_caches") return crate;
    const module = parts.slice(0, parts[1] === "engine" || parts[1] === "backend" ? 3 : 2).join("::").replace(/<impl.*/, "").replace(/::$/, "");
    // Functions of engine/mod.rs itself (`Engine::new`'s closure, the error constructors).
    return /^edge_caches::engine::([a-z_]+)$/.test(module) && !/::(plan|answer|calls|near_calls|events|options)$/.test(module) ? "edge_caches::engine" : module.replace(/::Engine<H>$/, "");
  };
  const groups = new Map();
  for (const name of names) {
    const key = byModule ? moduleOf(name) : name;
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  for (const [key, members] of groups) {
    const cut = read();
    const raw = cut.emitBinary().length;
    for (const name of members) {
      const info = binaryen.getFunctionInfo(cut.getFunction(name));
      cut.removeFunction(name);
      cut.addFunction(name, info.params, info.results, info.vars, cut.unreachable());
    }
    rows.push([base - gz(cut.emitBinary()), raw - cut.emitBinary().length, byModule ? `${key} (${members.length})` : key]);
    cut.dispose();
  }
} else {
  const acorn = await import("acorn");
  const code = readFileSync(file, "utf8");
  base = gz(code);
  const visit = (node) => {
    if (!node || typeof node.type !== "string") return;
    const isFunction = node.type === "FunctionDeclaration" || node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression";
    if (isFunction && node.body.type === "BlockStatement" && node.body.end - node.body.start > 60) {
      const cut = code.slice(0, node.body.start) + "{}" + code.slice(node.body.end);
      rows.push([base - gz(cut), node.body.end - node.body.start, code.slice(Math.max(0, node.start - 30), node.start + 50).replace(/\s+/g, " ")]);
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach(visit);
      else if (value && typeof value.type === "string") visit(value);
    }
  };
  visit(acorn.parse(code, { ecmaVersion: "latest", sourceType: "module" }));
}

rows.sort((a, b) => b[0] - a[0]);
console.log(`${file}: ${base} B gzip -9`);
for (const [marginal, raw, name] of rows.slice(0, Number(rowsArg))) console.log(String(marginal).padStart(6), String(raw).padStart(7), name);
