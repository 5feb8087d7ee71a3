-- sniff.http: HTTP/1.x requests and responses from a connection's streams
-- (RFC 9112 framing). One parser per connection: the client's stream is read
-- as requests, the server's as responses, paired in order.
--
--   local http = require "sniff.http"
--   sniff.on("connection", function(conn)
--     http.attach(conn, {
--       exchange = function(conn, req, res) print(req.method, req.target, res and res.status) end,
--     })
--   end)
--
-- Events (all optional; `conn` is what attach was given):
--   request(conn, req)            request head parsed
--   response(conn, res)           response head parsed (also 1xx interim ones)
--   body(conn, msg, chunk)        a piece of msg's body (decoded from chunked)
--   request_done(conn, req)       request finished (or given up: req.complete false)
--   response_done(conn, res)      response finished (likewise)
--   exchange(conn, req, res)      a final response is done; at close, once per
--                                 request left unanswered (res nil), and for the
--                                 oldest past opts.max_pending; req is nil for a
--                                 response without a request
--   upgrade(conn, req, res)       CONNECT 2xx or 101: parsing stops, said once
--   error(conn, err)              malformed input; err = {direction, message,
--                                 offset, fatal}; fatal: that direction is no
--                                 longer parsed
-- Handlers run outside the parser: an error in one is the script's error,
-- raised to luasniff as usual, never mistaken for malformed traffic.
-- See docs/lua-library.md for the message fields.

local stream = require "sniff.stream"

local lower, find, match, sub, byte = string.lower, string.find, string.match, string.sub,
  string.byte
local concat, tonumber, pcall, error, setmetatable, type = table.concat, tonumber, pcall,
  error, setmetatable, type
local is_gap = stream.is_gap

local http = {}

local DEFAULTS = {
  max_body = 0,          -- bytes of each body to collect in msg.body (0: none)
  max_line = 8192,       -- start line, header line or chunk-size line
  max_headers = 65536,   -- total size of a head
  max_resync = 1048576,  -- bytes skipped looking for the next message before giving up
  max_hold = 1048576,    -- client bytes buffered while an Upgrade/CONNECT awaits its answer
  max_pending = 1024,    -- requests awaiting a response; past it the oldest is given up
}

-- ------------------------------------------------------------------------
-- Headers: in order, with case-insensitive lookup
-- ------------------------------------------------------------------------

local Headers = {}
Headers.__index = Headers

local function new_headers() return setmetatable({n = 0, lnames = {}}, Headers) end

function Headers:add(name, value)
  local n = self.n + 1
  self.n = n
  self[n] = {name = name, value = value}
  self.lnames[n] = lower(name)
end

-- The value of the first header called `name` (any case), or nil; with
-- several, all = true joins them with ", " (RFC 9110 5.3).
function Headers:get(name, all)
  local l, found = lower(name), nil
  for i = 1, self.n do
    if self.lnames[i] == l then
      if not all then return self[i].value end
      found = found and (found .. ", " .. self[i].value) or self[i].value
    end
  end
  return found
end

