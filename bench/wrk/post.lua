-- POST a fixed body (or cycle through several). Usage:
--   wrk ... -s bench/wrk/post.lua URL -- <content-type> <body-file> [<body-file> ...] ["@H:Name: value" ...]
-- With several files each thread cycles through them, so consecutive requests differ (cache-cold runs).
-- done() prints one JSON line (prefix "WRKJSON ") with requests, errors and latency percentiles in microseconds.
local reqs = {}
local n = 0
local i = 0

function init(args)
  local headers = {["Content-Type"] = args[1]}
  local files = {}
  for k = 2, #args do
    local name, value = args[k]:match("^@H:([^:]+):%s*(.*)$")
    if name then headers[name] = value else files[#files + 1] = args[k] end
  end
  for _, path in ipairs(files) do
    local f = assert(io.open(path, "rb"))
    local body = f:read("*a")
    f:close()
    reqs[#reqs + 1] = wrk.format("POST", nil, headers, body)
  end
  n = #reqs
  i = math.random(0, n - 1)
end

function request()
  i = (i % n) + 1
  return reqs[i]
end

local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
