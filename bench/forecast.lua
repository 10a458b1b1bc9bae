-- wrk script of bench/agent: POSTs demandForecast for a product picked at random from
-- FORECAST_IDS (one global ID a line) as the person whose access token is FORECAST_TOKEN,
-- and checks every response.
--
--   FORECAST_TOKEN    the Bearer token (required)
--   FORECAST_IDS      the file of product IDs (required unless FORECAST_MODE=me)
--   FORECAST_HORIZON  horizonDays (default 7)
--   FORECAST_MODE     forecast (default), or me: `{ me { user { id } } }`, the same HTTP,
--                     JWT and GraphQL work around one row, for scale
--
-- A response counts as good when it is HTTP 200, carries no GraphQL error and names the
-- method chosen (or, for me, the person). `done` prints one line, FORECAST key=value…,
-- with the latency percentiles (ms) and the counts of bad responses, then the first bad
-- body.

local token = os.getenv("FORECAST_TOKEN") or error("FORECAST_TOKEN is required")
local mode = os.getenv("FORECAST_MODE") or "forecast"
local horizon = os.getenv("FORECAST_HORIZON") or "7"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local query = "query($p: ID!, $h: Int) { demandForecast(productId: $p, horizonDays: $h) "
  .. "{ method why total { units low95 high95 } days { date demand { units low80 high80 low95 high95 } } "
  .. "backtestError backtestBias historyDays } }"
local wanted = '"method":"'
local fixed = nil
if mode == "me" then
  wanted = '"me":{"user":{"id":"'
  fixed = '{"query":"{ me { user { id } } }"}'
end

local ids = {}
if mode ~= "me" then
  local path = os.getenv("FORECAST_IDS") or error("FORECAST_IDS is required")
  for line in io.lines(path) do
    if line ~= "" then table.insert(ids, line) end
  end
  if #ids == 0 then error("no IDs in " .. path) end
end

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  good = 0
  non200 = 0
  gql_errors = 0
  wrong = 0
  first_bad = ""
  math.randomseed(os.time() + tid)
end

function request()
  if fixed then
    return wrk.format(nil, nil, nil, fixed)
  end
  local id = ids[math.random(#ids)]
  return wrk.format(nil, nil, nil,
    '{"query":"' .. query .. '","variables":{"p":"' .. id .. '","h":' .. horizon .. '}}')
end

function response(status, headers, body)
  local bad = false
  if status ~= 200 then
    non200 = non200 + 1
    bad = true
  elseif body:find('"errors"', 1, true) then
    gql_errors = gql_errors + 1
    bad = true
  elseif not body:find(wanted, 1, true) then
    wrong = wrong + 1
    bad = true
  else
    good = good + 1
  end
  if bad and first_bad == "" then
    first_bad = status .. " " .. string.sub(body, 1, 400)
  end
end

function done(summary, latency, requests)
  local g, s, e, w, bad = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    g = g + t:get("good")
    s = s + t:get("non200")
    e = e + t:get("gql_errors")
    w = w + t:get("wrong")
    if bad == "" then bad = t:get("first_bad") end
  end
  local errs = summary.errors
  local ms = function(p) return latency:percentile(p) / 1000.0 end
  io.write(string.format(
    "FORECAST requests=%d good=%d non200=%d gql_errors=%d wrong=%d socket_errors=%d "
      .. "rps=%.1f mean_ms=%.2f p50_ms=%.2f p90_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, g, s, e, w, errs.connect + errs.read + errs.write + errs.timeout,
    summary.requests / (summary.duration / 1e6), latency.mean / 1000.0,
    ms(50), ms(90), ms(95), ms(99), latency.max / 1000.0))
  if bad ~= "" then
    io.write("FIRST_BAD " .. bad .. "\n")
  end
end
