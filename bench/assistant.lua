-- wrk script of bench/assistant: POSTs askAssistant (a new conversation each time) as the
-- person whose access token is ASK_TOKEN, and checks every response.
--
--   ASK_TOKEN     the Bearer token (required)
--   ASK_QUESTION  the question's text (no quotes or backslashes)
--   ASK_MODE      unique: each request's question ends with a counter (no cache hit);
--                 same: every request asks ASK_QUESTION as it is
--                 me: not the assistant: `{ me { user { id } } }`, the same HTTP, JWT and GraphQL
--                 work around no assistant (a good answer names the person)
--   ASK_EXPECT    the provider every answer must come from (scripted, cache, builtin)
--   ASK_RUN       a tag making this run's questions differ from any other run's
--
-- A response counts as good when it is HTTP 200, carries no GraphQL error and its answer's
-- provider is ASK_EXPECT. `done` prints one line, ASK key=value…, with the latency
-- percentiles (ms) and the counts of bad responses, then the first bad body.

local token = os.getenv("ASK_TOKEN") or error("ASK_TOKEN is required")
local question = os.getenv("ASK_QUESTION") or "Which labs am I connected to"
local mode = os.getenv("ASK_MODE") or "unique"
local expect = os.getenv("ASK_EXPECT") or "scripted"
local tag = os.getenv("ASK_RUN") or tostring(os.time())

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local query = "mutation($m: String!) { askAssistant(input: { message: $m }) "
  .. "{ conversation { id } answer { id content provider } } }"
local wanted = '"provider":"' .. expect .. '"'
local fixed = '{"query":"' .. query .. '","variables":{"m":"' .. question .. '"}}'
if mode == "me" then
  wanted = '"me":{"user":{"id":"'
  fixed = '{"query":"{ me { user { id } } }"}'
end

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  good = 0
  non200 = 0
  gql_errors = 0
  wrong_provider = 0
  first_bad = ""
end

function request()
  n = n + 1
  if mode == "same" or mode == "me" then
    return wrk.format(nil, nil, nil, fixed)
  end
  local m = question .. " (" .. tag .. " " .. tid .. " " .. n .. ")?"
  return wrk.format(nil, nil, nil,
    '{"query":"' .. query .. '","variables":{"m":"' .. m .. '"}}')
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
    wrong_provider = wrong_provider + 1
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
    w = w + t:get("wrong_provider")
    if bad == "" then bad = t:get("first_bad") end
  end
  local errs = summary.errors
  local ms = function(p) return latency:percentile(p) / 1000.0 end
  io.write(string.format(
    "ASK requests=%d good=%d non200=%d gql_errors=%d wrong_provider=%d socket_errors=%d "
      .. "rps=%.1f mean_ms=%.2f p50_ms=%.2f p90_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, g, s, e, w, errs.connect + errs.read + errs.write + errs.timeout,
    summary.requests / (summary.duration / 1e6), latency.mean / 1000.0,
    ms(50), ms(90), ms(95), ms(99), latency.max / 1000.0))
  if bad ~= "" then
    io.write("FIRST_BAD " .. bad .. "\n")
  end
end
