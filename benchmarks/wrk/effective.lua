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

-- done: the JSON line service_floor.py reads, from report.lua beside this script
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
