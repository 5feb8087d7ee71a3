-- events.lua, plus the capture time of the packet that opened and closed
-- each connection (both interfaces' timestamps come through), and the
-- packet counts at done. Teardowns are listed at done: when a finished
-- connection is torn down relative to the other one's events is not part
-- of the contract.
local E = dofile("events.lua")
local function now() return string.format("%.6f", sniff.now()) end
sniff.on("connection", function(conn)
  E.out("connection", conn.id, E.ep(conn.client_ip, conn.client_port),
        E.ep(conn.server_ip, conn.server_port), "at", now())
end)
sniff.on("closed", function(conn, why) E.out("closed", conn.id, why, "at", now()) end)
local torn = {}
sniff.on("teardown", function(conn) torn[#torn + 1] = conn.id end)
sniff.on("done", function(stats)
  table.sort(torn)
  E.out("teardowns", table.concat(torn, " "))
  E.out("packets", stats.packets, "tcp", stats.decode.tcp)
  E.out("done")
end)
