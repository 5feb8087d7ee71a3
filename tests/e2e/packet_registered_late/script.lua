sniff.on("connection", function(c)
  print("connection", c.id)
  sniff.on("packet", function(p) print("packet", p.seq, p.ack) end)
end)
