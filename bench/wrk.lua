-- wrk script of the gateway section (bench/gateway.mjs). Environment:
--   WRK_AUTH      Authorization header value (none for webdis)
--   WRK_PIPELINE  N > 0: POST a body of N ["GET", key] commands (the /pipeline endpoint)
--   WRK_KEY       the key (default benchkey)
--   WRK_BODY      a body to POST as it is (a command for `/`, or a pipeline)
-- Prints one line "WRK_JSON {...}" with the totals, which gateway.mjs parses.
local auth = os.getenv("WRK_AUTH")
local n = tonumber(os.getenv("WRK_PIPELINE") or "0") or 0
local key = os.getenv("WRK_KEY") or "benchkey"
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
elseif n > 0 then
  local cmds = {}
  for i = 1, n do
    cmds[i] = '["GET","' .. key .. '"]'
  end
  wrk.method = "POST"
  wrk.body = "[" .. table.concat(cmds, ",") .. "]"
  wrk.headers["Content-Type"] = "application/json"
end

done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p99":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
