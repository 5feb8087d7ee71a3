-- conn:on overrides the global handler for one connection only.
local E = dofile("events.lua")
sniff.on("connection", function(conn)
  E.connection(conn)
  conn:on("received_data", function(c, data) E.data("override_received", c, data) end)
  conn:on("closed", function(c, why) E.out("override_closed", c.id, why) end)
end)
