-- wrk script of bench/analytics: POSTs DASHBOARD_BODY (a JSON GraphQL request) as the
-- person whose access token is DASHBOARD_TOKEN, and checks every response.
--
-- A response counts as good when it is HTTP 200, carries no GraphQL error and holds the
-- dashboard's series. `done` prints one line, DASHBOARD key=value…, with the latency
-- percentiles (ms) and the counts of bad responses, then the first bad body.

local token = os.getenv("DASHBOARD_TOKEN") or error("DASHBOARD_TOKEN is required")
local body = os.getenv("DASHBOARD_BODY") or error("DASHBOARD_BODY is required")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = body

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  good = 0
  non200 = 0
  gql_errors = 0
  wrong = 0
  first_bad = ""
end

function response(status, headers, text)
  local bad = false
  if status ~= 200 then
    non200 = non200 + 1
    bad = true
  elseif text:find('"errors"', 1, true) then
    gql_errors = gql_errors + 1
    bad = true
  elseif not text:find('"series":[', 1, true) then
    wrong = wrong + 1
    bad = true
  else
    good = good + 1
  end
  if bad and first_bad == "" then
    first_bad = status .. " " .. string.sub(text, 1, 400)
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
    "DASHBOARD requests=%d good=%d non200=%d gql_errors=%d wrong=%d socket_errors=%d "
      .. "rps=%.1f mean_ms=%.2f p50_ms=%.2f p90_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, g, s, e, w, errs.connect + errs.read + errs.write + errs.timeout,
    summary.requests / (summary.duration / 1e6), latency.mean / 1000.0,
    ms(50), ms(90), ms(95), ms(99), latency.max / 1000.0))
  if bad ~= "" then
    io.write("FIRST_BAD " .. bad .. "\n")
  end
end
