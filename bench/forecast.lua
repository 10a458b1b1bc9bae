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
-- method chosen (or, for me, the person); bench/check.lua checks it and prints one line,
-- FORECAST key=value…, with the latency percentiles (ms) and the counts of bad responses.

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

check_label = "FORECAST"
check_wanted = wanted
on_init = function()
  math.randomseed(os.time() + tid)
end
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "check.lua")

function request()
  if fixed then
    return wrk.format(nil, nil, nil, fixed)
  end
  local id = ids[math.random(#ids)]
  return wrk.format(nil, nil, nil,
    '{"query":"' .. query .. '","variables":{"p":"' .. id .. '","h":' .. horizon .. '}}')
end
