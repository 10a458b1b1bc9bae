-- What the wrk scripts of bench/ share: every response checked, and one summary line.
-- A script sets, before `dofile`-ing this file next to it:
--
--   check_label   the summary line's first word (ASK, FORECAST, DASHBOARD)
--   check_wanted  a text every good answer holds
--   check_wrong   the name of the count of answers without it (default "wrong")
--   on_init       optional: more per-thread set-up (after the counters)
--
-- A response counts as good when it is HTTP 200, carries no GraphQL error and holds
-- `check_wanted`. `done` prints one line, <check_label> key=value…, with the latency
-- percentiles (ms) and the counts of bad responses, then FIRST_BAD and the first bad body.

check_wrong = check_wrong or "wrong"

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
  if on_init then on_init() end
end

function response(status, headers, body)
  local bad = false
  if status ~= 200 then
    non200 = non200 + 1
    bad = true
  elseif body:find('"errors"', 1, true) then
    gql_errors = gql_errors + 1
    bad = true
  elseif not body:find(check_wanted, 1, true) then
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
    "%s requests=%d good=%d non200=%d gql_errors=%d %s=%d socket_errors=%d "
      .. "rps=%.1f mean_ms=%.2f p50_ms=%.2f p90_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    check_label, summary.requests, g, s, e, check_wrong, w,
    errs.connect + errs.read + errs.write + errs.timeout,
    summary.requests / (summary.duration / 1e6), latency.mean / 1000.0,
    ms(50), ms(90), ms(95), ms(99), latency.max / 1000.0))
  if bad ~= "" then
    io.write("FIRST_BAD " .. bad .. "\n")
  end
end
