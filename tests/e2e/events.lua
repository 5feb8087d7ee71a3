-- events.lua: prints every event in a canonical, deterministic form, one line
-- each, for e2e expected.out files:
--   connection 1 10.0.0.1:40000 10.0.0.2:80
--   sent_data 1 18 "GET / HTTP/1.1\r\n\r\n"
--   received_data 1 5 "hello"
--   gap 1 sent 100
--   closed 1 fin
--   teardown 1
--   done
-- Consecutive data events of the same connection and direction are merged
-- into one line: how the host splits bytes into calls is not part of the
-- contract, their order and interleaving with other events is.
-- Data is escaped: printable ASCII as is, \\ \" \r \n \t, other bytes \xhh, and
-- a run of 16 or more equal bytes as \{N*c} (c escaped the same way).
-- log events go to stderr as "log: LEVEL MESSAGE" (their wording is not
-- fixed; cases check it with expected.err).
-- Use it as the script (a `script` file naming tests/e2e/events.lua), or from a
-- case's script.lua with `local E = dofile("events.lua")` and override handlers.

local E = {}

local function esc1(c)
  local b = c:byte()
  if c == "\\" then return "\\\\" end
  if c == '"' then return '\\"' end
  if c == "\r" then return "\\r" end
  if c == "\n" then return "\\n" end
  if c == "\t" then return "\\t" end
  if b >= 32 and b < 127 then return c end
  return string.format("\\x%02x", b)
end

function E.esc(s)
  local out, i, n = {}, 1, #s
  while i <= n do
    local c = s:sub(i, i)
    local j = i
    while j < n and s:sub(j + 1, j + 1) == c do j = j + 1 end
    local run = j - i + 1
    if run >= 16 then
      out[#out + 1] = "\\{" .. run .. "*" .. esc1(c) .. "}"
    else
      out[#out + 1] = esc1(c):rep(run)
    end
    i = j + 1
  end
  return '"' .. table.concat(out) .. '"'
end

function E.ep(ip, port)
  if tostring(ip):find(":", 1, true) then return "[" .. ip .. "]:" .. port end
  return ip .. ":" .. port
end

-- Pending merged data: connection id, event name, pieces.
local pend_id, pend_ev, pend = nil, nil, {}

function E.flush()
  if pend_id then
    local s = table.concat(pend)
    print(pend_ev .. " " .. pend_id .. " " .. #s .. " " .. E.esc(s))
    pend_id, pend_ev, pend = nil, nil, {}
  end
end

-- Prints its arguments separated by spaces, after any pending data line.
function E.out(...)
  E.flush()
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  print(table.concat(t, " "))
end

function E.data(ev, conn, data)
  if pend_id ~= conn.id or pend_ev ~= ev then E.flush() end
  pend_id, pend_ev = conn.id, ev
  pend[#pend + 1] = data
end

function E.connection(conn)
  E.out("connection", conn.id, E.ep(conn.client_ip, conn.client_port),
        E.ep(conn.server_ip, conn.server_port))
end

sniff.on("connection", function(conn) E.connection(conn) end)
sniff.on("sent_data", function(conn, data) E.data("sent_data", conn, data) end)
sniff.on("received_data", function(conn, data) E.data("received_data", conn, data) end)
sniff.on("gap", function(conn, dir, n) E.out("gap", conn.id, dir, n) end)
sniff.on("closed", function(conn, why) E.out("closed", conn.id, why) end)
sniff.on("teardown", function(conn) E.out("teardown", conn.id) end)
sniff.on("log", function(msg, level)
  io.stderr:write("log: ", tostring(level), " ", tostring(msg), "\n")
end)
sniff.on("done", function() E.out("done") end)

return E
