-- events_teardowns.lua: events.lua, but teardowns are listed at done: when a
-- finished connection is torn down relative to the next one's events is not part of
-- the contract.
local E = dofile("events.lua")
local torn = {}
sniff.on("teardown", function(conn) torn[#torn + 1] = conn.id end)
sniff.on("done", function()
  table.sort(torn)
  E.out("teardowns", table.concat(torn, " "))
  E.out("done")
end)
