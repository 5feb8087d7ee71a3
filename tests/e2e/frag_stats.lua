-- frag_stats.lua: events.lua, and the fragment counters at done.
local E = dofile("events.lua")
sniff.on("done", function(st)
  print("done")
  local f = st.frag
  print(string.format("fragments %d reassembled %d timeouts %d datagrams %d buffered %d peak>0 %s",
    f.fragments, f.reassembled, f.timeouts, f.datagrams, f.buffered, tostring(f.peak_buffered > 0)))
  print("decode fragment " .. st.decode.fragment .. " tcp " .. st.decode.tcp)
end)
