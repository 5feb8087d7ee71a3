-- tls-sni.lua: one line per TLS connection with the server name (SNI),
-- ALPN, versions and cipher suite, from the ClientHello and ServerHello.
--   luasniff -r trace.pcap scripts/tls-sni.lua [-p PORT]...
--   -p PORT   only connections to these server ports (default: every
--             connection that starts with a TLS record)
-- Line: ID CLIENT -> SERVER sni=NAME alpn=P1,P2 client=VERSION
--       version=NEGOTIATED cipher=NAME [alpn_chosen=P] ; "-" when absent.
-- Printed when the connection closes, so also for handshakes without a
-- ServerHello; non-TLS connections print nothing.

local tls = require "sniff.tls"

local usage = "usage: tls-sni.lua [-p PORT]..."
local ports = nil
local i = 1
while arg and arg[i] do
  local a = arg[i]
  if a == "-p" and arg[i + 1] and arg[i + 1]:match("^%d+$") then
    ports = ports or {}
    ports[tonumber(arg[i + 1])] = true
    i = i + 2
  else
    error(usage, 0)
  end
end

local function ep(ip, port)
  return (ip:find(":", 1, true) and "[%s]:%d" or "%s:%d"):format(ip, port)
end

local function versions(h)
  local best = h.version
  for _, v in ipairs(h.versions) do
    if not tls.is_grease(v) and v > best then best = v end
  end
  return tls.version_name(best)
end

local function report(c)
  local ch, sh = c.tls_client, c.tls_server
  if not ch then return end
  print(("%d %s -> %s sni=%s alpn=%s client=%s version=%s cipher=%s alpn_chosen=%s"):format(
    c.id, ep(c.client_ip, c.client_port), ep(c.server_ip, c.server_port),
    ch.sni or "-", #ch.alpn > 0 and table.concat(ch.alpn, ",") or "-", versions(ch),
    sh and tls.version_name(sh.version) or "-", sh and tls.cipher_name(sh.cipher) or "-",
    sh and sh.alpn or "-"))
end

sniff.on("connection", function(c)
  if ports and not ports[c.server_port] then return false end
  tls.attach(c, {
    client_hello = function(conn, h) conn.tls_client = h end,
    server_hello = function(conn, h) conn.tls_server = h end,
    error = function(conn, e) if e.direction == "sent" and not conn.tls_client then conn:ignore() end end,
  })
end)
sniff.on("closed", report)
