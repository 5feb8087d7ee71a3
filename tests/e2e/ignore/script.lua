-- Ignored connections get no further data, gap or closed events, but still
-- teardown (listed at done, in id order).
local E = dofile("events.lua")
sniff.on("connection", function(conn)
  E.connection(conn)
  if conn.client_port == 40002 then return false end
end)
sniff.on("sent_data", function(conn, data)
  E.data("sent_data", conn, data)
  if conn.client_port == 40001 then conn:ignore() end
end)
local torn = {}
sniff.on("teardown", function(conn) torn[#torn + 1] = conn.id end)
sniff.on("done", function()
  table.sort(torn)
  E.out("teardowns", table.concat(torn, " "))
  E.out("done")
end)
