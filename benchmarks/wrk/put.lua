-- PUT /v1/scopes/{scope} (verify off) with If-Match from the last answer: one connection per
-- thread (run with -t N -c N), each thread its own scope from SCOPES_FILE, so no two race.
local scopes = {}
for line in io.lines(os.getenv("SCOPES_FILE")) do scopes[#scopes + 1] = line end
local token = os.getenv("TOKEN")
local body = '{"host":"127.0.0.1","port":2525,"tls":true,"username":"bench",' ..
  '"password":"bench-password-not-secret","verify":{"mode":"off"}}'
local counter = 0
local threads = {}

setup = function(thread)
  counter = counter + 1
  thread:set("scope", scopes[counter])
  table.insert(threads, thread)
end

local etag = nil
request = function()
  if etag == nil then
    return wrk.format("GET", "/v1/scopes/" .. scope, {["Authorization"] = "Bearer " .. token})
  end
  return wrk.format("PUT", "/v1/scopes/" .. scope,
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json", ["If-Match"] = etag}, body)
end

response = function(status, headers, body)
  if status ~= 200 and status ~= 201 then
    io.stderr:write("PUT answered " .. status .. ": " .. body:sub(1, 200) .. "\n")
    wrk.thread:stop()
  end
  etag = headers["ETag"] or headers["etag"]
end

-- done: the JSON line service_floor.py reads, from report.lua beside this script
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
