-- events.lua, then the checksum counter at done.
local E = dofile("events.lua")
sniff.on("done", function(st)
  E.out("done")
  print("bad_checksums", st.bad_checksums)
end)
