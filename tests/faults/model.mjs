// What a read of one key may return, given every write of that key (see model.test.mjs).
//
// Every write of a value key (set, add that stored, delete, and the wipe of a Redis kill) is an
// interval [start, end]: its effect happens at some instant inside it. A write that failed
// ambiguously (any rejection: it may have run) has end = Infinity. A read over [rs, re] may
// return the value of write W when W started before the read ended and W was not overwritten
// for sure before the read started: that is, no acknowledged write W2 started after W ended and
// ended before rs. Values are unique per write (`${key}:${seq}`), so a value names its write; a
// miss (null) names every delete, the key's initial absence and every Redis wipe.

export class KeyHistory {
  constructor() {
    this.writes = [{ value: null, start: -Infinity, end: -Infinity, what: "initial" }];
    this.byValue = new Map();
  }
  add(write) {
    this.writes.push(write);
    if (write.value !== null) this.byValue.set(write.value, write);
  }
  /** Called once all writes are in: prepares M(rs) = latest start of a write acknowledged before rs. */
  seal() {
    this.acked = this.writes.filter((w) => w.end !== Infinity).sort((a, b) => a.end - b.end);
    this.maxStart = [];
    let max = -Infinity;
    for (const w of this.acked) this.maxStart.push((max = Math.max(max, w.start)));
    this.nulls = this.writes.filter((w) => w.value === null);
  }
  supersededBefore(rs) {
    let lo = 0;
    let hi = this.acked.length; // first index with end >= rs
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.acked[mid].end < rs) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? -Infinity : this.maxStart[lo - 1];
  }
  /** Why a read of `value` over [rs, re] cannot be, or null when it can. */
  check(value, rs, re) {
    const m = this.supersededBefore(rs);
    const possible = (w) => w.start < re && w.end >= m;
    if (value === null) return this.nulls.some(possible) ? null : "a miss, but an acknowledged write was there";
    const write = typeof value === "string" ? this.byValue.get(value) : undefined;
    if (!write) return "a value never written to this key";
    if (write.start >= re) return "a value written only after the read ended";
    if (write.end < m) return "a value overwritten for sure before the read started";
    return null;
  }
}
