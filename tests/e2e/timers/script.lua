-- sniff.after / sniff.every run on the capture clock: they fire as packet
-- time passes their deadline, before the packet that moved the clock.
local function t() return string.format("%.1f", sniff.now() - 1700000000) end
local armed = false
sniff.on("connection", function(c)
  print("connection " .. c.id .. " at " .. t())
  if not armed then
    armed = true
    sniff.after(0.5, function() print("after") end)
    local n = 0
    sniff.every(1, function() n = n + 1; print("every " .. n) end)
  end
end)
sniff.on("sent_data", function(c, d) print("sent_data " .. d .. " at " .. t()) end)
sniff.on("closed", function(c, why) print("closed " .. why) end)
sniff.on("done", function() print("done") end)
