-- sniff.stream: a byte stream read by a parser written as straight-line code.
--
-- A reader is fed bytes (r:feed), holes (r:gap) and the end (r:close) from
-- outside, and runs a parser function as a coroutine that calls r:read(n),
-- r:read_line(), r:read_until(delim), r:read_some(max): each returns as soon
-- as the bytes are there and otherwise suspends the parser until more come.
-- A hole raises a typed error (stream.is_gap) from the read that cannot be
-- served, so the parser can catch it with pcall and resynchronise.
--
-- stream.hook(conn, sink) routes one connection's events to a sink object,
-- and stream.attach(conn, dir, fn) runs fn(reader) on one direction of it.
-- See docs/lua-library.md.
--
-- Buffering: the unconsumed bytes are one string plus the chunks that came
-- while the parser waited; they are joined once, when a read can complete
-- (or a line search needs them), never per byte or per feed of a large read.

local co_create, co_resume, co_status, co_yield, co_running =
  coroutine.create, coroutine.resume, coroutine.status, coroutine.yield, coroutine.running
local concat, find, sub = table.concat, string.find, string.sub
local setmetatable, getmetatable, error, type = setmetatable, getmetatable, error, type

local stream = {}

-- The gap error: `offset` is where the parser's view of the stream jumps
-- (bytes consumed so far), `length` the bytes it never sees: the hole plus
-- any bytes before it that the interrupted read had not consumed (`hole` is
-- the hole alone).
local Gap = {}
Gap.__index = Gap
Gap.__tostring = function(e)
  return ("gap: %d bytes lost at stream offset %d"):format(e.length, e.offset)
end
stream.Gap = Gap

function stream.is_gap(e) return getmetatable(e) == Gap end

local Reader = {}
Reader.__index = Reader

local function default_clock()
  local s = rawget(_G, "sniff")
  return s and s.now() or 0
end

-- Creates a reader running `fn(reader)` as a coroutine. opts (all optional):
--   clock     function returning the capture time (default sniff.now)
--   on_error  function(err) called when fn raises (default: the error is
--             kept in r.error and the reader stops)
--   on_done   function() called when fn returns
function stream.new(fn, opts)
  opts = opts or {}
  local r = setmetatable({
    -- Unconsumed bytes: buf from pos, then the waiting chunks more[mh .. mt]
    -- (indexes, not table.remove: consuming many small chunks stays linear).
    buf = "", pos = 1, more = {}, mh = 1, mt = 0, avail = 0,
    offset = 0,          -- stream offset of the next unconsumed byte
    received = 0,        -- bytes fed (holes included)
    gap_at = nil,        -- unconsumed bytes before a pending hole
    gap_len = 0,
    eof = false,
    dead = false,        -- the parser returned or failed
    error = nil,
    discarded = 0,       -- bytes fed after the parser ended
    clock = opts.clock or default_clock,
    on_error = opts.on_error, on_done = opts.on_done,
    -- Capture times: chunk k starts at stream offset cstart[k] and came at
    -- ctime[k], for k = ch .. ct; entries go once the offset passes the next
    -- chunk's start, so ctime[ch] is the time of the oldest unconsumed byte.
    cstart = {}, ctime = {}, ch = 1, ct = 0,
    t_last = 0,          -- time of the latest feed
  }, Reader)
  r.co = co_create(function() fn(r) end)
  r:_run()
  return r
end

-- Resumes the parser if it is waiting; reports how it ended.
function Reader:_run()
  local co = self.co
  if self.dead or co_status(co) ~= "suspended" then return end
  local ok, err = co_resume(co)
  if not ok then
    self.dead, self.error = true, err
    if self.on_error then self.on_error(err) end
  elseif co_status(co) == "dead" then
    self.dead = true
    if self.on_done then self.on_done() end
  end
end

-- Wakes a parser suspended in r:pause() (or a read), e.g. from another
-- parser that decided something it was waiting for.
function Reader:kick() self:_run() end

-- Appends bytes and lets the parser consume what it can. `t` is the capture
-- time of the bytes (the third argument of sent_data/received_data); without
-- it the reader's clock is used.
function Reader:feed(data, t)
  local n = #data
  if n == 0 or self.eof then return end
  self.received = self.received + n
  if self.dead then self.discarded = self.discarded + n; return end
  local now = t or self.clock()
  self.t_last = now
  local ct = self.ct
  if ct < self.ch or self.ctime[ct] ~= now then
    -- Where these bytes start: after the buffered ones, and after a hole
    -- the parser has not reached yet.
    ct = ct + 1
    self.cstart[ct] = self.offset + self.avail + (self.gap_at and self.gap_len or 0)
    self.ctime[ct], self.ct = now, ct
    self:_forget_chunks() -- the buffer was empty: the new chunk is the oldest
  end
  if self.pos > #self.buf and self.mh > self.mt then
    self.buf, self.pos = data, 1
  else
    self.mt = self.mt + 1
    self.more[self.mt] = data
  end
  self.avail = self.avail + n
  self:_run()
end

