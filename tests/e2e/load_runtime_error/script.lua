sniff.on("done", function() print("done") end)
error("refusing to start")
