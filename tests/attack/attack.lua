-- attack.lua: prints the resource figures of a run at `done`, one
-- key=value line, for attack.sh to check against the limits it set:
-- the peaks from sniff.stats() and the process's peak resident memory
-- (VmHWM from /proc/self/status, in KiB; 0 where there is no /proc).
sniff.on("done", function(st)
  local hwm = 0
  local f = io.open("/proc/self/status")
  if f then
    for l in f:lines() do
      local v = l:match("^VmHWM:%s+(%d+)")
      if v then hwm = tonumber(v) end
    end
    f:close()
  end
  print(string.format("packets=%d connections=%d peak_active=%d evicted=%d peak_buffered=%d "
    .. "forced_out=%d gaps=%d conflicting=%d frag_peak=%d frag_evicted=%d hwm_kb=%d",
    st.packets, st.connections, st.peak_active, st.evicted, st.peak_buffered,
    st.forced_out, st.gaps, st.overlaps_conflicting, st.frag.peak_buffered,
    st.frag.evicted, hwm))
end)
