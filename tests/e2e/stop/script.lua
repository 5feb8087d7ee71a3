-- sniff.stop() in the first sent_data: no more packets are read; the open
-- connection is flushed and closed with "end", then teardown and done.
local E = dofile("events.lua")
sniff.on("sent_data", function(conn, data)
  E.data("sent_data", conn, data)
  sniff.stop()
end)
