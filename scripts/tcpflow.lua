-- tcpflow.lua: writes each direction of each TCP connection to its own file,
-- like tcpflow(1):  <id>-<srcip>.<srcport>-<dstip>.<dstport>
-- (IPv6 colons become '_', so names stay portable).
--   luasniff -r trace.pcap scripts/tcpflow.lua [-z] [OUTDIR]
--   -z      write the bytes of a gap as NUL bytes (default: skip them, so the
--           file holds exactly the bytes seen)
--   OUTDIR  existing directory for the files (default ".")
-- Files are opened only when data comes, and at most MAX_OPEN at a time:
-- past that every handle is closed and later writes reopen in append mode,
-- so thousands of concurrent connections never exhaust file descriptors.

local usage = "usage: tcpflow.lua [-z] [OUTDIR]"
local fill, dir = false, nil
for _, a in ipairs(arg or {}) do
  if a == "-z" then fill = true
  elseif a:sub(1, 1) ~= "-" and not dir then dir = a
  else error(usage, 0) end
end
dir = dir or "."

local MAX_OPEN = 64
local handles, nopen = {}, 0 -- path -> open file
local created = {}           -- path -> true once truncated (reopen appends)

local function close_path(path)
  local f = handles[path]
  if f then f:close(); handles[path] = nil; nopen = nopen - 1 end
end

local function write(path, data)
  local f = handles[path]
  if not f then
    if nopen >= MAX_OPEN then
      for p in pairs(handles) do close_path(p) end
    end
    f = assert(io.open(path, created[path] and "ab" or "wb"))
    created[path] = true
    handles[path], nopen = f, nopen + 1
  end
  assert(f:write(data))
end

local function ep(ip, port) return (tostring(ip):gsub(":", "_")) .. "." .. port end

sniff.on("connection", function(c)
  local cl, sv = ep(c.client_ip, c.client_port), ep(c.server_ip, c.server_port)
  c.tf_sent = dir .. "/" .. c.id .. "-" .. cl .. "-" .. sv
  c.tf_received = dir .. "/" .. c.id .. "-" .. sv .. "-" .. cl
end)
sniff.on("sent_data", function(c, data) write(c.tf_sent, data) end)
sniff.on("received_data", function(c, data) write(c.tf_received, data) end)

local zeros = string.rep("\0", 65536)
sniff.on("gap", function(c, direction, n)
  if not fill then return end
  local path = direction == "sent" and c.tf_sent or c.tf_received
  while n > 0 do
    local k = math.min(n, #zeros)
    write(path, zeros:sub(1, k))
    n = n - k
  end
end)

local function finish(c)
  for _, p in ipairs({c.tf_sent, c.tf_received}) do
    close_path(p)
    created[p] = nil
  end
end
sniff.on("closed", finish)
sniff.on("teardown", finish)
