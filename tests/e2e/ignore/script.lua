-- Ignored connections get no further data, gap or closed events; teardowns
-- are not printed here (only the normal connection's).
local E = dofile("events.lua")
sniff.on("connection", function(conn)
  E.connection(conn)
  if conn.client_port == 40002 then return false end
end)
sniff.on("sent_data", function(conn, data)
  E.data("sent_data", conn, data)
  if conn.client_port == 40001 then conn:ignore() end
end)
sniff.on("teardown", function(conn)
  if conn.client_port == 40003 then E.out("teardown", conn.id) end
end)
