-- Packets counted once each, and only the SYNs never proven as dropped.
sniff.on("done", function()
  local s = sniff.stats()
  print(("tcp_packets %d out_of_window %d"):format(s.tcp_packets, s.out_of_window))
end)
