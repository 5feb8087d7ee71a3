local E = dofile("events.lua")
local torn = {}
sniff.on("sent_data", function(conn, data)
  E.data("sent_data", conn, data)
  if conn.id ~= 1 then return end
  local t = nil
  return t.boom
end)
-- Policy (src/script.c): a data handler error stops events for that
-- connection only (teardown still comes); the run goes on.
sniff.on("teardown", function(conn) torn[#torn + 1] = conn.id end)
sniff.on("done", function()
  table.sort(torn)
  E.out("teardowns", table.concat(torn, " "))
  E.out("done")
end)
