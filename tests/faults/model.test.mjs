// The read model of the fault test (model.mjs) on histories small enough to judge by hand: it
// must accept every outcome a correct cache can produce (else the fault test fails honest
// clients) and refuse the wrong ones (else it proves nothing).
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyHistory } from "./model.mjs";

function history(...writes) {
  const h = new KeyHistory();
  for (const [value, start, end] of writes) h.add({ value, start, end });
  h.seal();
  return h;
}
const ok = (h, value, rs, re) => assert.equal(h.check(value, rs, re), null, `${JSON.stringify(value)} over [${rs}, ${re}]`);
const bad = (h, value, rs, re) => assert.notEqual(h.check(value, rs, re), null, `${JSON.stringify(value)} over [${rs}, ${re}]`);

test("one writer after another: only the latest acknowledged value", () => {
  const h = history(["k:1", 0, 1], ["k:2", 2, 3]);
  ok(h, null, -2, -1); // before any write
  bad(h, "k:1", -2, -1); // not written yet
  ok(h, "k:1", 1.5, 1.8);
  ok(h, "k:2", 4, 5);
  bad(h, "k:1", 4, 5); // overwritten for sure
  bad(h, null, 4, 5); // no delete, no wipe
  bad(h, "j:2", 4, 5); // another key's value
  bad(h, "k:9", 4, 5); // never written
});

test("overlapping writes: either order", () => {
  const h = history(["k:1", 0, 10], ["k:2", 2, 3]);
  ok(h, "k:1", 4, 5);
  ok(h, "k:2", 4, 5);
  ok(h, "k:1", 11, 12);
  ok(h, "k:2", 11, 12);
});

test("a write in flight during the read, and a failed write that may have run at any time", () => {
  const h = history(["k:1", 0, 1], ["k:2", 5, 9], ["k:3", 2, Infinity]);
  ok(h, "k:1", 6, 7);
  ok(h, "k:2", 6, 7);
  ok(h, "k:3", 6, 7);
  ok(h, "k:3", 100, 101); // ambiguous: never ruled out
  bad(h, "k:1", 10, 11);
  bad(h, "k:2", 3, 4); // started after the read
});

test("deletes and Redis wipes are misses that end like writes", () => {
  const h = history(["k:1", 0, 1], [null, 2, 3], ["k:2", 4, 5], [null, 6, 8] /* wipe */, ["k:3", 9, 10]);
  ok(h, null, 3.5, 3.8);
  bad(h, "k:1", 3.5, 3.8);
  ok(h, "k:2", 5.5, 5.8);
  bad(h, null, 5.5, 5.8);
  ok(h, null, 8.5, 8.8);
  bad(h, "k:2", 8.5, 8.8); // lost to the wipe
  ok(h, "k:2", 7, 7.5); // the wipe was under way
  ok(h, null, 7, 7.5);
  ok(h, "k:3", 11, 12);
  bad(h, null, 11, 12);
});
