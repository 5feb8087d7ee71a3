-- events.lua, then the checksum and fragment counters at done.
local E = dofile("events.lua")
sniff.on("done", function(st)
  E.out("done")
  print("bad_checksums", st.bad_checksums, "overlaps", st.frag.overlaps, "reassembled",
        st.frag.reassembled)
end)
