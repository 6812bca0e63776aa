// A static server for www/dist (the build has to be there: node www/build.mjs).
//
//   node www/serve.mjs [PORT]    # then open http://127.0.0.1:PORT/ (default 8080)
//
// The .wasm goes out as application/wasm, which streaming compilation requires (npm/index.js).
// A REST backend must answer CORS for the page's origin (the gateway: --allow-origin).
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const dist = fileURLToPath(new URL("./dist", import.meta.url));

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
};

// Resolves to the listening server; its URL is `http://127.0.0.1:${server.address().port}`.
export function serve(port = 0, host = "127.0.0.1") {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
    const file = join(dist, path.endsWith("/") ? `${path}index.html` : path);
    try {
      if (!file.startsWith(dist + sep)) throw new Error("outside dist");
      const body = await readFile(file);
      response.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve(Number(process.argv[2] ?? 8080));
  console.log(`www/dist on http://127.0.0.1:${server.address().port}/`);
}
