-- redis-log.lua: one line per Redis command with its reply and latency,
-- from the RESP protocol (RESP2 and the common RESP3 types; inline commands
-- too). A second protocol built on sniff.stream.
--   luasniff -r trace.pcap scripts/redis-log.lua [-p PORT]... [--slow SEC]
--   -p PORT     server ports (default 6379)
--   --slow SEC  only commands slower than SEC seconds
-- Line: TIME CLIENT SERVER LATENCY COMMAND [ARGS...] -> REPLY
--   TIME     capture time of the command; LATENCY seconds to its reply (6
--            decimals), "-" when the connection ended first (or the command
--            was given up, see Bounds)
--   ARGS     at most 3 shown, each cut to 32 bytes, then "..."
--   REPLY    +OK, -ERR msg, :42, $5 (bulk length), *3 (array size), nil
-- Latencies use the capture times of the segments themselves, in either
-- --deliver mode.
-- Bounds: a length or count on the wire costs nothing by itself. Of a bulk
-- string only the first 33 bytes are kept (the rest is skipped as it
-- streams by), of an aggregate the first 4 elements (the rest are parsed
-- and dropped), and a value cut by the end of the stream is dropped.
-- Nesting deeper than 32 levels ends the parse of that direction.
-- At most 1024 commands per connection wait for their replies: past that
-- the oldest is logged at once as "(no reply)", and later replies pair with
-- the commands that remain (a server that never answers, or a capture of
-- the client's side only, costs bounded memory).

local stream = require "sniff.stream"

local usage = "usage: redis-log.lua [-p PORT]... [--slow SEC]"
local ports, slow = nil, nil
local i = 1
while arg and arg[i] do
  local a, v = arg[i], arg[i + 1]
  if a == "-p" and v and v:match("^%d+$") then
    ports = ports or {}
    ports[tonumber(v)], i = true, i + 2
  elseif a == "--slow" and v and tonumber(v) then
    slow, i = tonumber(v), i + 2
  else
    error(usage, 0)
  end
end
ports = ports or {[6379] = true}

local function ep(ip, port)
  return (ip:find(":", 1, true) and "[%s]:%d" or "%s:%d"):format(ip, port)
end

local KEEP_BYTES = 33  -- of a bulk string: what a line shows, plus one to tell it was cut
local KEEP_ITEMS = 4   -- of an aggregate: what a line shows
local MAX_DEPTH = 32
local MAX_PENDING = 1024 -- commands awaiting a reply, per connection

-- A length or count from a header line: an integer, or nil.
local function count(s) return math.tointeger(tonumber(s)) end

-- A bulk string of n bytes and its CRLF: the string when short, else
-- {long = n, head = first KEEP_BYTES bytes}; nil at the end of the stream.
-- Long ones are skipped, not read, so a huge length buffers nothing.
local function bulk(r, n)
  if n < KEEP_BYTES then
    local s = r:read(n + 2)
    return s and s:sub(1, n)
  end
  local head = r:read(KEEP_BYTES)
  if not head or not r:skip(n - KEEP_BYTES + 2) then return nil end
  return {long = n, head = head}
end

-- Reads one RESP value; returns a Lua value (tables for aggregates, a
-- {err = msg} table for errors, {long = n, head = s} for long bulk
-- strings, false for nil) or nil at the end (or past MAX_DEPTH).
local function value(r, depth)
  depth = depth or 1
  if depth > MAX_DEPTH then return nil end
  local line = r:read_line(65536)
  if not line then return nil end
  local t, rest = line:sub(1, 1), line:sub(2)
  if t == "+" then return rest
  elseif t == "-" or t == "!" then
    if t == "!" then
      local n = count(rest)
      if not n or n < 0 then return {err = rest} end
      local b = bulk(r, n)
      if b == nil then return nil end
      rest = type(b) == "table" and b.head or b
    end
    return {err = rest}
  elseif t == ":" or t == "," or t == "(" then return tonumber(rest) or rest
  elseif t == "#" then return rest == "t"
  elseif t == "_" then return false
  elseif t == "$" or t == "=" then
    local n = count(rest)
    if not n or n < 0 then return false end
    return bulk(r, n)
  elseif t == "*" or t == "~" or t == ">" or t == "%" or t == "|" then
    local n = count(rest)
    if not n or n < 0 then return false end
    if t == "%" or t == "|" then n = n * 2 end
    local a = {n = n}
    -- Stops when the stream does: a claimed count alone never loops.
    for k = 1, n do
      local v = value(r, depth + 1)
      if v == nil then return nil end
      if k <= KEEP_ITEMS then a[k] = v end
    end
    if t == "|" then return value(r, depth) end -- attributes precede the real reply
    return a
  end
  -- An inline command: words separated by spaces.
  local a = {}
  for w in line:gmatch("%S+") do a[#a + 1] = w end
  a.n = #a
  return a
end

local function show_reply(v)
  if v == nil or v == false then return "nil" end
  if type(v) == "table" then
    if v.err then return "-" .. v.err end
    if v.long then return "$" .. v.long end
    return "*" .. (v.n or #v)
  end
  if type(v) == "string" then return #v <= 32 and ("+" .. v) or ("$" .. #v) end
  return ":" .. tostring(v)
end

local function show_command(cmd)
  local out = {}
  for k = 1, math.min(cmd.n or #cmd, 4) do
    local c = cmd[k]
    local s = type(c) == "table" and c.long and c.head or tostring(c)
    if #s > 32 then s = s:sub(1, 32) .. "..." end
    out[#out + 1] = (s:gsub("[^\32-\126]", "."))
  end
  if (cmd.n or #cmd) > 4 then out[#out + 1] = "..." end
  return table.concat(out, " ")
end

local function report(conn, q, reply, t)
  local lat = t and t - q.time
  if slow and (not lat or lat < slow) then return end
  print(("%.6f %s %s %s %s -> %s"):format(q.time, ep(conn.client_ip, conn.client_port),
    ep(conn.server_ip, conn.server_port), lat and ("%.6f"):format(lat) or "-",
    show_command(q.cmd), reply))
end

sniff.on("connection", function(conn)
  if not ports[conn.server_port] then return false end
  -- Commands awaiting a reply: queue[head .. tail], oldest first.
  local queue, head, tail = {}, 1, 0
  local function pop()
    local q = queue[head]
    queue[head] = nil
    -- Back to index 1 once empty, so the indexes stay small.
    if head == tail then head, tail = 1, 0 else head = head + 1 end
    return q
  end
  stream.attach(conn, "sent", function(r)
    while true do
      if not r:wait_data() then return end
      local t = r:time_first()
      local cmd = value(r)
      if type(cmd) ~= "table" or cmd.err or cmd.long then return end
      if (cmd.n or #cmd) > 0 then
        tail = tail + 1
        queue[tail] = {cmd = cmd, time = t}
        -- A client pipelining to a server that does not answer must not
        -- grow the queue without bound: give up on the oldest now.
        if tail - head >= MAX_PENDING then report(conn, pop(), "(no reply)", nil) end
      end
    end
  end)
  stream.attach(conn, "received", function(r)
    while true do
      if not r:wait_data() then break end
      local t = r:time_first()
      local v = value(r)
      if v == nil then break end
      if head <= tail then report(conn, pop(), show_reply(v), t) end
    end
    for k = head, tail do report(conn, queue[k], "(no reply)", nil) end
  end)
end)
