-- --max-lua-memory 2M: the first connection's handler tries to build a
-- table far past the cap and fails with "not enough memory"; that
-- connection is ignored, the garbage is collected, and the others are
-- delivered in full.
sniff.on("connection", function(c)
  if c.id == 1 then
    local t = {}
    for i = 1, 1e7 do t[i] = i end
  end
end)
sniff.on("sent_data", function(c, d) print("sent", c.id, d) end)
sniff.on("received_data", function(c, d) print("received", c.id, d) end)
sniff.on("done", function(s) print("script_errors", s.script_errors, "ignored", s.ignored) end)
