-- streams.lua: dumps every connection for the differential tests.
--   luasniff -r FILE tests/diff/streams.lua OUTDIR
-- Prints one line per connection when it is closed (tab-separated):
--   conn ID CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT C2S_BYTES S2C_BYTES
--        C2S_GAP_BYTES S2C_GAP_BYTES REASON
-- and writes the delivered bytes (gaps skipped) to OUTDIR/ID.c2s and
-- OUTDIR/ID.s2c, both always created, so sha256sum can hash them. Bytes are
-- kept in memory until the connection closes: one write and one file
-- descriptor at a time, whatever the concurrency.
local dir = arg[1] or error("usage: streams.lua OUTDIR", 0)

sniff.on("connection", function(c)
  c.d_sent, c.d_received = {}, {}
  c.g_sent, c.g_received = 0, 0
end)
sniff.on("sent_data", function(c, s) local t = c.d_sent; t[#t + 1] = s end)
sniff.on("received_data", function(c, s) local t = c.d_received; t[#t + 1] = s end)
sniff.on("gap", function(c, dir_, n)
  if dir_ == "sent" then c.g_sent = c.g_sent + n else c.g_received = c.g_received + n end
end)

local function dump(c, why)
  if c.dumped then return end
  c.dumped = true
  local sent, received = table.concat(c.d_sent), table.concat(c.d_received)
  for ext, s in pairs({c2s = sent, s2c = received}) do
    local f = assert(io.open(dir .. "/" .. c.id .. "." .. ext, "wb"))
    assert(f:write(s))
    f:close()
  end
  print(table.concat({"conn", c.id, c.client_ip, c.client_port, c.server_ip, c.server_port,
    #sent, #received, c.g_sent, c.g_received, why}, "\t"))
  c.d_sent, c.d_received = nil, nil
end
sniff.on("closed", dump)
sniff.on("teardown", function(c) dump(c, "none") end)
