-- Connection fields, script-set fields, and a reference kept past teardown.
local function p(...) print(table.concat({...}, " ")) end
local function rel(t) return string.format("%.6f", t - 1700000000) end
local kept
sniff.on("connection", function(c)
  c.requests = 0
  kept = c
  p("connection", c.id, tostring(c), tostring(c.midstream))
end)
sniff.on("sent_data", function(c, d)
  c.requests = c.requests + 1
  p("sent_data", c.id, #d, c.state, rel(c.start_time), rel(c.last_activity), rel(sniff.now()))
end)
sniff.on("received_data", function(c, d) p("received_data", c.id, #d) end)
sniff.on("closed", function(c, why)
  p("closed", c.id, why, c.client_ip, c.client_port, c.server_ip, c.server_port,
    c.client_bytes, c.server_bytes, c.requests)
end)
sniff.on("teardown", function(c) p("teardown", c.id) end)
sniff.on("done", function(stats)
  local ok = pcall(function()
    return kept.id, kept.client_ip, kept.client_bytes, kept.state, kept.last_activity, tostring(kept)
  end)
  p("done", tostring(ok), kept.requests, type(stats), stats.connections)
  -- After teardown: final values, script fields writable, methods raise.
  kept.requests = kept.requests + 1
  local mok, merr = pcall(kept.ignore, kept)
  p("kept", kept.id, kept.state, kept.close_reason, kept.client_bytes, kept.server_bytes,
    kept.requests, tostring(mok), tostring(merr):match("connection is torn down") or merr)
end)
