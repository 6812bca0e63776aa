// Section 4, size: the edge-caches package's wasm + JavaScript glue as shipped (every .js file
// of the npm-packed package, snippets/ included, and the .wasm), raw and gzip -9 (each file
// compressed on its own, as a server or CDN sends it, and summed), beside @upstash/redis bundled
// and minified with esbuild for the same use (size-entry-upstash.mjs).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";
import { packageBytes } from "../scripts/package-bytes.mjs";
import { writeSection } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const gz = (buf) => gzipSync(buf, { level: 9 }).length;

// The packed package (run.sh's snapshot, or the one node_modules/edge-caches links to).
const pkgDir = process.env.EDGE_CACHES_DIR ?? join(here, "..", "node_modules", "edge-caches");
const perFile = packageBytes(pkgDir);
const sum = (xs, f) => xs.reduce((n, x) => n + x[f], 0);
// `make bench BASELINE=DIR`: the same figures of another build, for before and after.
const baselineFiles = process.env.BENCH_BASELINE_DIR ? packageBytes(process.env.BENCH_BASELINE_DIR) : null;
const wasm = perFile.filter((f) => f.file.endsWith(".wasm"));
const glue = perFile.filter((f) => f.file.endsWith(".js"));

async function bundle(entry, plugins = []) {
  const result = await esbuild.build({
    entryPoints: [join(here, entry)],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
    plugins,
  });
  const js = Buffer.from(result.outputFiles[0].contents);
  return { raw: js.length, gzip9: gz(js) };
}

// "edge-caches" resolved to the measured package, with the browser condition as esbuild would.
const edgeAlias = {
  name: "edge-caches-snapshot",
  setup(build) {
    build.onResolve({ filter: /^edge-caches$/ }, () => {
      const exp = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).exports["."];
      return { path: join(pkgDir, typeof exp === "string" ? exp : exp.browser ?? exp.import ?? exp.default) };
    });
  },
};

const upstash = await bundle("size-entry-upstash.mjs");
const edgeBundleJs = await bundle("size-entry-edge.mjs", [edgeAlias]);
const esbuildVersion = esbuild.version;
const upstashVersion = JSON.parse(
  readFileSync(join(here, "..", "node_modules", "@upstash", "redis", "package.json"), "utf8"),
).version;

writeSection("size", {
  description:
    "bytes; gzip -9 = Node zlib level 9, each file compressed on its own and summed; esbuild bundle --minify --format=esm --platform=browser",
  edgeCaches: {
    files: perFile,
    wasm: { raw: sum(wasm, "raw"), gzip9: sum(wasm, "gzip9") },
    glue: { raw: sum(glue, "raw"), gzip9: sum(glue, "gzip9"), files: glue.length },
    total: { raw: sum(perFile, "raw"), gzip9: sum(perFile, "gzip9") },
  },
  ...(baselineFiles ? { baseline: { files: baselineFiles, total: { raw: sum(baselineFiles, "raw"), gzip9: sum(baselineFiles, "gzip9") } } } : {}),
  edgeCachesBundled: {
    note: "info: size-entry-edge.mjs bundled the same way (browser entry), plus the .wasm",
    js: edgeBundleJs,
    total: { raw: edgeBundleJs.raw + sum(wasm, "raw"), gzip9: edgeBundleJs.gzip9 + sum(wasm, "gzip9") },
  },
  upstash: { version: upstashVersion, esbuild: esbuildVersion, entry: "bench/size-entry-upstash.mjs", ...upstash },
});
