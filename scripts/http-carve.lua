-- http-carve.lua: writes HTTP response bodies to files in a directory.
--   luasniff -r trace.pcap scripts/http-carve.lua DIR [--min N] [-p PORT]...
--   DIR       existing directory for the files
--   --min N   skip bodies shorter than N bytes (default 1)
--   -p PORT   only connections to these server ports
-- Files are named CONN-N-NAME: the connection id, the response's number in
-- the connection, and NAME from the last path segment of the request target
-- reduced to [A-Za-z0-9._-] (other bytes become "_"; at most 64 characters;
-- "body" when nothing is left). So a hostile target ("/../../etc/passwd",
-- "%2e%2e/x", "a/b\0c") never names a file outside DIR. Bodies are written
-- as they stream (chunked encoding removed, content encodings such as gzip
-- kept as sent). One line per file: "wrote PATH BYTES [incomplete]".

local http = require "sniff.http"

local usage = "usage: http-carve.lua DIR [--min N] [-p PORT]..."
local dir, min, ports = nil, 1, nil
local i = 1
while arg and arg[i] do
  local a, v = arg[i], arg[i + 1]
  if a == "--min" and v and v:match("^%d+$") then
    min, i = tonumber(v), i + 2
  elseif a == "-p" and v and v:match("^%d+$") then
    ports = ports or {}
    ports[tonumber(v)], i = true, i + 2
  elseif not dir and a:sub(1, 1) ~= "-" then
    dir, i = a, i + 1
  else
    error(usage, 0)
  end
end
if not dir then error(usage, 0) end

-- A file name from a request target that cannot leave DIR.
local function safe_name(target)
  local path = (target or ""):gsub("[?#].*$", "")
  local last = path:match("([^/]*)$") or ""
  local name = last:gsub("[^%w._-]", "_"):sub(1, 64)
  name = name:gsub("^%.+", "_") -- no "." or ".." or hidden files
  if name == "" or name:match("^_*$") then name = "body" end
  return name
end

local function open_file(conn, res)
  conn.carved = (conn.carved or 0) + 1
  local name = ("%d-%d-%s"):format(conn.id, conn.carved, safe_name(res.request and res.request.target))
  local path = dir .. "/" .. name
  return {path = path, parts = {}, size = 0}
end

local handlers = {
  response = function(conn, res)
    if not res.interim then res.file = open_file(conn, res) end
  end,
  body = function(conn, msg, chunk)
    local f = msg.file
    if not f then return end
    if not f.fh then
      -- Held back until --min bytes are there, so short bodies make no file.
      f.parts[#f.parts + 1] = chunk
      f.size = f.size + #chunk
      if f.size < min then return end
      f.fh = assert(io.open(f.path, "wb"))
      f.fh:write(table.concat(f.parts))
      f.parts = nil
      return
    end
    f.size = f.size + #chunk
    f.fh:write(chunk)
  end,
  response_done = function(conn, res)
    local f = res.file
    if not f or not f.fh then return end
    f.fh:close()
    print(("wrote %s %d%s"):format(f.path, f.size, res.complete and "" or " incomplete"))
  end,
}

sniff.on("connection", function(conn)
  if ports and not ports[conn.server_port] then return false end
  http.attach(conn, handlers)
end)
