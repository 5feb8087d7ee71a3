-- sniff.stream: reads across any split of the input, gaps, end of stream.
local stream = require "sniff.stream"

-- Runs fn(r) over `pieces` (strings, or {gap = n}), then closes; returns
-- the list of what fn logged.
local function run(pieces, fn)
  local log = {}
  local r = stream.new(function(r) fn(r, log) end, {clock = function() return 0 end})
  for _, p in ipairs(pieces) do
    if type(p) == "table" then r:gap(p.gap) else r:feed(p) end
  end
  r:close()
  assert.is_nil(r.error)
  return log, r
end

-- Every way of cutting s in two, and byte by byte.
local function splits(s)
  local out = {{s}}
  for i = 1, #s - 1 do out[#out + 1] = {s:sub(1, i), s:sub(i + 1)} end
  local bytes = {}
  for i = 1, #s do bytes[i] = s:sub(i, i) end
  out[#out + 1] = bytes
  return out
end

describe("sniff.stream", function()
  it("reads lines, counted bytes and delimiters across every split", function()
    local input = "line one\r\nline2\nABCDEhead||tail"
    for _, pieces in ipairs(splits(input)) do
      local log = run(pieces, function(r, log)
        log[#log + 1] = r:read_line()
        log[#log + 1] = r:read_line()
        log[#log + 1] = r:read(5)
        log[#log + 1] = r:read_until("||")
        local rest = {}
        while true do
          local piece = r:read_some()
          if not piece then break end
          rest[#rest + 1] = piece
        end
        log[#log + 1] = table.concat(rest)
      end)
      assert.same({"line one", "line2", "ABCDE", "head", "tail"}, log)
    end
  end)

  it("keeps the stream offset", function()
    local _, r = run({"abc\n", "defg"}, function(r, log)
      r:read_line()
      r:read(2)
    end)
    assert.equal(6, r.offset)
  end)

  it("returns nil and the rest at the end of the stream", function()
    local log = run({"abc"}, function(r, log)
      local s, rest = r:read(10)
      log[1], log[2] = tostring(s), rest
    end)
    assert.same({"nil", "abc"}, log)
    log = run({"no newline"}, function(r, log)
      local s, err, rest = r:read_line()
      log[1], log[2], log[3] = tostring(s), err, rest
    end)
    assert.same({"nil", "eof", "no newline"}, log)
  end)

  it("reports a line that is too long without consuming it", function()
    local log = run({"0123456789\n"}, function(r, log)
      local s, err = r:read_line(4)
      log[1], log[2] = tostring(s), err
      log[3] = r:read(3)
    end)
    assert.same({"nil", "too long", "012"}, log)
  end)

  it("raises a typed gap error with offset and length, then goes on", function()
    local log = run({"abcd", {gap = 10}, "wxyz\n"}, function(r, log)
      log[#log + 1] = r:read(2)
      local ok, e = pcall(r.read, r, 4)
      log[#log + 1] = ok and "no error" or stream.is_gap(e) and
        ("gap offset=%d length=%d hole=%d"):format(e.offset, e.length, e.hole) or tostring(e)
      log[#log + 1] = r.offset
      log[#log + 1] = r:read_line()
    end)
    assert.same({"ab", "gap offset=2 length=12 hole=10", 14, "wxyz"}, log)
  end)

  it("serves bytes before a hole first", function()
    local log = run({"abcd", {gap = 3}, "ef"}, function(r, log)
      r:pause() -- let all of it arrive
      log[#log + 1] = r:read(4)
      local ok, e = pcall(r.read_some, r)
      log[#log + 1] = stream.is_gap(e) and e.length or "?"
      log[#log + 1] = r:read(2)
    end)
    assert.same({"abcd", 3, "ef"}, log)
  end)

  it("merges two holes the parser had not reached", function()
    local log = run({"ab", {gap = 2}, "cd", {gap = 3}, "ef"}, function(r, log)
      r:pause(); r:pause(); r:pause(); r:pause()
      log[#log + 1] = r:read(2)
      local ok, e = pcall(r.read, r, 1)
      log[#log + 1] = e.length
      log[#log + 1] = r:read(2)
    end)
    assert.same({"ab", 7, "ef"}, log)
  end)

  it("skips bytes", function()
    local log = run({"0123", "456789"}, function(r, log)
      log[1] = r:skip(7)
      log[2] = r:read(3)
      log[3] = r:skip(1)
    end)
    assert.same({true, "789", false}, log)
  end)

  it("refuses a negative or fractional count instead of rewinding", function()
    for _, case in ipairs({{"read", -2}, {"read_some", -1}, {"skip", -3}, {"read", 1.5}}) do
      local fname, n = case[1], case[2]
      local got
      local r = stream.new(function(r)
        r:read(2)
        r[fname](r, n)
      end, {on_error = function(e) got = e end, clock = function() return 0 end})
      r:feed("abcdef")
      assert.is_truthy(got, fname)
      assert.truthy(got:find("bad argument #1 to '" .. fname .. "'", 1, true), got)
      assert.truthy(got:find("non-negative count expected", 1, true), got)
      assert.equal(2, r.offset)
    end
  end)

  it("time_first is the capture time of the oldest unconsumed byte", function()
    local log = {}
    local r = stream.new(function(r)
      r:read(2); log[#log + 1] = r:time_first()  -- "cd" left, from t=1
      r:read(3); log[#log + 1] = r:time_first()  -- mid-buffer, in the chunk of t=5
      r:read(4); log[#log + 1] = r:time_first()  -- buffer empty: the latest feed
    end)
    r:feed("abcd", 1)
    r:feed("efghi", 5)
    assert.same({1, 5, 5}, log)
    -- Across a hole the parser reaches after the bytes behind it came.
    log = {}
    r = stream.new(function(r)
      while not r.eof do r:pause() end
      r:read(2); log[#log + 1] = r:time_first()  -- the hole is next: still t=6
      local ok, e = pcall(r.read, r, 1)
      log[#log + 1] = stream.is_gap(e) and r:time_first()  -- "lm", t=7
    end)
    r:feed("jk", 6)
    r:gap(4)
    r:feed("lm", 7)
    r:close()
    assert.same({6, 7}, log)
  end)

  it("keeps a capture time per buffered chunk only", function()
    local r = stream.new(function(r) while r:read_some() do end end)
    for t = 1, 1000 do r:feed("x", t) end
    assert.equal(1000, r:time_first())
    assert.is_true(r.ct - r.ch < 2)
  end)

  it("read_some serves many buffered chunks whole, in order, with their times", function()
    local got, times = {}, {}
    local r = stream.new(function(r)
      assert.equal("c1c2", r:read(4))  -- joins the first two chunks
      while not r.eof do r:pause() end -- lets every other chunk queue up
      while true do
        times[#times + 1] = r:time_first()
        local s = r:read_some()
        if not s then return end
        got[#got + 1] = s
      end
    end)
    for t = 1, 3000 do r:feed("c" .. t, t) end
    r:close()
    local want, want_times = {}, {}
    for t = 3, 3000 do want[#want + 1], want_times[#want_times + 1] = "c" .. t, t end
    want_times[#want_times + 1] = 3000 -- at the end: the latest feed's time
    assert.same(want, got)
    assert.same(want_times, times)
  end)

  it("consuming N buffered chunks touches the chunk list O(N) times", function()
    -- Counts the work, not the time: every access to the list of waiting
    -- chunks goes through a proxy. Shifting the list down after each chunk
    -- (table.remove(list, 1)) costs about N * N / 2 accesses.
    local N, n = 2000, 0
    local r = stream.new(function(r)
      while not r.eof do r:pause() end
      while r:read_some() do end
    end)
    for t = 1, N do r:feed("x", t) end
    local raw = r.more
    r.more = setmetatable({}, {
      __index = function(_, k) n = n + 1; return raw[k] end,
      __newindex = function(_, k, v) n = n + 1; raw[k] = v end,
      __len = function() return #raw end,
    })
    r:close()
    assert.equal(N, r.offset)
    assert.is_true(n <= 4 * N, n .. " accesses")
  end)

  it("reports a parser error through on_error and discards later bytes", function()
    local got
    local r = stream.new(function(r) r:read(1); error("boom", 0) end,
                         {on_error = function(e) got = e end})
    r:feed("x")
    r:feed("more")
    assert.equal("boom", got)
    assert.equal(4, r.discarded)
  end)

  it("refuses reads outside the coroutine", function()
    local r = stream.new(function() end)
    assert.has_error(function() r:read(1) end)
  end)

  it("hooks a connection and forwards to the global handlers", function()
    local handlers, global_calls = {}, {}
    local conn = {on = function(_, ev, fn) handlers[ev] = fn end}
    _G.sniff = {now = function() return 1.5 end, handler = function(ev)
      return function(_, a) global_calls[#global_calls + 1] = ev .. ":" .. tostring(a) end
    end}
    local got = {}
    local r = stream.attach(conn, "received", function(r)
      got[#got + 1] = r:read_line()
      got[#got + 1] = r:time_first()
      got[#got + 1] = tostring(r:read_line())
    end)
    handlers.sent_data(conn, "ignored\n")
    handlers.received_data(conn, "hello\n")
    handlers.closed(conn, "fin")
    _G.sniff = nil
    assert.same({"hello", 1.5, "nil"}, got)
    assert.same({"sent_data:ignored\n", "received_data:hello\n", "closed:fin"}, global_calls)
    assert.is_true(r.dead)
  end)

  it("rejects a bad direction", function()
    assert.has_error(function() stream.attach({on = function() end}, "up", function() end) end)
  end)
end)
