// The errors a call rejects with: `CacheError` (exported by the package) and `toError`, the one
// place an engine's `ErrorReport` becomes a JavaScript error.
import { ErrorKind, ErrorReport } from "./wasm.js";

export class CacheError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "CacheError";
    this.code = code;
  }
}

// The JavaScript error an `ErrorReport` describes. The CacheError codes are the engine's
// (src/error.rs); the one made in JavaScript is CONFIG, for the cache URL (url.js) and the
// environment (Cache.fromEnv).
export function toError(report) {
  const { kind, code, message } = report;
  report.free();
  if (kind === ErrorKind.Type) return new TypeError(message);
  if (kind === ErrorKind.Range) return new RangeError(message);
  return new CacheError(code, message);
}

// What the engine threw (an ErrorReport from its constructor) as an error.
export const thrown = (error) => (error instanceof ErrorReport ? toError(error) : error);
