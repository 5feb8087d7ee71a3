-- Per-chunk byte counter: the cheapest useful script. Prints the total at the
-- end so bench/run.sh can check it against the generator's truth.
local n = 0
sniff.on("sent_data", function(_, data) n = n + #data end)
sniff.on("received_data", function(_, data) n = n + #data end)
sniff.on("done", function() print("bytes", n) end)
