-- events.lua plus conn.midstream for the connection without any handshake;
-- teardowns listed at done.
local E = dofile("events.lua")
sniff.on("connection", function(conn)
  E.connection(conn)
  if conn.server_port == 6379 then E.out("midstream", conn.id, tostring(conn.midstream)) end
end)
local torn = {}
sniff.on("teardown", function(conn) torn[#torn + 1] = conn.id end)
sniff.on("done", function()
  table.sort(torn)
  E.out("teardowns", table.concat(torn, " "))
  E.out("done")
end)
