-- dump.lua: writes the connections that match a Lua predicate to a pcap,
-- whole (from their first packet), to send a minimal capture with a report.
--   luasniff -r trace.pcap scripts/dump.lua OUT.pcap 'EXPR' [--keep BYTES]
--   EXPR         a Lua expression over `conn` (the connection object, see
--                docs/lua-api.md), checked when the connection closes, e.g.
--                'conn.server_port == 80 and conn.server_bytes > 1000'
--                'conn.close_reason == "rst"'    'conn.id == 3'
--   --keep BYTES frames kept per connection until it is judged (default
--                16 MiB; a connection past it is written truncated)
-- Prints "saved ID CLIENT -> SERVER PACKETS" per connection written, and a
-- total. Connections are written one after the other, in the order they
-- closed; packets of one connection stay in capture order.

local usage = "usage: dump.lua OUT.pcap 'EXPR' [--keep BYTES]"
local out, expr, keep = nil, nil, 16 << 20
local i = 1
while arg and arg[i] do
  local a, v = arg[i], arg[i + 1]
  if a == "--keep" and v and v:match("^%d+$") then
    keep, i = tonumber(v), i + 2
  elseif not out then
    out, i = a, i + 1
  elseif not expr then
    expr, i = a, i + 1
  else
    error(usage, 0)
  end
end
if not (out and expr) then error(usage, 0) end

local env = setmetatable({}, {__index = _G})
local pred, err = load("return " .. expr, "=predicate", "t", env)
if not pred then error("dump.lua: bad predicate: " .. err, 0) end
local w = assert(sniff.pcap_writer(out))
sniff.keep_packets(keep)

local saved = 0
sniff.on("closed", function(conn)
  env.conn = conn
  local ok, yes = pcall(pred)
  env.conn = nil
  if not ok then error("predicate: " .. tostring(yes), 0) end
  if not yes then return end
  local frames, _, dropped = conn:kept()
  local n = assert(w:save(conn))
  saved = saved + 1
  print(("saved %s %d%s"):format(tostring(conn):gsub("^conn#", ""), n,
    dropped > 0 and (" (truncated: %d packets past --keep)"):format(dropped) or ""))
  local _ = frames
end)
sniff.on("done", function()
  print(("%d connections, %d packets written to %s"):format(saved, w:packets(), out))
  assert(w:close())
end)
