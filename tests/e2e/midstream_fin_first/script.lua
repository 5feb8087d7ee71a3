dofile("events.lua")
sniff.on("done", function(st) print("stray", st.stray) end)
