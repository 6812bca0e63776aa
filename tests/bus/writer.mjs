// The other process of the bus test: writes `count` values of one key through a cache with the
// bus on, one after another, and after each write resolves sends the parent (IPC) the write's
// number and the time it resolved (performance.timeOrigin + now: one clock for both processes).
import process from "node:process";
import { Cache } from "edge-caches";

const { GATEWAY_URL, GATEWAY_TOKEN, BUS_PREFIX, BUS_COUNT } = process.env;
const cache = new Cache(GATEWAY_URL, { token: GATEWAY_TOKEN, keyPrefix: BUS_PREFIX, near: { ttl: 60, bus: true } });
await cache.connect();
const now = () => performance.timeOrigin + performance.now();
process.on("message", async (go) => {
  if (go !== "go") return;
  for (let i = 0; i < Number(BUS_COUNT); i++) {
    await cache.set("k", i);
    process.send({ i, resolved: now() });
  }
  await cache.disconnect();
  process.send({ done: true });
  process.disconnect();
});
process.send({ ready: true });
