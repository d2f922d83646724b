-- wrk script for benchmarks/intake_bench.py: POSTs pre-signed, distinct Jira webhooks.
--
-- WRK_IDS_OUT=<ids file> wrk -t <n> -s intake.lua <url> -- <requests file> <n>
-- The requests file has one request per line: path \t signature \t webhook id \t JSON body.
-- Thread i of n sends lines i, i+n, i+2n … once each (never a repeat: a repeat would be a
-- duplicate delivery, answered 200, not a new event); when its share runs out it stops.
-- Every status is counted, and the event ids of 202 answers are written to <ids out file>,
-- one per line, so the benchmark can check each acknowledged event in the event log. The
-- last line of output is "WRK_JSON {...}": the summary, latency percentiles and statuses.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local stride = tonumber(args[2])
  lines = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % stride == tid then lines[#lines + 1] = line end
    i = i + 1
  end
  pos = 1
  statuses = {}
  acked = {}
  exhausted = 0
end

function request()
  local line = lines[pos]
  if line == nil then
    exhausted = exhausted + 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  pos = pos + 1
  local path, sig, id, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-Hub-Signature"] = sig,
    ["X-Atlassian-Webhook-Identifier"] = id,
  }, body)
end

-- WRK_DELAY_MS paces each connection: it waits that long after each answer before the next
-- request (a fixed offered rate per connection, below saturation, instead of a closed loop).
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 202 then
    local id = body:match('"eventId":"([^"]+)"')
    if id then acked[#acked + 1] = id end
  end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("WRK_IDS_OUT") or "/dev/null", "w")
  local total, exhausted = {}, 0
  for _, t in ipairs(threads) do
    exhausted = exhausted + t:get("exhausted")
    local st = t:get("statuses")
    for k, v in pairs(st) do total[k] = (total[k] or 0) + v end
    for _, id in ipairs(t:get("acked")) do out:write(id, "\n") end
  end
  out:close()
  local parts = {}
  for k, v in pairs(total) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"exhausted":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"p999":%d},' ..
    '"statuses":{%s}}\n',
    summary.requests, exhausted, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9),
    table.concat(parts, ",")))
end
