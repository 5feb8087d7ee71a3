-- top.lua: every N seconds (of capture time), the connections that moved
-- the most bytes in that interval. Meant for live use; works on files too.
--   luasniff -i eth0 scripts/top.lua [SECONDS [COUNT]]
--   SECONDS  interval (default 5)
--   COUNT    connections shown per interval (default 10)
-- Block: a "== TIME active=N" header, then "BYTES ID CLIENT -> SERVER"
-- lines, busiest first (ties by id). Quiet intervals print only the header.

local usage = "usage: top.lua [SECONDS [COUNT]]"
local every, count = tonumber(arg and arg[1] or 5), tonumber(arg and arg[2] or 10)
if not every or every <= 0 or not count or count < 1 or (arg and arg[3]) then error(usage, 0) end

local live = {}  -- conn -> bytes at the previous tick
local closed = {} -- connections that ended during the interval

local function total(c) return c.client_bytes + c.server_bytes end

sniff.on("connection", function(c) live[c] = 0 end)
sniff.on("teardown", function(c)
  if live[c] then closed[#closed + 1] = {c = c, base = live[c]} end
  live[c] = nil
end)

local function tick()
  local rows, n = {}, 0
  local function add(c, base)
    local d = total(c) - base
    if d > 0 then rows[#rows + 1] = {c = c, d = d} end
  end
  for c, base in pairs(live) do
    n = n + 1
    add(c, base)
    live[c] = total(c)
  end
  for _, e in ipairs(closed) do add(e.c, e.base) end
  closed = {}
  table.sort(rows, function(a, b) return a.d > b.d or (a.d == b.d and a.c.id < b.c.id) end)
  print(("== %.3f active=%d"):format(sniff.now(), n))
  for k = 1, math.min(count, #rows) do
    print(("%d %s"):format(rows[k].d, tostring(rows[k].c):gsub("^conn#", "")))
  end
end

sniff.every(every, tick)
sniff.on("done", tick)
