#!/usr/bin/env bash
# How small the wasm of this design can get: the shipped build beside builds with a backend
# (or the near tier, or tags) taken out; then the package as shipped beside the package without
# the near tier, the bus and tags. A measurement for docs/performance.md (*Size*), not a product
# and not part of `make bench`: every variant is the committed tree (HEAD) with an edit of
# src/ that leaves a backend, the near tier or tags unreachable, so LTO drops its code, built as `make build`
# builds the wasm (cargo release, then scripts/finish-wasm.sh) and measured
# as bench/size.mjs measures it (Node's zlib, level 9). The JavaScript glue is the same in all
# the wasm rows.
# Usage: bench/size-floor.sh   (after `make build`, which installs the tools; about three minutes)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$root/target/size-floor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs a build step quietly, showing what it printed only if it fails.
quietly() {
    if ! "$@" > "$work/step.log" 2>&1; then
        cat "$work/step.log" >&2
        return 1
    fi
}

# Leaves the named backends (or the near tier, or tags) unreachable in src/; fails if the files no longer
# have the lines it edits (then this script needs updating, not guessing).
take_out() {
    python3 - "$work" "$@" <<'EOF'
import re, sys
folder, cuts = sys.argv[1], sys.argv[2:]
files = {}
def swap(name, old, new, under="src"):
    path = f"{folder}/{under}/{name}"
    s = files.get(path) or open(path).read()
    assert s.count(old) == 1, f"size-floor.sh: {under}/{name} no longer has: {old[:60]!r}"
    files[path] = s.replace(old, new)
if "memory" in cuts:
    # Memory URLs get the dummy backend: the store, its index and its hash go.
    swap("engine/plan.rs", "let outcome = store.borrow_mut().execute(op, self.host.now_ms(), &self.host)?;",
         "let _ = store;\n                let outcome = dummy::execute(op)?;")
    swap("engine/mod.rs", "BackendGiven::Memory { name: None } => Backend::Memory(Rc::new(RefCell::new(new_store()))),",
         "BackendGiven::Memory { name: None } => Backend::Dummy,")
    swap("engine/mod.rs", "BackendGiven::Memory { name: Some(name) } => Backend::Memory(stores.get_or_make(name, new_store)),",
         "BackendGiven::Memory { name: Some(_) } => { let _ = (stores, new_store); Backend::Dummy }")
if "rest" in cuts:
    # REST calls are answered as dummy ones: planning, reading answers (and with them the near
    # tier and the bus, which only REST has), the SCAN walk and the JSON reader go.
    swap("engine/plan.rs", "Backend::Rest => return Ok(self.send(op)),", "Backend::Rest => dummy::execute(op)?,")
    swap("engine/answer.rs", "-> Result<Step> {\n        let body = rest::body_text(body);",
         "-> Result<Step> {\n        let _ = (request, status, body);\n        return Err(super::freed_error());\n        #[allow(unreachable_code)]\n        let body = rest::body_text(body);")
    swap("engine/answer.rs", "-> Vec<Result<Step>> {\n        // Every write",
         "-> Vec<Result<Step>> {\n        let _ = (requests, status, body);\n        return Vec::new();\n        #[allow(unreachable_code)]\n        // Every write")
    swap("engine/answer.rs", "let step = self.request_failed(request.read, failure.error(detail), backend_failed);",
         "let _ = (failure, detail, backend_failed, request.read);\n        let step = Err(super::freed_error());")
if "near" in cuts:
    # A near tier cannot be made (its type holds a value of an empty type), so that the compiler
    # drops every path that has one: its reads, write marks, refreshes, and the bus, which comes
    # only with it. Setting the field to None would not do: LLVM does not follow a field's values.
    swap("near.rs", "pub struct Near {\n", "pub struct Near {\n    never: core::convert::Infallible,\n")
    swap("near.rs", "-> Near {\n        Near {", "-> Near {\n        Near { never: loop {},")
if "tags" in cuts:
    # Tags cannot be given (reading a call's tags never returns with any), and the `tagged`
    # option sends no read as the checking script: tagged writes, invalidateTags, the memory
    # store's stamps and the two scripts only they use go. What reads an entry another instance
    # tagged stays (a plain read's answer sent again as the checking script, and the checks
    # inside add's, incr's and the near tier's scripts): without it such an entry would be
    # served with its tags' header, or after its tags were invalidated.
    swap("engine/calls.rs", "        let mut given = json::string_list(tags, &tags::stem(self.keys.prefix()))",
         "        let _ = (tags, max, limit);\n        loop {}\n        #[allow(unreachable_code)]\n        let mut given = json::string_list(tags, &tags::stem(self.keys.prefix()))")
    swap("backend/rest/commands.rs", "stamps: &[String]) -> String {\n    let mut out = Script::SetTagged",
         "stamps: &[String]) -> String {\n    let _ = (keys, values, ttl_ms, stamps);\n    loop {}\n    #[allow(unreachable_code)]\n    let mut out = Script::SetTagged")
    swap("backend/rest/commands.rs", "Op::Invalidate { stamps } => Script::Invalidate.command(false, stamps, &[]),",
         "Op::Invalidate { stamps } => {\n            let _ = stamps;\n            loop {}\n        }")
    swap("backend/rest/commands.rs", "const ALL: [Script; 7] = [Script::Incr, Script::Get, Script::GetMany, Script::GetWithPttl, Script::Add, Script::SetTagged, Script::Invalidate];",
         "const ALL: [Script; 5] = [Script::Incr, Script::Get, Script::GetMany, Script::GetWithPttl, Script::Add];")
    swap("backend/memory.rs", "            return None;\n        }\n        let mut tags",
         "            return None;\n        }\n        loop {}\n        #[allow(unreachable_code)]\n        let mut tags")
    swap("backend/memory.rs", "            Op::Invalidate { mut stamps } => {\n",
         "            Op::Invalidate { mut stamps } => {\n                loop {}\n                #[allow(unreachable_code)]\n")
    swap("engine/plan.rs", "match plan_checked(op).filter(|_| self.tagged) {", "let _ = plan_checked;\n        match None::<String> {")
if "package" in cuts:
    # With the near tier and tags out, the package as it would be: the exports only they use
    # gone from the boundary, and from the JavaScript the bus, the near tier's shared reads and
    # background refreshes, getOrSet's near paths, invalidateTags and the tags options. (A
    # measurement, not a build to ship: a cache given `near` or tags would never return.)
    path = f"{folder}/src/wasm.rs"
    s = open(path).read()
    for name in ["sharedKey", "sharedEpoch", "hasNearTier", "busChannel", "busMessage", "busReset", "remainingMs", "staleValue", "invalidateTags"]:
        found = re.search(r"\n((?:    ///[^\n]*\n)*    #\[wasm_bindgen\([^\n]*js_name = %s\)\]\n    pub fn .*?\n    \}\n)" % name, s, re.S)
        assert found, f"size-floor.sh: src/wasm.rs no longer exports {name}"
        s = s[:found.start(1)] + s[found.end(1):]
    files[path] = s
    js = lambda name, old, new: swap(name, old, new, under="npm")
    files[f"{folder}/npm/bus.js"] = "export class Bus {}\n"
    js("cache.js", """  invalidateTags(tags, options) {
    return this.#call(options, SIGNAL_ONLY, (o) => this.#engine.invalidateTags(stringList(tags, "tag"), o), same);
  }""", "")
    js("cache.js", "    if (this.#engine.busChannel !== undefined) this.#bus = new Bus(this.#engine, this.#transport, this.#emit);\n", "")
    js("cache.js", "    this.#near = this.#engine.hasNearTier;\n", "")
    s = files[f"{folder}/npm/cache.js"]
    start, end = s.index("  #send(request, finish) {"), s.index("  // A stale value served now")
    s = s[:start] + "  #send(request, finish) {\n    return this.#request(request, finish);\n  }\n\n" + s[end:]
    start = s.index("  #refresh([stale, request], waitUntil) {")
    end = s.index("  // An admitted call", start)
    files[f"{folder}/npm/cache.js"] = s[:start] + "  #refresh() {}\n\n" + s[end:]
    js("arguments.js", "      (tags === undefined ? 0 : GIVEN_TAGS) |\n", "")
    js("arguments.js", "    tags: tags === undefined ? undefined : stringList(tags, \"tag\"),\n", "")
    js("arguments.js", "  optional(options.tagged, \"boolean\", \"tagged\");\n", "")
    js("arguments.js", "    tagged: options.tagged === true,\n", "")
    js("get-or-set.js", "plan.soft !== undefined && this.#near ? this.#engine.staleValue(stored) : undefined", "undefined")
    js("get-or-set.js", """    if (this.#near) {
      text = await this.#step(() => this.#engine.getStored(stored, o?.fresh ?? false), o?.waitUntil);
      remaining = text === null ? undefined : this.#engine.remainingMs(stored);
    } else {
      [text, remaining] = await this.#step(() => this.#engine.getExpiring(stored));
    }
""", "    [text, remaining] = await this.#step(() => this.#engine.getExpiring(stored));\n")
for path, s in files.items():
    open(path, "w").write(s)
EOF
}
measure() {
    local label=$1
    shift
    rm -rf "$work/src" "$work/npm" "$work/out"
    # -m: the files dated now, not at the commit, so that cargo sees each variant as changed
    # (with the commit's dates it took the last variant's build for this one).
    git -C "$root" archive HEAD | tar -x -m -C "$work"
    [ "$#" -eq 0 ] || take_out "$@"
    quietly "$root/scripts/build-wasm.sh" --lib --manifest-path "$work/Cargo.toml"
    quietly "$root/scripts/finish-wasm.sh" "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edge_caches.wasm" "$work/out"
    last="$work/out/edge_caches_bg.wasm"
    node -e '
      const b = require("fs").readFileSync(process.argv[1]);
      const gz = require("zlib").gzipSync(b, { level: 9 }).length;
      console.log(`| ${process.argv[2]} | ${b.length.toLocaleString("en")} B | ${gz.toLocaleString("en")} B |`);
    ' "$last" "$label"
}

