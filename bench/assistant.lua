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
-- provider is ASK_EXPECT; bench/check.lua checks it and prints one line, ASK key=value…,
-- with the latency percentiles (ms) and the counts of bad responses.

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

check_label = "ASK"
check_wanted = wanted
check_wrong = "wrong_provider"
on_init = function()
  n = 0
end
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "check.lua")

function request()
  n = n + 1
  if mode == "same" or mode == "me" then
    return wrk.format(nil, nil, nil, fixed)
  end
  local m = question .. " (" .. tag .. " " .. tid .. " " .. n .. ")?"
  return wrk.format(nil, nil, nil,
    '{"query":"' .. query .. '","variables":{"m":"' .. m .. '"}}')
end
