-- follow.lua: prints one connection's conversation, like
-- `tshark -z follow,tcp,ascii`, with "> " for client->server lines and "< "
-- for server->client lines.
--   luasniff -r trace.pcap scripts/follow.lua [-x] ID|IP:PORT
--   ID        the connection id (1 is the first connection)
--   IP:PORT   the first connection with that endpoint ([v6addr]:port for IPv6)
--   -x        hex dump (offsets counted per direction) instead of text
-- Text mode escapes bytes other than printable ASCII and newline as \xhh.

local usage = "usage: follow.lua [-x] ID|IP:PORT"
local hex, want_id, want_ip, want_port = false, nil, nil, nil
for _, a in ipairs(arg or {}) do
  local ip, port = a:match("^%[(.+)%]:(%d+)$")
  if not ip then ip, port = a:match("^([%d.]+):(%d+)$") end
  if a == "-x" then hex = true
  elseif a:match("^%d+$") and not (want_id or want_ip) then want_id = tonumber(a)
  elseif ip and not (want_id or want_ip) then want_ip, want_port = ip, tonumber(port)
  else error(usage, 0) end
end
if not (want_id or want_ip) then error(usage, 0) end

local chosen, pend_dir, pend = nil, nil, {}
local offset = {sent = 0, received = 0}
local mark = {sent = "> ", received = "< "}

local function show(dir, s)
  local n = #s
  if hex then
    for i = 1, #s, 16 do
      local row = s:sub(i, i + 15)
      local hx = row:gsub(".", function(ch) return string.format("%02x ", ch:byte()) end)
      print(string.format("%s%08x  %-48s %s", mark[dir], offset[dir] + i - 1, hx,
        (row:gsub("[^\32-\126]", "."))))
    end
  else
    s = s:gsub("[^\n\32-\126]", function(ch) return string.format("\\x%02x", ch:byte()) end)
    for line in (s:sub(-1) == "\n" and s or s .. "\n"):gmatch("(.-)\n") do
      print(mark[dir] .. line)
    end
  end
  offset[dir] = offset[dir] + n
end

-- Consecutive data of one direction is shown as one block: how the capture
-- split it into segments does not matter to a reader.
local function flush()
  if pend_dir then show(pend_dir, table.concat(pend)) end
  pend_dir, pend = nil, {}
end

sniff.on("connection", function(c)
  local match = want_id and c.id == want_id or want_ip and
    ((c.client_ip == want_ip and c.client_port == want_port) or
     (c.server_ip == want_ip and c.server_port == want_port))
  if chosen or not match then return false end
  chosen = c.id
  print(string.format("=== connection %d: client %s:%d, server %s:%d", c.id,
    c.client_ip, c.client_port, c.server_ip, c.server_port))
end)
local function data(dir)
  return function(_, s)
    if pend_dir ~= dir then flush() end
    pend_dir, pend[#pend + 1] = dir, s
  end
end
sniff.on("sent_data", data("sent"))
sniff.on("received_data", data("received"))
sniff.on("gap", function(_, dir, n)
  flush()
  print(string.format("%s[gap: %d bytes missing]", mark[dir], n))
  offset[dir] = offset[dir] + n
end)
sniff.on("closed", function(c, why)
  flush()
  print(string.format("=== closed (%s): client sent %d bytes, server sent %d bytes",
    why, c.client_bytes, c.server_bytes))
end)
sniff.on("done", function() if not chosen then io.stderr:write("follow.lua: no such connection\n") end end)
