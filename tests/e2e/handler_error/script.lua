local E = dofile("events.lua")
sniff.on("sent_data", function(conn, data)
  E.data("sent_data", conn, data)
  local t = nil
  return t.boom
end)