-- Records that `n` bytes will never arrive, after the bytes fed so far.
function Reader:gap(n)
  if self.eof or n <= 0 then return end
  self.received = self.received + n
  if self.dead then return end
  if self.gap_at then
    -- Two holes before the parser noticed the first: one hole covering both
    -- and whatever came between them.
    local between = self.avail - self.gap_at
    self:_drop_after(self.gap_at)
    self.gap_len = self.gap_len + between + n
  else
    self.gap_at, self.gap_len = self.avail, n
  end
  self:_run()
end

-- End of stream: pending reads return what they can (see each read).
function Reader:close()
  if self.eof then return end
  self.eof = true
  self:_run()
end

-- Joins the waiting chunks into buf.
function Reader:_flatten()
  if self.mh > self.mt then return end
  local rest = self.pos > 1 and sub(self.buf, self.pos) or self.buf
  self.buf = rest .. concat(self.more, "", self.mh, self.mt)
  self.pos, self.more, self.mh, self.mt = 1, {}, 1, 0
end

-- Keeps only the first `keep` unconsumed bytes.
function Reader:_drop_after(keep)
  self:_flatten()
  self.buf = sub(self.buf, self.pos, self.pos + keep - 1)
  self.pos, self.avail = 1, keep
end

-- Bytes a read may use now: those before a pending hole.
function Reader:_usable()
  return self.gap_at or self.avail
end

-- Drops the capture times of chunks the offset has moved past.
function Reader:_forget_chunks()
  local cs, h, t, off = self.cstart, self.ch, self.ct, self.offset
  if h >= t or cs[h + 1] > off then return end
  repeat
    cs[h], self.ctime[h] = nil, nil
    h = h + 1
  until h == t or cs[h + 1] > off
  if h == t then
    -- One chunk left: back to index 1, so the indexes stay small.
    cs[1], self.ctime[1] = cs[h], self.ctime[h]
    if h ~= 1 then cs[h], self.ctime[h] = nil, nil end
    h, self.ct = 1, 1
  end
  self.ch = h
end

function Reader:_consume(n)
  self.pos = self.pos + n
  self.avail = self.avail - n
  self.offset = self.offset + n
  if self.gap_at then self.gap_at = self.gap_at - n end
  self:_forget_chunks()
end

-- The read cannot be served and a hole is next: drop the bytes before it
-- and raise the gap error.
function Reader:_raise_gap()
  local before, hole = self.gap_at, self.gap_len
  local at = self.offset
  self:_flatten()
  self.pos = self.pos + before
  self.avail = self.avail - before
  self.offset = self.offset + before + hole
  self.gap_at, self.gap_len = nil, 0
  self:_forget_chunks()
  error(setmetatable({offset = at, length = before + hole, hole = hole}, Gap), 0)
end

function Reader:_wait()
  local _, main = co_running()
  if main then
    error("sniff.stream: read outside the reader's coroutine", 2)
  end
  co_yield()
end

-- A negative count would move the stream backwards (_consume), and a
-- fractional one cuts strings at odd places: refuse them as the string
-- library does, naming the caller's function.
local function check_count(n, fname)
  if type(n) ~= "number" or n < 0 or n % 1 ~= 0 then
    error(("bad argument #1 to '%s' (non-negative count expected)"):format(fname), 3)
  end
end

-- Takes n bytes known to be usable.
function Reader:_take(n)
  if #self.buf - self.pos + 1 < n then self:_flatten() end
  local p = self.pos
  local s = sub(self.buf, p, p + n - 1)
  self:_consume(n)
  return s
end

-- Exactly n bytes. At the end of the stream: nil, followed by the bytes
-- that did arrive (consumed). Raises the gap error across a hole.
function Reader:read(n)
  check_count(n, "read")
  while true do
    local u = self:_usable()
    if u >= n then return self:_take(n) end
    if self.gap_at then self:_raise_gap() end
    if self.eof then return nil, self:_take(u) end
    self:_wait()
  end
end

