// Orders the wasm's functions so that gzip finds more of each function's bytes in the ones
// before it: like functions next to each other (docs/decisions/0015). The order changes no
// behaviour (calls, exports and the table name functions by index, which binaryen renumbers);
// it is chosen on the bodies' bytes, deterministically, and applied with binaryen.js.
// Usage: node scripts/order-functions.mjs IN.wasm OUT.wasm [--names]
//   (OUT is binaryen's plain write, with the functions' names with --names; scripts/finish-wasm.sh
//   then writes it again with StackIR optimized, as wasm-opt -Os does)
import { readFileSync, writeFileSync } from "node:fs";
import { deflateRawSync } from "node:zlib";
import binaryen from "binaryen";

const [input, output, names] = process.argv.slice(2);
// Rounds of the search (about 10 s each), and the places tried for each function in a round:
// more of either found little more (docs/decisions/0015).
const ROUNDS = 4;
const TRIES = 6;
// The length of the byte sequences that say how alike two functions are.
const SHINGLE = 5;

binaryen.setDebugInfo(names === "--names");
let wasm = readFileSync(input);
for (let round = 0; round < ROUNDS; round++) {
  // Each round on the bodies as the last one's order renumbered them: a call names its
  // function by index, so moving a function changes the bytes of every call to it.
  const bodies = codeBodies(wasm);
  const functions = { bodies, shingles: bodies.map(shingles) };
  const start = round === 0 ? likeChain(functions) : [...bodies.keys()];
  wasm = reorder(wasm, improve(start, functions));
}
writeFileSync(output, wasm);

// The code section's function bodies, in order (the wasm binary format: a section is its id and
// its length; the code section, id 10, a count and then each body with its length).
function codeBodies(bytes) {
  let at = 8;
  const leb = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = leb();
    if (id !== 10) {
      at += size;
      continue;
    }
    const count = leb();
    const found = [];
    for (let i = 0; i < count; i++) {
      const length = leb();
      found.push(bytes.subarray(at, at + length));
      at += length;
    }
    return found;
  }
  throw new Error("order-functions.mjs: no code section");
}

function shingles(body) {
  const set = new Set();
  for (let i = 0; i + SHINGLE <= body.length; i++) set.add(body.toString("latin1", i, i + SHINGLE));
  return set;
}

// How like function `a` function `b` is: the byte sequences it shares with `a`, per square
// root of its own count (so that large functions do not win by size alone).
function likeness({ shingles }, a, b) {
  const [small, large] = shingles[a].size < shingles[b].size ? [shingles[a], shingles[b]] : [shingles[b], shingles[a]];
  let n = 0;
  for (const s of small) if (large.has(s)) n++;
  return n / Math.sqrt(shingles[b].size + 1);
}

// A first order: from the first function, each next one the function left most like the one
// before it.
function likeChain(functions) {
  const left = new Set(functions.bodies.keys());
  const order = [0];
  left.delete(0);
  while (left.size > 0) {
    const last = order[order.length - 1];
    let best = -1;
    let bestScore = -1;
    for (const next of left) {
      const score = likeness(functions, last, next);
      if (score > bestScore) [best, bestScore] = [next, score];
    }
    left.delete(best);
    order.push(best);
  }
  return order;
}

// Each function in turn moved to just after one of the few it is most like, when the bodies
// together then deflate smaller (the bodies as they are: the calls renumbered by the move are
// seen only in the next round).
function improve(order, functions) {
  const { bodies } = functions;
  const size = (candidate) => deflateRawSync(Buffer.concat(candidate.map((i) => bodies[i])), { level: 9 }).length;
  const mostLike = (f) =>
    [...bodies.keys()]
      .filter((g) => g !== f)
      .map((g) => [likeness(functions, f, g), g])
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, TRIES)
      .map(([, g]) => g);
  let current = size(order);
  for (const f of [...order]) {
    const rest = order.filter((x) => x !== f);
    for (const g of mostLike(f)) {
      const at = rest.indexOf(g) + 1;
      const candidate = [...rest.slice(0, at), f, ...rest.slice(at)];
      const candidateSize = size(candidate);
      if (candidateSize < current) {
        [order, current] = [candidate, candidateSize];
        break;
      }
    }
  }
  return order;
}

// The wasm with its defined functions in `order` (indices into the code section). Binaryen
// keeps functions in a list: one removed and added again goes to its end, under its own name,
// with its own body; the defined functions come after the imported ones, in the code section's
// order.
function reorder(bytes, order) {
  const module = binaryen.readBinary(bytes);
  // The features scripts/finish-wasm.sh enables for wasm-opt (the wasm has no features section).
  const { Features } = binaryen;
  module.setFeatures(Features.MutableGlobals | Features.NontrappingFPToInt | Features.SignExt | Features.BulkMemory |
    Features.BulkMemoryOpt | Features.ReferenceTypes | Features.Multivalue);
  const defined = [];
  for (let i = 0; i < module.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(module.getFunctionByIndex(i));
    if (!info.module) defined.push(info);
  }
  if (defined.length !== order.length) throw new Error(`order-functions.mjs: ${defined.length} functions, ${order.length} ordered`);
  for (const i of order) {
    const { name, params, results, vars, body } = defined[i];
    module.removeFunction(name);
    module.addFunction(name, params, results, vars, body);
  }
  if (!module.validate()) throw new Error("order-functions.mjs: the reordered module does not validate");
  const out = Buffer.from(module.emitBinary());
  module.dispose();
  return out;
}
