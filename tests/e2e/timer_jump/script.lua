local t0
local n = 0
sniff.on("connection", function()
  t0 = sniff.now()
  sniff.every(1, function() n = n + 1; print(string.format("every %d at %.1f", n, sniff.now() - t0)) end)
end)
sniff.on("done", function() print("fired " .. n) end)
