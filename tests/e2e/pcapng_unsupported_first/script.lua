-- events.lua, plus a `log` handler: the unsupported-interface warning is a
-- diagnostic about the traffic, so the script receives it (once).
local E = dofile("events.lua")
sniff.on("log", function(msg, level) E.out("log", level, msg) end)
sniff.on("done", function(stats)
  E.out("packets", stats.packets, "tcp", stats.decode.tcp,
        "unsupported_link", stats.decode.unsupported_link)
  E.out("done")
end)
