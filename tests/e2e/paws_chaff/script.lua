-- events.lua, and the counters a dropped segment lands in.
dofile("events.lua")
sniff.on("done", function(st)
  print("done")
  print("out_of_window " .. st.out_of_window .. " conflicting " .. st.overlaps_conflicting)
end)