# The package (wasm and JavaScript, as scripts/package.mjs packs them, counted as
# scripts/size-budget.mjs counts them) of the last build measured.
package() {
    rm -rf "$work/.build" "$work/pkg"
    mkdir -p "$work/.build"
    cp -r "$work/out" "$work/.build/wasm"
    ln -sfn "$root/node_modules" "$work/node_modules"
    quietly node "$work/scripts/package.mjs"
    node --input-type=module -e '
      const { packageBytes } = await import(process.argv[1]);
      const files = packageBytes(process.argv[2]);
      const total = files.reduce((n, f) => n + f.gzip9, 0);
      console.log(`| ${process.argv[3]} | ${total.toLocaleString("en")} B | ${files.map((f) => `${f.file} ${f.gzip9}`).join(", ")} |`);
    ' "$root/scripts/package-bytes.mjs" "$work/pkg" "$1"
}

echo "| wasm of HEAD ($(git -C "$root" rev-parse --short HEAD)) | raw | gzip -9 |"
echo "|---|---|---|"
measure "as shipped: memory, REST and dummy backends"
# The method's check: the unedited tree must give the very wasm `make build` put in pkg/.
if [ -f "$root/pkg/edge_caches_bg.wasm" ]; then
    cmp -s "$last" "$root/pkg/edge_caches_bg.wasm" && same="the same bytes as" || same="NOT the same bytes as"
    echo "size-floor.sh: the shipped row ($(wc -c < "$last") B) is $same pkg/edge_caches_bg.wasm ($(wc -c < "$root/pkg/edge_caches_bg.wasm") B)" >&2
fi
# Packed now, while its build is the last one, and shown with the other package below.
shipped_package=$(package "as shipped")
measure "without the memory backend" memory
measure "without the near tier (and the bus)" near
measure "without tags (writing them; reading tagged entries stays)" tags
measure "without the near tier (and the bus) and tags" near tags
measure "without the REST backend" rest
measure "without either (dummy:// only)" memory rest

echo
echo "| package of HEAD, gzip -9 | bytes | by file |"
echo "|---|---|---|"
echo "$shipped_package"
measure "without the near tier, the bus and tags" near tags package > /dev/null
package "without the near tier, the bus and tags (their exports and JavaScript too)"
