-- checksum_stats.lua: events.lua, and the checksum and overlap counters at done.
local E = dofile("events.lua")
sniff.on("done", function(st)
  print("done")
  print("bad_checksums " .. st.bad_checksums .. " conflicting " .. st.overlaps_conflicting)
end)
