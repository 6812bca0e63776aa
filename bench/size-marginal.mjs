// What each function adds to the package's gzipped bytes: the file gzipped again (Node's zlib,
// level 9, as bench/size.mjs counts) with that one function's body taken out. Unlike a raw byte
// table (twiggy), it shows what gzip does not already share with the rest: the measure that
// found issue 33's third and fourth cuts (docs/performance.md, *Size*). Not part of `make bench`.
//
// Usage: node bench/size-marginal.mjs FILE [ROWS]
//   FILE.wasm: a wasm with its names kept (bench/size-marginal.sh builds one); each function's
//              body becomes `unreachable` (binaryen), the names section left out of the count.
//   FILE.js:   a module as shipped (pkg/edge_caches.js); each function body of 60+ characters
//              becomes `{}` (acorn). A nested function counts within its parent too.
// Prints: marginal gzipped bytes, raw bytes of the body, the function.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const [file, rowsArg = "60"] = process.argv.slice(2);
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
  for (const name of names) {
    const cut = read();
    const info = binaryen.getFunctionInfo(cut.getFunction(name));
    const raw = cut.emitBinary().length;
    cut.removeFunction(name);
    cut.addFunction(name, info.params, info.results, info.vars, cut.unreachable());
    rows.push([base - gz(cut.emitBinary()), raw - cut.emitBinary().length, name]);
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
