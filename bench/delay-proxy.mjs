// A loopback HTTP proxy for bench/near.mjs, in a process of its own so that its work does not
// land on the clients' event loop: half of RTT_MS before forwarding to TARGET, half after.
// Prints its port; GET /__requests answers how many requests it has forwarded.
// Usage: node bench/delay-proxy.mjs TARGET RTT_MS
import http from "node:http";

const [target, rttArg] = process.argv.slice(2);
const half = Number(rttArg) / 2;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let forwarded = 0;

const server = http.createServer(async (req, res) => {
  if (req.url === "/__requests") return res.end(String(forwarded));
  forwarded++;
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  await sleep(half);
  const headers = { ...req.headers };
  for (const name of ["host", "connection", "content-length"]) delete headers[name];
  const upstream = await fetch(new URL(req.url, target), { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
  const body = Buffer.from(await upstream.arrayBuffer());
  await sleep(half);
  res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
