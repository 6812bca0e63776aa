// Values another client wrote, as a REST server hands them over, through a fetch that is honest
// about being a stub (tests/python/ reads what the real async-caches writes). Python's json.dumps
// writes NaN, Infinity and -Infinity, spaces after separators and \u escapes; each reads back as
// the value Python meant. Text that is not JSON comes back as the string it is.
import { it } from "node:test";
import assert from "node:assert/strict";
import { Cache } from "edge-caches";

// [stored text, what get resolves with]
const STORED = [
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ['{"a": NaN, "b": [Infinity, -Infinity, 1.5], "s": "NaN"}', { a: NaN, b: [Infinity, -Infinity, 1.5], s: "NaN" }],
  ['["x\\" NaN", NaN]', ['x" NaN', NaN]],
  ['{"NaN": -Infinity}', { NaN: -Infinity }],
  ['{"a": 1, "b": [1, 2]}', { a: 1, b: [1, 2] }],
  ['"\\u00e9"', "é"],
  ["1.0", 1],
  ['"NaN"', "NaN"],
  ["NaNa", "NaNa"],
  ["Infinity and beyond", "Infinity and beyond"],
  ["[NaN", "[NaN"],
  ["not json", "not json"],
];

// Answers each read with `texts` (MGET) or the first of them, alone or in a pipeline.
function serving(texts) {
  return async (url, init) => {
    const body = JSON.parse(init.body);
    const commands = String(url).endsWith("/pipeline") ? body : [body];
    const answers = commands.map((command) => ({ result: command[0] === "MGET" ? texts : texts[0] }));
    return new Response(JSON.stringify(String(url).endsWith("/pipeline") ? answers : answers[0]));
  };
}

it("reads Python's NaN and Infinity as numbers, and text that is not JSON as a string", async () => {
  for (const [text, expected] of STORED) {
    const cache = new Cache("https://foreign.invalid", { token: "t", fetch: serving([text]) });
    await cache.connect();
    assert.deepEqual(await cache.get("k"), expected, text);
  }
  const cache = new Cache("https://foreign.invalid", { token: "t", fetch: serving(STORED.map(([text]) => text)) });
  await cache.connect();
  const keys = STORED.map((_, i) => `k${i}`);
  const values = await cache.getMany(keys);
  STORED.forEach(([text, expected], i) => assert.deepEqual(values[`k${i}`], expected, text));
});
