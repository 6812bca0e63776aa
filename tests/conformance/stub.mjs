// For the tests' stubbed fetches: one command's answer as the request asked for it, alone or
// inside a /pipeline request (a script sent by its SHA-1, `incr`'s among them, always goes in one).
export const reply = (url, one) => (String(url).endsWith("/pipeline") ? `[${one}]` : one);
