-- http-log.lua: one line per HTTP exchange, as text or JSON lines.
--   luasniff -r trace.pcap scripts/http-log.lua [--json] [-p PORT]...
--   --json    one JSON object per line (needs lua-cjson)
--   -p PORT   only connections to these server ports (default: every
--             connection; those that are not HTTP print nothing)
-- Text: TIME CLIENT SERVER METHOD HOST TARGET STATUS REQ_BODY RES_BODY LATENCY [FLAGS]
--   TIME     capture time of the request's first byte (6 decimals)
--   HOST     the Host header ("-" when absent)
--   STATUS   "-" when no response was seen
--   REQ_BODY, RES_BODY  body bytes (after chunked decoding)
--   LATENCY  seconds from the request's first byte to the response's
--            first byte (6 decimals; "-" without a response)
-- Times are those of the data segments themselves, in either --deliver mode.
--   FLAGS    "incomplete" when a message was cut (gap, close), "upgrade"
-- JSON keys: time, client, server, method, host, target, version, status,
--   reason, req_body, res_body, latency, complete, upgrade (as applicable).

local http = require "sniff.http"

local usage = "usage: http-log.lua [--json] [-p PORT]..."
local json, ports = false, nil
local i = 1
while arg and arg[i] do
  local a = arg[i]
  if a == "--json" then
    json = true
    i = i + 1
  elseif a == "-p" and arg[i + 1] and arg[i + 1]:match("^%d+$") then
    ports = ports or {}
    ports[tonumber(arg[i + 1])] = true
    i = i + 2
  else
    error(usage, 0)
  end
end
local cjson = json and require "cjson"

local function ep(ip, port)
  return (ip:find(":", 1, true) and "[%s]:%d" or "%s:%d"):format(ip, port)
end

local function log(conn, req, res)
  local complete = req.complete and (res == nil or res.complete)
  local host = req.headers:get("host")
  local latency = res and math.max(0, res.time_first - req.time_first)
  if json then
    -- Keys in a fixed order (cjson would follow the table's hash order).
    local fields = {
      "time", req.time_first, "client", ep(conn.client_ip, conn.client_port),
      "server", ep(conn.server_ip, conn.server_port), "method", req.method, "host", host,
      "target", req.target, "version", req.version, "status", res and res.status,
      "reason", res and res.reason, "req_body", req.body_size,
      "res_body", res and res.body_size,
      "latency", latency and math.floor(latency * 1e6 + 0.5) / 1e6,
      "complete", complete, "upgrade", res and res.upgrade,
    }
    local out = {}
    for k = 1, #fields, 2 do
      local v = fields[k + 1]
      if v ~= nil then out[#out + 1] = cjson.encode(fields[k]) .. ":" .. cjson.encode(v) end
    end
    print("{" .. table.concat(out, ",") .. "}")
    return
  end
  local flags = {}
  if not complete then flags[#flags + 1] = "incomplete" end
  if res and res.upgrade then flags[#flags + 1] = "upgrade" end
  print(("%.6f %s %s %s %s %s %s %d %s %s%s"):format(req.time_first,
    ep(conn.client_ip, conn.client_port), ep(conn.server_ip, conn.server_port),
    req.method, host or "-", req.target, res and res.status or "-", req.body_size,
    res and res.body_size or "-", latency and ("%.6f"):format(latency) or "-",
    #flags > 0 and " " .. table.concat(flags, ",") or ""))
end

local handlers = {
  exchange = function(conn, req, res) if req then log(conn, req, res) end end,
  upgrade = function(conn, req, res) if req then log(conn, req, res) end end,
}

sniff.on("connection", function(conn)
  if ports and not ports[conn.server_port] then return false end
  http.attach(conn, handlers)
end)