-- Between 1 and `max` (default: any) bytes, as soon as there are some; nil
-- at the end of the stream. Raises the gap error at a hole.
function Reader:read_some(max)
  if max ~= nil then check_count(max, "read_some") end
  while true do
    local u = self:_usable()
    if u > 0 then
      local have = #self.buf - self.pos + 1
      if have == 0 then
        -- buf is used up: the next waiting chunk becomes buf.
        local h = self.mh
        self.buf, self.pos = self.more[h], 1
        self.more[h] = nil
        -- Back to index 1 once the list empties, so the indexes stay small.
        if h == self.mt then self.mh, self.mt = 1, 0 else self.mh = h + 1 end
        have = #self.buf
      end
      local n = have < u and have or u
      if max and max < n then n = max end
      local p = self.pos
      local s = (p == 1 and n == #self.buf) and self.buf or sub(self.buf, p, p + n - 1)
      self:_consume(n)
      return s
    end
    if self.gap_at then self:_raise_gap() end
    if self.eof then return nil end
    self:_wait()
  end
end

-- Consumes n bytes without returning them (waits for them). Returns true,
-- or false at the end of the stream (what arrived is consumed).
function Reader:skip(n)
  check_count(n, "skip")
  while n > 0 do
    local s = self:read_some(n)
    if not s then return false end
    n = n - #s
  end
  return true
end

-- The bytes before the next `delim` (consumed with it). At most `max` bytes
-- before the delimiter (default 65536): past that, returns nil, "too long"
-- and consumes nothing. At the end of the stream: nil, "eof", the rest
-- (consumed). Raises the gap error at a hole.
function Reader:read_until(delim, max)
  max = max or 65536
  local dl = #delim
  local scanned = 0 -- unconsumed bytes already searched without a match
  while true do
    self:_flatten()
    local u = self:_usable()
    local p = self.pos
    local from = p + (scanned > dl and scanned - dl + 1 or 0)
    local i = find(self.buf, delim, from, true)
    if i and i - p <= max and i - p + dl <= u then
      local s = sub(self.buf, p, i - 1)
      self:_consume(i - p + dl)
      return s
    end
    if u >= max + dl then return nil, "too long" end
    scanned = u
    if self.gap_at then self:_raise_gap() end
    if self.eof then return nil, "eof", self:_take(u) end
    self:_wait()
  end
end

-- A line ending in "\n" (a "\r" before it is removed too); as read_until.
function Reader:read_line(max)
  local s, err, rest = self:read_until("\n", max)
  if s and sub(s, -1) == "\r" then s = sub(s, 1, -2) end
  return s, err, rest
end

-- Waits until at least one byte can be read. Returns true, or false at the
-- end of the stream; raises the gap error at a hole.
function Reader:wait_data()
  while true do
    if self:_usable() > 0 then return true end
    if self.gap_at then self:_raise_gap() end
    if self.eof then return false end
    self:_wait()
  end
end

-- Suspends the parser until the next feed, gap, close or kick.
function Reader:pause() self:_wait() end

-- Unconsumed bytes that can be read now.
function Reader:buffered() return self:_usable() end

-- Capture time of the oldest unconsumed byte (that of the feed that
-- brought it; with nothing buffered, of the latest feed), and of the latest
-- feed.
function Reader:time_first()
  return self.ct >= self.ch and self.ctime[self.ch] or self.t_last
end
function Reader:time_last() return self.t_last end

-- ------------------------------------------------------------------------
-- Connections
-- ------------------------------------------------------------------------

local DIRS = {"sent", "received"}
-- A connection's hub lives in the connection's own script fields, under a
-- key no script can name (a weak table keyed by connections would make
-- the collector work hard with thousands of them).
local HUB = setmetatable({}, {__tostring = function() return "sniff.stream hub" end})

-- The global handler for `event`, to forward to after a per-connection one.
local function global(event)
  local s = rawget(_G, "sniff")
  return s and s.handler and s.handler(event)
end

-- Routes conn's events to `sink`, an object with optional methods
--   sink:data(dir, bytes, t)   dir "sent" or "received", t the bytes' capture time
--   sink:gap(dir, n)
--   sink:close(reason)
-- Several sinks may hook the same connection; they are called in the order
-- they were hooked, then the script's global handler for the event (so
-- sniff.on handlers keep working for hooked connections). Uses conn:on for
-- sent_data, received_data, gap and closed: a script that sets its own
-- conn:on for those events afterwards takes them over.
function stream.hook(conn, sink)
  local hub = conn[HUB]
  if not hub then
    hub = {sinks = {}}
    conn[HUB] = hub
    local function data(dir, event)
      return function(c, bytes, t)
        local sinks = hub.sinks
        for i = 1, #sinks do
          local s = sinks[i]
          if s.data then s:data(dir, bytes, t) end
        end
        local g = global(event)
        if g then g(c, bytes, t) end
      end
    end
    conn:on("sent_data", data("sent", "sent_data"))
    conn:on("received_data", data("received", "received_data"))
    conn:on("gap", function(c, dir, n)
      local sinks = hub.sinks
      for i = 1, #sinks do
        local s = sinks[i]
        if s.gap then s:gap(dir, n) end
      end
      local g = global("gap")
      if g then g(c, dir, n) end
    end)
    conn:on("closed", function(c, why)
      local sinks = hub.sinks
      for i = 1, #sinks do
        local s = sinks[i]
        if s.close then s:close(why) end
      end
      local g = global("closed")
      if g then g(c, why) end
    end)
  end
  hub.sinks[#hub.sinks + 1] = sink
  return sink
end

-- Runs fn(reader) on direction `dir` ("sent" or "received") of conn.
-- opts as for stream.new. Returns the reader.
function stream.attach(conn, dir, fn, opts)
  if dir ~= DIRS[1] and dir ~= DIRS[2] then
    error("sniff.stream.attach: direction must be 'sent' or 'received'", 2)
  end
  local r = stream.new(fn, opts)
  stream.hook(conn, {
    data = function(_, d, bytes, t) if d == dir then r:feed(bytes, t) end end,
    gap = function(_, d, n) if d == dir then r:gap(n) end end,
    close = function() r:close() end,
  })
  return r
end

return stream
