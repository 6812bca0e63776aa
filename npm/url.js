// The cache URL, as async-caches takes it: which backend, and default options in its query
// (`memory://NAME?ttl=60&version=2&key_prefix=app`). Read with the runtime's own URL parser
// (WHATWG's, in every runtime the package runs in), so that the wasm carries none
// (docs/decisions/0013). The engine gets the backend as a kind and a location, and the
// query's options merged under the caller's.
import { CacheError } from "./errors.js";

// The backend kinds, as src/wasm.rs numbers them (`Engine::new`).
const MEMORY = 0;
const DUMMY = 1;
export const REST = 2;

const SCHEME = /^([a-z][a-z\d+.-]*):\/\//i;
// A query ttl: a plain decimal number of seconds, as the Python original writes it.
const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

const configError = (message) => new CacheError("CONFIG", message);

// `text` percent-decoded (a bad escape is a CONFIG error).
function decoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    throw configError("bad percent-escape in the cache URL");
  }
}

// `[kind, location, options]` for the engine: `options` (types checked, arguments.js) with the
// query's defaults where the caller gave none (as async-caches, where an option that is false
// in Python leaves the URL's) and the URL's token where the options have none. The messages
// never echo the URL: it may hold the token.
export function readUrl(url, options) {
  const scheme = SCHEME.exec(url)?.[1].toLowerCase();
  let parsed;
  try {
    parsed = new URL(url);
  } catch {}
  if (scheme === undefined || parsed === undefined) throw configError("cache URL must look like memory://, dummy:// or https://host");
  let ttl, version, keyPrefix;
  for (const [name, value] of parsed.searchParams) {
    if (name === "ttl") {
      if (!DECIMAL.test(value) || !(Number(value) > 0)) throw new RangeError("ttl in the URL must be a positive decimal number of seconds");
      ttl = Number(value);
    } else if (name === "version") version = value || undefined;
    else if (name === "key_prefix" || name === "keyPrefix") keyPrefix = value;
    else throw configError(`unknown option '${name}' in the cache URL (known: ttl, version, key_prefix)`);
  }
  const given = options.version;
  const merged = {
    ...options,
    ttl: options.ttl === undefined ? ttl : options.ttl,
    version: given === undefined || given === null || given === "" || given === 0 ? version : given,
    keyPrefix: options.keyPrefix || keyPrefix,
  };
  if (scheme === "memory") return [MEMORY, decoded((parsed.host + parsed.pathname).replace(/\/+$/, "")), merged];
  if (scheme === "dummy") return [DUMMY, "", merged];
  if (scheme !== "http" && scheme !== "https") throw configError("unsupported cache URL scheme (use memory://, dummy://, http:// or https://)");
  // `https://TOKEN@host` or `https://user:TOKEN@host` (the Redis URL habit): the parser says
  // "" for a password both when there is none and when it is empty.
  const userinfo = /^[^:]*:\/\/([^/?#]*)@/.exec(url)?.[1] ?? "";
  const token = decoded(userinfo.includes(":") ? parsed.password : parsed.username);
  if (merged.token === undefined && token !== "") merged.token = token;
  return [REST, `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`, merged];
}
