-- wrk script of bench/fairuse: POSTs `{ me { … } }` as the person whose access token is
-- ME_TOKEN and checks every response (a 429 is a bad response: the budgets are set above
-- the load). With PACE_MS each connection waits that long between requests, so the load
-- is paced (about connections × 1000 / (PACE_MS + latency) requests a second).

local token = os.getenv("ME_TOKEN") or error("ME_TOKEN is required")
local pace = tonumber(os.getenv("PACE_MS") or "")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = '{"query":"{ me { user { id email } company { id name plan } roles } }"}'

if pace then
  function delay()
    return pace
  end
end

check_label = "ME"
check_wanted = '"me":'
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "check.lua")
