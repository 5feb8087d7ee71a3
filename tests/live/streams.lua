-- streams.lua: the script of the live tests. Prints each connection's
-- events without ports or times (they change from run to run), and writes
-- the bytes of each direction to OUTDIR/ID.sent and OUTDIR/ID.received for
-- cmp against what tests/tools/lsnet sent.
-- usage: luasniff -i lo -f "tcp port PORT" streams.lua OUTDIR PORT
local outdir, port = arg[1], tonumber(arg[2])
local files = {}

local function out(c, dir)
  return files[c.id][dir]
end

sniff.on("connection", function(c)
  files[c.id] = {
    sent = assert(io.open(outdir .. "/" .. c.id .. ".sent", "wb")),
    received = assert(io.open(outdir .. "/" .. c.id .. ".received", "wb")),
  }
  -- The client is the side that sent the SYN: lsnet's server has the port.
  print("connection", c.id, tostring(c.server_ip == "127.0.0.1" and c.server_port == port))
end)
sniff.on("sent_data", function(c, data) out(c, "sent"):write(data) end)
sniff.on("received_data", function(c, data) out(c, "received"):write(data) end)
sniff.on("gap", function(c, dir, n) print("gap", c.id, dir, n) end)
sniff.on("closed", function(c, why) print("closed", c.id, why, c.client_bytes, c.server_bytes) end)
sniff.on("teardown", function(c)
  out(c, "sent"):close()
  out(c, "received"):close()
  print("teardown", c.id)
end)
sniff.on("done", function(st)
  print("done", st.connections)
  -- stdout may be a file: make the lines reach it before a test reads it.
  io.stdout:flush()
  local f = assert(io.open(outdir .. "/stats", "w"))
  for _, i in ipairs(st.interfaces) do
    f:write(i.name, " ", i.received, " ", i.dropped, " ", i.if_dropped, "\n")
  end
  f:write("drops ", st.drops, "\n")
  f:close()
end)
