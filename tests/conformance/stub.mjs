// For the tests' stubbed fetches: one command's answer as the request asked for it, alone or
// inside a /pipeline request (reads by script, `get` among them, always go as a pipeline).
export const reply = (url, one) => (String(url).endsWith("/pipeline") ? `[${one}]` : one);
