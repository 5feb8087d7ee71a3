-- A connection's frames are saved, at its first data, by a pcap writer held
-- in a to-be-closed variable: the file is closed when the handler returns.
sniff.keep_packets(65536)
local function save(c)
  if c.saved then return end
  c.saved = true
  local w <close> = assert(sniff.pcap_writer("conn" .. c.id .. ".pcap"))
  print("saved", c.id, w:save(c))
end
sniff.on("sent_data", save)
sniff.on("received_data", save)
sniff.on("closed", function(c) print("closed", c.id, c.close_reason) end)
