-- a syntax error on line 3
sniff.on("done", function() print("done") end)
local x = = 1
