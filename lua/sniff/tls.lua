-- sniff.tls: the cleartext start of a TLS connection: the ClientHello and
-- the ServerHello, read from the record layer across any segmentation
-- (records split over segments, handshake messages split over records).
--
--   local tls = require "sniff.tls"
--   sniff.on("connection", function(conn)
--     tls.attach(conn, {
--       client_hello = function(conn, hello) print(hello.sni, table.concat(hello.alpn, ",")) end,
--       server_hello = function(conn, hello) print(tls.version_name(hello.version)) end,
--     })
--   end)
--
-- Events (all optional):
--   client_hello(conn, hello)   fields: record_version, version (legacy
--       handshake version), versions (supported_versions, may be empty), sni,
--       alpn (list), ciphers (list of numbers), extensions (list of numbers),
--       session_id (bytes)
--   server_hello(conn, hello)   fields: record_version, version (negotiated:
--       supported_versions if present, else the legacy one),
--       legacy_version, cipher (number), alpn (string or nil), extensions,
--       hello_retry (true for a TLS 1.3 HelloRetryRequest)
--   error(conn, err)            err = {direction, message}; that direction
--       is no longer parsed (not TLS, or malformed)
-- After the hellos the rest of the connection is ignored by the parser.
-- Handlers run outside the parser: an error in one is the script's error,
-- raised to the caller once (the events after it run at the next data, gap
-- or close), never mistaken for malformed traffic.

local stream = require "sniff.stream"

local unpack, sub, byte, format = string.unpack, string.sub, string.byte, string.format
local concat, pcall, error, setmetatable = table.concat, pcall, error, setmetatable

local tls = {}

local MAX_HANDSHAKE = 1 << 17 -- a hello bigger than this is not believed

local VERSIONS = {
  [0x0300] = "SSL 3.0", [0x0301] = "TLS 1.0", [0x0302] = "TLS 1.1",
  [0x0303] = "TLS 1.2", [0x0304] = "TLS 1.3",
}

-- "TLS 1.2", or "0x7f1c" for versions without a name.
function tls.version_name(v)
  if not v then return nil end
  return VERSIONS[v] or format("0x%04x", v)
end

local CIPHERS = {
  [0x1301] = "TLS_AES_128_GCM_SHA256", [0x1302] = "TLS_AES_256_GCM_SHA384",
  [0x1303] = "TLS_CHACHA20_POLY1305_SHA256", [0x1304] = "TLS_AES_128_CCM_SHA256",
  [0x1305] = "TLS_AES_128_CCM_8_SHA256",
  [0xc02b] = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  [0xc02c] = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  [0xc02f] = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  [0xc030] = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  [0xcca8] = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xcca9] = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xc013] = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
  [0xc014] = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
  [0xc009] = "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
  [0xc00a] = "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
  [0x009c] = "TLS_RSA_WITH_AES_128_GCM_SHA256", [0x009d] = "TLS_RSA_WITH_AES_256_GCM_SHA384",
  [0x002f] = "TLS_RSA_WITH_AES_128_CBC_SHA", [0x0035] = "TLS_RSA_WITH_AES_256_CBC_SHA",
  [0x000a] = "TLS_RSA_WITH_3DES_EDE_CBC_SHA", [0x0005] = "TLS_RSA_WITH_RC4_128_SHA",
  [0x00ff] = "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", [0x5600] = "TLS_FALLBACK_SCSV",
}

-- The IANA name of a cipher suite, or "0x1234".
function tls.cipher_name(c)
  if not c then return nil end
  return CIPHERS[c] or format("0x%04x", c)
end

-- GREASE values (RFC 8701): 0x?a?a with both bytes equal.
function tls.is_grease(v)
  return v & 0x0f0f == 0x0a0a and (v >> 8) == (v & 0xff)
end

local HRR_RANDOM = "\xcf\x21\xad\x74\xe5\x9a\x61\x11\xbe\x1d\x8c\x02\x1e\x65\xb8\x91" ..
                   "\xc2\xa2\x11\x16\x7a\xbb\x8c\x5e\x07\x9e\x09\xe2\xc8\xa8\x33\x9c"

