-- GET /v1/organizations/{org}/effective for organizations picked at random from ORGS_FILE.
local orgs = {}
for line in io.lines(os.getenv("ORGS_FILE")) do orgs[#orgs + 1] = line end
local token = os.getenv("TOKEN")
math.randomseed(os.time())

request = function()
  local org = orgs[math.random(#orgs)]
  return wrk.format("GET", "/v1/organizations/" .. org .. "/effective", {["Authorization"] = "Bearer " .. token})
end

local bad = 0
response = function(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad == 1 then io.stderr:write("effective answered " .. status .. ": " .. body:sub(1, 200) .. "\n") end
  end
end

done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"p50_us\": %d, \"p99_us\": %d, \"errors\": %d, \"non2xx\": %d}\n",
    summary.requests, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