-- Every value of `name`, in order (a table, possibly empty).
function Headers:values(name)
  local l, out = lower(name), {}
  for i = 1, self.n do
    if self.lnames[i] == l then out[#out + 1] = self[i].value end
  end
  return out
end

-- for name, value in headers:each() do ... end
function Headers:each()
  local i = 0
  return function()
    i = i + 1
    local h = self[i]
    if h then return h.name, h.value end
  end
end

http.new_headers = new_headers

-- True when the comma-separated list `v` holds `token` (any case).
local function has_token(v, token)
  if not v then return false end
  for t in v:gmatch("[^,]+") do
    if lower(match(t, "^%s*(.-)%s*$")) == token then return true end
  end
  return false
end

-- ------------------------------------------------------------------------
-- Parsing (runs inside the stream coroutines)
-- ------------------------------------------------------------------------

-- Errors the parser raises at itself: malformed input.
local Bad = {}
local function bad(msg, fatal) error(setmetatable({message = msg, fatal = fatal}, Bad), 0) end
local function is_bad(e) return getmetatable(e) == Bad end

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

-- Reads header lines up to the empty line. Returns the headers, or nil at
-- the end of the stream.
local function read_headers(p, r, msg)
  local h, total = new_headers(), 0
  if msg then msg._partial = h end
  while true do
    local line, err = r:read_line(p.opts.max_line)
    if not line then
      if err == "too long" then bad("header line too long") end
      return nil
    end
    if line == "" then return h end
    total = total + #line + 2
    if total > p.opts.max_headers then bad("head too large") end
    local b = byte(line, 1)
    if (b == 32 or b == 9) and h.n > 0 then
      -- obs-fold (RFC 9112 5.2): a continuation of the previous value
      local last = h[h.n]
      last.value = last.value .. " " .. match(line, "^%s*(.-)%s*$")
    else
      local name, value = match(line, "^([^:]+):[ \t]*(.-)[ \t]*$")
      if not name or not find(name, TOKEN) then bad("malformed header line") end
      h:add(name, value)
    end
  end
end

local function deliver(p, msg, chunk)
  local n = #chunk
  msg.body_size = msg.body_size + n
  local keep = p.opts.max_body
  if keep > 0 then
    local room = keep - msg._kept
    if room > 0 then
      local piece = n <= room and chunk or sub(chunk, 1, room)
      msg._parts[#msg._parts + 1] = piece
      msg._kept = msg._kept + #piece
    end
    if n > room then msg.body_truncated = true end
  end
  if p.h.body then p:emit("body", msg, chunk) end
end

local function incomplete(msg, why)
  msg.complete = false
  msg.incomplete = msg.incomplete or why
end

-- Reads n body bytes. A hole inside them keeps the framing (the message is
-- marked incomplete); a hole past them loses it (re-raised: resync).
-- Returns false at the end of the stream.
local function read_fixed(p, r, msg, n)
  while n > 0 do
    local ok, chunk = pcall(r.read_some, r, n < 65536 and n or 65536)
    if not ok then
      if not is_gap(chunk) then error(chunk, 0) end
      incomplete(msg, "gap")
      if chunk.length > n then error(chunk, 0) end -- counted by abandon
      msg.gap_bytes = msg.gap_bytes + chunk.length
      n = n - chunk.length
    elseif not chunk then
      incomplete(msg, "connection closed in body")
      return false
    else
      n = n - #chunk
      deliver(p, msg, chunk)
    end
  end
  return true
end

local function read_chunked(p, r, msg)
  while true do
    local line, err = r:read_line(p.opts.max_line)
    if not line then
      if err == "too long" then bad("chunk size line too long") end
      incomplete(msg, "connection closed in body")
      return false
    end
    local hex = match(line, "^%s*(%x+)%s*[;]?")
    if not hex or #hex > 15 then bad("bad chunk size") end
    local size = tonumber(hex, 16)
    if size == 0 then
      local trailers = read_headers(p, r)
      if not trailers then
        incomplete(msg, "connection closed in trailers")
        return false
      end
      msg.trailers = trailers
      return true
    end
    if not read_fixed(p, r, msg, size) then return false end
    local crlf = r:read_line(p.opts.max_line)
    if crlf == nil then
      incomplete(msg, "connection closed in body")
      return false
    end
    if crlf ~= "" then bad("chunk data not followed by CRLF") end
  end
end

-- Close-delimited: to the end of the stream; holes are counted.
local function read_to_close(p, r, msg)
  while true do
    local ok, chunk = pcall(r.read_some, r)
    if not ok then
      if not is_gap(chunk) then error(chunk, 0) end
      msg.gap_bytes = msg.gap_bytes + chunk.length
      incomplete(msg, "gap")
    elseif not chunk then
      return true
    else
      deliver(p, msg, chunk)
    end
  end
end

-- How the body of msg is delimited: "none", "chunked", "length" (+ n) or "close".
local function framing(msg, is_response, req)
  local h = msg.headers
  if is_response then
    local st = msg.status
    if (req and req.method == "HEAD") or (st >= 100 and st < 200) or st == 204 or st == 304 then
      return "none"
    end
  end
  local te = h:get("transfer-encoding", true)
  if te then
    local last = lower(match(te, "([^,%s][^,]*)%s*$") or "")
    if last == "chunked" then return "chunked" end
    if not is_response then bad("request transfer-encoding without chunked", true) end
    return "close"
  end
  local cls = h:values("content-length")
  if #cls > 0 then
    local n
    for _, v in ipairs(cls) do
      for part in v:gmatch("[^,]+") do
        local d = match(part, "^%s*(%d+)%s*$")
        if not d or #d > 15 then bad("bad content-length", true) end
        if n and n ~= tonumber(d) then bad("conflicting content-length", true) end
        n = tonumber(d)
      end
    end
    return "length", n
  end
  return is_response and "close" or "none"
end

local function new_message(kind, r, after_gap)
  return {
    kind = kind, headers = nil, complete = true, incomplete = nil,
    body_size = 0, gap_bytes = 0, after_gap = after_gap or nil,
    time_first = r:time_first(), time_last = nil,
    offset = r.offset, _parts = {}, _kept = 0,
  }
end

local function finish(p, r, msg, event)
  msg.time_last = r:time_last()
  if p.opts.max_body > 0 then msg.body = concat(msg._parts) end
  msg._parts, msg._kept = nil, nil
  p:emit(event, msg)
end

local function read_body(p, r, msg, is_response, req)
  local how, n = framing(msg, is_response, req)
  msg.framing = how
  if how == "chunked" then return read_chunked(p, r, msg)
  elseif how == "length" then return read_fixed(p, r, msg, n)
  elseif how == "close" then return read_to_close(p, r, msg) end
  return true
end

-- Finds the next start line: skips empty lines, and while resynchronising
-- every line that does not look like one. Returns the line or nil at EOF.
local function start_line(p, r, side, pattern)
  local skipped = 0
  while true do
    if not r:wait_data() then return nil end
    local line, err = r:read_line(p.opts.max_line)
    if not line then
      if err ~= "too long" then return nil end
      if not side.resync then bad("start line too long", true) end
      r:skip(p.opts.max_line)
      skipped = skipped + p.opts.max_line
    elseif line ~= "" then
      if not side.resync or find(line, pattern) then return line end
      skipped = skipped + #line + 1
    end
    if skipped > p.opts.max_resync then
      bad("no message found within " .. p.opts.max_resync .. " bytes after a gap", true)
    end
  end
end

local REQ_LINE = "^(%S+) (%S+) HTTP/(%d)%.(%d)$"
local RES_LINE = "^HTTP/(%d)%.(%d) (%d%d%d) ?(.*)$"

-- Requests awaiting a response: p.pending[p.ph .. p.pt], oldest first
-- (indexes, not table.remove: pipelining thousands must stay linear).
local function pop_request(p)
  local h = p.ph
  local req = p.pending[h]
  if not req then return nil end
  p.pending[h] = nil
  if h == p.pt then p.ph, p.pt = 1, 0 else p.ph = h + 1 end
  return req
end

-- Queues a request; past max_pending the oldest is answered by nothing
-- (exchange with res nil), so a server that never answers, or whose side
-- is not captured, costs bounded memory. Later responses then pair with
-- the requests that remain.
local function push_request(p, req)
  local t = p.pt + 1
  p.pending[t], p.pt = req, t
  if t - p.ph >= p.opts.max_pending then p:emit("exchange", pop_request(p), nil) end
end

local function first_request(p) return p.pending[p.ph] end

-- One request; returns false when the direction is finished.
local function read_request(p, r, side)
  local t0 = r:wait_data() and r:time_first()
  local line = start_line(p, r, side, REQ_LINE)
  if not line then return false end
  local method, target, major, minor = match(line, REQ_LINE)
  if not method or not find(method, TOKEN) then bad("malformed request line", true) end
  local req = new_message("request", r, side.resync)
  side.resync = false
  req.time_first = t0 or req.time_first
  req.method, req.target, req.version = method, target, major .. "." .. minor
  side.current = req
  local headers = read_headers(p, r, req)
  if not headers then side.current = nil; return false end
  req.headers, req._partial = headers, nil
  push_request(p, req)
  p:emit("request", req)
  local ok = read_body(p, r, req, false)
  side.current = nil
  finish(p, r, req, "request_done")
  if not ok then return false end
  if method == "CONNECT" or headers:get("upgrade") then
    -- What follows may not be HTTP: wait for the response to say. The
    -- bytes wait in the reader, so past max_hold (the answer is lost, or
    -- the capture is one-sided) parsing resumes as it would at close.
    p.hold = req
    local limit = r.received + p.opts.max_hold
    while p.hold == req and not p.tunnel and not r.eof and r.received <= limit do
      r:pause()
    end
    if p.tunnel then return false end
    if p.hold == req then p.hold = nil end
  end
  return true
end

local function release_hold(p, req)
  if p.hold and p.hold == req then
    p.hold = nil
    p.readers.sent:kick()
  end
end

local function read_response(p, r, side)
  local t0 = r:wait_data() and r:time_first()
  local line = start_line(p, r, side, RES_LINE)
  if not line then return false end
  local major, minor, status, reason = match(line, RES_LINE)
  if not major then bad("malformed status line", true) end
  local res = new_message("response", r, side.resync)
  side.resync = false
  res.time_first = t0 or res.time_first
  res.version, res.status, res.reason = major .. "." .. minor, tonumber(status), reason
  local req = first_request(p)
  res.request = req
  side.current = res
  local headers = read_headers(p, r, res)
  if not headers then side.current = nil; return false end
  res.headers, res._partial = headers, nil
  local st = res.status
  if st == 101 or (req and req.method == "CONNECT" and st >= 200 and st < 300) then
    res.interim = nil
    side.current = nil
    pop_request(p)
    p:emit("response", res)
    finish(p, r, res, "response_done")
    p.tunnel = st == 101 and (headers:get("upgrade") or "upgrade") or "connect"
    res.upgrade = p.tunnel
    p:emit("upgrade", req, res)
    release_hold(p, req)
    return false
  end
  if st < 200 then res.interim = true end
  p:emit("response", res)
  local ok = read_body(p, r, res, true, req)
  side.current = nil
  finish(p, r, res, "response_done")
  if not res.interim then
    pop_request(p)
    p:emit("exchange", req, res)
    release_hold(p, req)
  end
  return ok
end

-- Ends a message cut short by a hole or malformed input: it is reported as
-- far as it got (a head cut short gets the headers read so far, or none),
-- marked incomplete, and a response still answers its request.
local function abandon(p, r, dir, msg, why, lost)
  msg.gap_bytes = msg.gap_bytes + lost
  incomplete(msg, why)
  if not msg.headers then
    msg.headers = msg._partial or new_headers()
    if dir == "sent" then
      push_request(p, msg)
      p:emit("request", msg)
    else
      p:emit("response", msg)
    end
  end
  msg._partial = nil
  finish(p, r, msg, dir == "sent" and "request_done" or "response_done")
  if dir == "received" and not msg.interim then
    pop_request(p)
    p:emit("exchange", msg.request, msg)
    -- A refusal cut short is still a refusal: the client side goes on.
    -- (An acceptance cut short keeps it waiting, within max_hold.)
    local req, st = msg.request, msg.status
    if st ~= 101 and not (req and req.method == "CONNECT" and st >= 200 and st < 300) then
      release_hold(p, req)
    end
  end
end

-- The loop of one direction: messages until the end, resynchronising after
-- holes, reporting malformed input.
local function run_side(p, r, dir, read_one)
  local side = {resync = false, current = nil}
  p.sides[dir] = side
  while true do
    local ok, res = pcall(read_one, p, r, side)
    if ok then
      if not res then return end
    else
      local cur = side.current
      side.current = nil
      if is_gap(res) then
        if cur then abandon(p, r, dir, cur, "gap", res.hole) end
        side.resync = true
      elseif is_bad(res) then
        p:emit("error", {direction = dir, message = res.message, offset = r.offset,
                         fatal = res.fatal or false})
        if cur then abandon(p, r, dir, cur, res.message, 0) end
        if res.fatal then return end
        side.resync = true
      else
        p:emit("error", {direction = dir, message = "internal error: " .. tostring(res),
                         offset = r.offset, fatal = true})
        return
      end
    end
  end
end

-- ------------------------------------------------------------------------
-- The parser object
-- ------------------------------------------------------------------------

local Parser = {}
Parser.__index = Parser

-- Queues an event; handlers run after the parsers yield (see flush), so
-- that an error in a handler is the script's, outside the coroutines.
function Parser:emit(name, a, b)
  local h = self.h[name]
  if not h then return end
  local q, n = self.queue, self.nq
  q[n + 1], q[n + 2], q[n + 3] = h, a, b
  self.nq = n + 3
end

-- Ends a flush however it ends: a handler's error goes on to the caller
-- unchanged (no pcall, so its traceback is intact), and the next flush
-- must still run.
local Unflush = {__close = function(g) g.p.flushing = false end}

-- Runs the queued handlers in order. An error in one propagates to the
-- caller once; the events after it stay queued for the next flush.
function Parser:flush()
  if self.qh > self.nq or self.flushing then return end
  self.flushing = true
  local _ <close> = self.unflush
  local q = self.queue
  while self.qh <= self.nq do
    local i = self.qh
    local h, a, b = q[i], q[i + 1], q[i + 2]
    q[i], q[i + 1], q[i + 2] = nil, nil, nil
    self.qh = i + 3 -- before the call: a failing event is not run twice
    h(self.conn, a, b)
  end
  self.qh, self.nq = 1, 0
end

-- Feeds client (dir "sent") or server ("received") bytes.
function Parser:data(dir, bytes, t)
  if self.tunnel then self.tunnel_bytes[dir] = self.tunnel_bytes[dir] + #bytes; return end
  self.readers[dir]:feed(bytes, t)
  self:flush()
end

function Parser:gap(dir, n)
  if self.tunnel then return end
  self.readers[dir]:gap(n)
  self:flush()
end

-- The connection ended: messages in progress end (close-delimited bodies
-- complete, others incomplete), unanswered requests get exchange(req, nil).
function Parser:close()
  if self.closed then return end
  self.closed = true
  self.readers.sent:close()
  self.readers.received:close()
  for dir, side in pairs(self.sides) do
    local cur = side.current
    if cur and cur.headers then
      incomplete(cur, "connection closed")
      finish(self, self.readers[dir], cur, dir == "sent" and "request_done" or "response_done")
    end
    side.current = nil
  end
  if not self.tunnel then
    while true do
      local req = pop_request(self)
      if not req then break end
      self:emit("exchange", req, nil)
    end
  end
  self:flush()
end

-- A parser not tied to a connection (used by attach, and by tests):
-- handlers as for attach, opts as DEFAULTS, `conn` passed to handlers.
function http.parser(handlers, opts, conn)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  local p = setmetatable({
    h = handlers or {}, opts = o, conn = conn, sides = {},
    pending = {}, ph = 1, pt = 0, -- see pop_request
    queue = {}, qh = 1, nq = 0, -- events to run: queue[qh .. nq], three slots each
    readers = {}, tunnel = nil, hold = nil, closed = false,
    tunnel_bytes = {sent = 0, received = 0},
  }, Parser)
  p.unflush = setmetatable({p = p}, Unflush)
  local clock = o.clock
  p.readers.sent = stream.new(function(r) run_side(p, r, "sent", read_request) end,
                              {clock = clock})
  p.readers.received = stream.new(function(r)
    run_side(p, r, "received", read_response)
    -- No answer can come any more: a client side waiting for one goes on.
    if not p.tunnel then release_hold(p, p.hold) end
  end, {clock = clock})
  return p
end

-- Parses conn's HTTP (its client is taken as the HTTP client). Returns the
-- parser. Uses stream.hook (see there about conn:on).
function http.attach(conn, handlers, opts)
  local p = http.parser(handlers, opts, conn)
  stream.hook(conn, p)
  return p
end

return http
