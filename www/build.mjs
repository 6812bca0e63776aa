// Builds the playground into www/dist: main.js bundled by esbuild with "edge-caches" resolved
// from node_modules/edge-caches (the package `make build` packs and links), plus the page and
// every file the bundle loads with `new URL("...", import.meta.url)`, i.e. the .wasm.
//
// esbuild leaves `new URL("./edge_caches_bg.wasm", import.meta.url)` as it is (it does not treat
// the pattern as an asset reference, evanw/esbuild#795), so the URL resolves against the
// bundle's own URL at run time: copying the .wasm beside the bundle is what makes it load.
//
// Usage: node www/build.mjs
import * as esbuild from "esbuild";
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const www = dirname(fileURLToPath(import.meta.url));
const dist = join(www, "dist");

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const result = await esbuild.build({
  entryPoints: [join(www, "main.js")],
  outdir: dist,
  bundle: true,
  format: "esm", // the package's entry awaits the wasm at its top level
  platform: "browser",
  conditions: ["browser", "import", "default"],
  target: "es2022",
  metafile: true,
  logLevel: "warning",
});

// The package the bundle came from (node_modules/edge-caches, the link `make build` makes).
const packageDir = dirname(createRequire(join(www, "main.js")).resolve("edge-caches/package.json"));
const bundle = await readFile(join(dist, "main.js"), "utf8");
// Each URL the bundle resolves against its own location, normalised ("x.wasm" = "./x.wasm").
const assets = new Set(
  [...bundle.matchAll(/new URL\(\s*"([^"]+)",\s*import\.meta\.url\s*\)/g)].map((m) =>
    relative(dist, fileURLToPath(new URL(m[1], pathToFileURL(`${dist}/`)))),
  ),
);
if (assets.size === 0) throw new Error("the bundle loads no file by URL: where did the .wasm go?");
for (const asset of assets) {
  if (asset.startsWith("..") || asset.includes("/")) throw new Error(`unexpected asset URL: ${asset}`);
  await copyFile(join(packageDir, asset), join(dist, asset));
}
for (const file of ["index.html", "style.css"]) await copyFile(join(www, file), join(dist, file));

const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(`www/dist: main.js (${(bytes / 1024).toFixed(1)} KB), ${[...assets].join(", ")}, index.html, style.css`);
