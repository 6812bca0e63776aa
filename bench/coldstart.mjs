// Section 5, cold start: ROUNDS fresh processes per client (interleaved), each timing process
// start -> first completed `get` from inside (coldstart-child.mjs); median per client.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { CLIENTS, median, writeSection } from "./lib.mjs";

// Node's own start (the same for every client: the child script has not imported one yet)
// varied 60-94 ms between processes, so the medians need many rounds to settle.
const ROUNDS = Number(process.env.BENCH_COLD_ROUNDS ?? 31);
const child = fileURLToPath(new URL("./coldstart-child.mjs", import.meta.url));
const runs = Object.fromEntries(CLIENTS.map((c) => [c, []]));
// One unmeasured run first, so the files are in the page cache for every client alike.
for (const client of CLIENTS) execFileSync(process.execPath, [child, client], { stdio: "ignore" });
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < CLIENTS.length; i++) {
    const client = CLIENTS[(i + round) % CLIENTS.length];
    const t0 = performance.now();
    const out = execFileSync(process.execPath, [child, client], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    const wallMs = performance.now() - t0;
    runs[client].push({ ...JSON.parse(out.trim().split("\n").pop()), wallMs });
  }
}
const pick = (rs, f) => median(rs.map((r) => r[f]));
writeSection("coldstart", {
  description:
    "ms from process start (performance.timeOrigin) to the first completed get, fetch stubbed in-process; median over fresh processes",
  rounds: ROUNDS,
  clients: Object.fromEntries(
    CLIENTS.map((c) => [
      c,
      {
        firstGetMs: pick(runs[c], "firstGetMs"),
        atScriptMs: pick(runs[c], "atScriptMs"),
        readyMs: pick(runs[c], "readyMs"),
        // The client's own part, without Node's start: median of each process's difference.
        afterScriptMs: median(runs[c].map((r) => r.firstGetMs - r.atScriptMs)),
        wallMs: pick(runs[c], "wallMs"),
        runs: runs[c],
      },
    ]),
  ),
});
