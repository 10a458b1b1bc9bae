-- wrk script of bench/analytics: POSTs DASHBOARD_BODY (a JSON GraphQL request) as the
-- person whose access token is DASHBOARD_TOKEN, and checks every response.
--
-- A response counts as good when it is HTTP 200, carries no GraphQL error and holds the
-- dashboard's series; bench/check.lua checks it and prints one line, DASHBOARD key=value…,
-- with the latency percentiles (ms) and the counts of bad responses.

local token = os.getenv("DASHBOARD_TOKEN") or error("DASHBOARD_TOKEN is required")
local body = os.getenv("DASHBOARD_BODY") or error("DASHBOARD_BODY is required")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.body = body

check_label = "DASHBOARD"
check_wanted = '"series":['
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "check.lua")
