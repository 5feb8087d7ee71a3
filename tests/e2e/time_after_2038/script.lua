sniff.after(10, function() print(string.format("timer at %.1f", sniff.now())) end)
sniff.on("closed", function(c, why)
  print(string.format("%d start %.4f %s at %.1f", c.id, c.start_time, why, sniff.now()))
end)
