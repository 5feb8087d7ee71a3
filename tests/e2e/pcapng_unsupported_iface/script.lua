-- events.lua, plus the packet counts by decode outcome at done: the two
-- 802.11 frames are read, counted as unsupported_link, and skipped.
local E = dofile("events.lua")
sniff.on("done", function(stats)
  E.out("packets", stats.packets, "tcp", stats.decode.tcp,
        "unsupported_link", stats.decode.unsupported_link)
  E.out("done")
end)