-- Malformed input: raised inside the parser, reported as an error event.
local Bad = {}
local function bad(msg) error(setmetatable({message = msg}, Bad), 0) end

-- A bounds-checked cursor over a message body: every read either succeeds
-- or raises Bad("truncated <what>").
local function cursor(s, what)
  local c = {s = s, pos = 1, stop = #s}
  function c.u8() return c.take_fmt(">I1", 1) end
  function c.u16() return c.take_fmt(">I2", 2) end
  function c.u24() return c.take_fmt(">I3", 3) end
  function c.take_fmt(fmt, n)
    if c.pos + n - 1 > c.stop then bad("truncated " .. what) end
    local v = unpack(fmt, c.s, c.pos)
    c.pos = c.pos + n
    return v
  end
  function c.bytes(n)
    if c.pos + n - 1 > c.stop then bad("truncated " .. what) end
    local v = sub(c.s, c.pos, c.pos + n - 1)
    c.pos = c.pos + n
    return v
  end
  function c.left() return c.stop - c.pos + 1 end
  -- A length-prefixed vector as a sub-cursor.
  function c.vec(lenbytes)
    local n = lenbytes == 1 and c.u8() or lenbytes == 2 and c.u16() or c.u24()
    return cursor(c.bytes(n), what)
  end
  return c
end

local function parse_sni(c, out)
  local list = c.vec(2)
  while list.left() > 0 do
    local kind = list.u8()
    local name = list.vec(2)
    if kind == 0 and not out.sni then out.sni = name.bytes(name.left()) end
  end
end

local function parse_alpn(c)
  local list, out = c.vec(2), {}
  while list.left() > 0 do
    local p = list.vec(1)
    out[#out + 1] = p.bytes(p.left())
  end
  return out
end

-- Extensions of a hello into `out` (is_client: ClientHello layouts).
local function parse_extensions(c, out, is_client)
  out.extensions = {}
  if c.left() == 0 then return end
  local exts = c.vec(2)
  while exts.left() > 0 do
    local t = exts.u16()
    local data = exts.vec(2)
    out.extensions[#out.extensions + 1] = t
    if t == 0 and is_client then
      parse_sni(data, out)
    elseif t == 16 then
      local list = parse_alpn(data)
      if is_client then out.alpn = list else out.alpn = list[1] end
    elseif t == 43 then
      if is_client then
        local v = data.vec(1)
        while v.left() > 0 do out.versions[#out.versions + 1] = v.u16() end
      else
        out.selected_version = data.u16()
      end
    end
  end
end

function tls.parse_client_hello(body)
  local c = cursor(body, "ClientHello")
  local h = {version = c.u16(), alpn = {}, versions = {}, ciphers = {}}
  c.bytes(32) -- random
  local sid = c.vec(1)
  h.session_id = sid.bytes(sid.left())
  local cs = c.vec(2)
  while cs.left() > 0 do h.ciphers[#h.ciphers + 1] = cs.u16() end
  c.vec(1) -- compression methods
  parse_extensions(c, h, true)
  return h
end

function tls.parse_server_hello(body)
  local c = cursor(body, "ServerHello")
  local h = {legacy_version = c.u16()}
  local random = c.bytes(32)
  h.hello_retry = random == HRR_RANDOM or nil
  c.vec(1) -- session id
  h.cipher = c.u16()
  c.u8() -- compression method
  parse_extensions(c, h, false)
  h.version = h.selected_version or h.legacy_version
  h.selected_version = nil
  return h
end

-- Reads TLS records from r and returns the next handshake message
-- (type, body), joining fragments across records; nil at the end.
local function next_handshake(st, r)
  while #st.hs < 4 or #st.hs < 4 + unpack(">I3", st.hs, 2) do
    if #st.hs >= 4 and unpack(">I3", st.hs, 2) > MAX_HANDSHAKE then
      bad("handshake message too large")
    end
    local hdr = r:read(5)
    if not hdr then return nil end
    local ctype, ver, len = unpack(">I1I2I2", hdr)
    if ctype < 20 or ctype > 24 or (ver >> 8) ~= 3 or len > 18432 then bad("not a TLS record") end
    st.record_version = st.record_version or ver
    local body = r:read(len)
    if not body then return nil end
    if ctype == 22 then
      st.hs = st.hs .. body
    elseif ctype == 21 then
      bad("alert before the hello")
    elseif st.need_hello then
      bad("record type " .. ctype .. " before the hello")
    end
  end
  local len = unpack(">I3", st.hs, 2)
  local t = byte(st.hs, 1)
  local msg = sub(st.hs, 5, 4 + len)
  st.hs = sub(st.hs, 5 + len)
  return t, msg
end

-- The parser of one direction: finds its hello, reports it, stops.
local function run_side(p, r, dir)
  local st = {hs = "", need_hello = true}
  local want = dir == "sent" and 1 or 2
  local ok, err = pcall(function()
    while true do
      local t, body = next_handshake(st, r)
      if not t then return end
      if t == want then
        local h = want == 1 and tls.parse_client_hello(body) or tls.parse_server_hello(body)
        h.record_version = st.record_version
        p:emit(want == 1 and "client_hello" or "server_hello", h)
        return
      end
      if want == 2 and t ~= 2 then bad("handshake type " .. t .. " before the ServerHello") end
      if want == 1 then bad("handshake type " .. t .. " before the ClientHello") end
    end
  end)
  if not ok then
    local msg = getmetatable(err) == Bad and err.message or
      (stream.is_gap(err) and "gap before the hello" or "internal error: " .. tostring(err))
    p:emit("error", {direction = dir, message = msg})
  end
  p.done[dir] = true
end

local Parser = {}
Parser.__index = Parser

-- Queues an event; handlers run after the parsers yield (see flush), so
-- that an error in a handler is the script's, outside the coroutines.
function Parser:emit(name, a)
  local h = self.h[name]
  if not h then return end
  local q, n = self.queue, self.nq
  q[n + 1], q[n + 2] = h, a
  self.nq = n + 2
end

-- Ends a flush however it ends: a handler's error goes on to the caller
-- unchanged (no pcall, so its traceback is intact), and the next flush
-- must still run.
local Unflush = {__close = function(g) g.p.flushing = false end}

-- Runs the queued handlers in order. An error in one propagates to the
-- caller once; the events after it stay queued for the next flush. A
-- handler that feeds the parser queues its events after the current ones.
function Parser:flush()
  if self.qh > self.nq or self.flushing then return end
  self.flushing = true
  local _ <close> = self.unflush
  local q = self.queue
  while self.qh <= self.nq do
    local i = self.qh
    local h, a = q[i], q[i + 1]
    q[i], q[i + 1] = nil, nil
    self.qh = i + 2 -- before the call: a failing event is not run twice
    h(self.conn, a)
  end
  self.qh, self.nq = 1, 0
end

-- Flushes even when `dir` is done: events left queued by a handler's error
-- run at the next event of either direction.
function Parser:data(dir, bytes, t)
  if not self.done[dir] then self.readers[dir]:feed(bytes, t) end
  self:flush()
end

function Parser:gap(dir, n)
  if not self.done[dir] then self.readers[dir]:gap(n) end
  self:flush()
end

function Parser:close()
  self.readers.sent:close()
  self.readers.received:close()
  self:flush()
end

-- A parser not tied to a connection (tests): p:data(dir, bytes), p:gap(dir,
-- n), p:close(); `conn` is passed to the handlers.
function tls.parser(handlers, conn)
  local p = setmetatable({
    h = handlers or {}, conn = conn, readers = {}, done = {},
    queue = {}, qh = 1, nq = 0, -- events to run: queue[qh .. nq], two slots each
    flushing = false,
  }, Parser)
  p.unflush = setmetatable({p = p}, Unflush)
  p.readers.sent = stream.new(function(r) run_side(p, r, "sent") end)
  p.readers.received = stream.new(function(r) run_side(p, r, "received") end)
  return p
end

function tls.attach(conn, handlers)
  local p = tls.parser(handlers, conn)
  stream.hook(conn, p)
  return p
end

return tls
