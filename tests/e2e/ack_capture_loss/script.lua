local n, gaps = 0, 0
sniff.on("sent_data", function(_, d) n = n + #d end)
sniff.on("gap", function(_, _, len) gaps = gaps + len end)
sniff.on("closed", function(_, why) print("sent " .. n .. " gaps " .. gaps .. " closed " .. why) end)
