// The errors a call rejects with: `CacheError` (exported by the package) and `toError`, the one
// place an engine's error report becomes a JavaScript error.

export class CacheError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "CacheError";
    this.code = code;
  }
}

// Whether an engine's answer is an error report: an `EvalError` (src/wasm.rs, `report`) whose
// name says which error it describes. No outcome is one, and no runtime throws one any more.
export const isReport = (value) => value instanceof EvalError;

// The JavaScript error a report describes: a TypeError, a RangeError, or a CacheError whose code
// is the name. The CacheError codes are the engine's (src/error.rs); the one made in JavaScript
// is CONFIG, for the cache URL (url.js) and the environment (Cache.fromEnv).
export function toError({ name, message }) {
  if (name === "TypeError") return new TypeError(message);
  if (name === "RangeError") return new RangeError(message);
  return new CacheError(name, message);
}

// What the engine's constructor threw: a report as its error (anything else, such as a wasm trap,
// as it is).
export const thrown = (error) => (isReport(error) ? toError(error) : error);
