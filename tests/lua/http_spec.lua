-- sniff.http: each framing case, pipelining, 1xx, upgrade, gaps, malformed
-- input, and every split of the input giving the same events.
local http = require "sniff.http"

-- A parser whose handlers log one line per event.
local function tracer(opts)
  local log = {}
  local function add(s) log[#log + 1] = s end
  local h = {
    request = function(_, q) add(("request %s %s %s"):format(q.method, q.target, q.version)) end,
    response = function(_, s)
      add(("response %d %s%s"):format(s.status, s.reason, s.interim and " interim" or ""))
    end,
    body = function(_, m, chunk) log.n_body = (log.n_body or 0) + #chunk end,
    request_done = function(_, q)
      add(("request_done %d%s"):format(q.body_size, q.complete and "" or " incomplete"))
    end,
    response_done = function(_, s)
      add(("response_done %d%s%s"):format(s.body_size, s.complete and "" or " incomplete",
        s.body and (" " .. s.body) or ""))
    end,
    exchange = function(_, q, s)
      add(("exchange %s %s"):format(q and q.target or "-", s and s.status or "-"))
    end,
    upgrade = function(_, q, s) add("upgrade " .. s.upgrade) end,
    error = function(_, e) add(("error %s %s%s"):format(e.direction, e.message, e.fatal and " fatal" or "")) end,
  }
  local o = {clock = function() return 0 end}
  for k, v in pairs(opts or {}) do o[k] = v end
  return http.parser(h, o), log
end

-- The event lines only.
local function lines(log)
  local out = {}
  for i, l in ipairs(log) do out[i] = l end
  return out
end

-- Feeds a script of {"sent"|"received", bytes} / {"gap", dir, n} steps.
local function run(steps, opts)
  local p, log = tracer(opts)
  for _, s in ipairs(steps) do
    if s[1] == "gap" then p:gap(s[2], s[3]) else p:data(s[1], s[2]) end
  end
  p:close()
  return lines(log), log.n_body
end

local REQ = "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n"

describe("sniff.http", function()
  it("Content-Length bodies and collection up to a limit", function()
    local log = run({
      {"sent", "POST /up HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"},
      {"received", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"},
    }, {max_body = 4})
    assert.same({"request POST /up 1.1", "request_done 5", "response 200 OK",
                 "response_done 10 0123", "exchange /up 200"}, log)
  end)

  it("chunked bodies with extensions and trailers", function()
    local p, log = tracer({max_body = 100})
    local trailers
    p.h.response_done = function(_, s) trailers = s.trailers; log[#log + 1] = s.body end
    p:data("sent", REQ)
    p:data("received", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" ..
      "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n")
    p:close()
    assert.equal("Wikipedia", log[#log - 1])
    assert.equal("never", trailers:get("expires"))
    assert.equal(2, trailers.n)
  end)

  it("close-delimited responses end at the close", function()
    local log = run({{"sent", REQ}, {"received", "HTTP/1.0 200 OK\r\n\r\nuntil the end"}})
    assert.same({"request GET /a 1.1", "request_done 0", "response 200 OK",
                 "response_done 13", "exchange /a 200"}, log)
  end)

  it("HEAD, 204 and 304 have no body whatever the headers say", function()
    local log = run({
      {"sent", "HEAD /h HTTP/1.1\r\n\r\nGET /n HTTP/1.1\r\n\r\nGET /m HTTP/1.1\r\n\r\n"},
      {"received", "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" ..
        "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"},
    })
    assert.same({"exchange /h 200", "exchange /n 204", "exchange /m 304"},
      {log[#log - 6], log[#log - 3], log[#log]})
    for _, l in ipairs(log) do assert.is_nil(l:find("incomplete")) end
  end)

  it("100 Continue is interim: the final response pairs with the request", function()
    local log = run({
      {"sent", "PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"},
      {"received", "HTTP/1.1 100 Continue\r\n\r\n"},
      {"sent", "abc"},
      {"received", "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"},
    })
    assert.same({"request PUT /f 1.1", "response 100 Continue interim", "response_done 0",
                 "request_done 3", "response 201 Created", "response_done 0",
                 "exchange /f 201"}, log)
  end)

  it("keep-alive and pipelining pair responses in order", function()
    local log = run({
      {"sent", REQ .. "GET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"},
      {"received", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA" ..
        "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nB"},
      {"received", "HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nC"},
    })
    local ex = {}
    for _, l in ipairs(log) do if l:find("^exchange") then ex[#ex + 1] = l end end
    assert.same({"exchange /a 200", "exchange /b 404", "exchange /c 500"}, ex)
  end)

  it("past max_pending the oldest unanswered request is given up", function()
    local p, log = tracer({max_pending = 3})
    for i = 1, 5 do p:data("sent", "GET /" .. i .. " HTTP/1.1\r\n\r\n") end
    p:data("received", string.rep("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3))
    local ex = {}
    for _, l in ipairs(log) do if l:find("^exchange") then ex[#ex + 1] = l end end
    assert.same({"exchange /1 -", "exchange /2 -", "exchange /3 200", "exchange /4 200",
                 "exchange /5 200"}, ex)
  end)

  it("thousands of pipelined requests pair with their responses in order", function()
    local got = {}
    local p = http.parser({exchange = function(_, req, resp)
      got[#got + 1] = req.target .. " " .. (resp and resp.status or "-")
    end}, {max_pending = 1e9})
    local reqs, resps = {}, {}
    for i = 1, 5000 do
      reqs[i] = "GET /" .. i .. " HTTP/1.1\r\n\r\n"
      resps[i] = "HTTP/1.1 " .. (200 + i % 7) .. " X\r\nContent-Length: 0\r\n\r\n"
    end
    p:data("sent", table.concat(reqs))
    p:data("received", table.concat(resps))
    assert.equal(5000, #got)
    for i = 1, 5000 do assert.equal("/" .. i .. " " .. (200 + i % 7), got[i]) end
  end)

  it("unanswered requests get exchange(req, nil) at close", function()
    local log = run({{"sent", REQ .. "GET /b HTTP/1.1\r\n\r\n"},
                     {"received", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}})
    assert.same({"exchange /a 200", "exchange /b -"}, {log[#log - 1], log[#log]})
  end)

  it("CONNECT 200 stops parsing and says so", function()
    local log = run({
      {"sent", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"},
      {"sent", "\22\3\1 not http"},
      {"received", "HTTP/1.1 200 Connection established\r\n\r\n\22\3\3binary"},
    })
    assert.same({"request CONNECT example.com:443 1.1", "request_done 0",
                 "response 200 Connection established", "response_done 0",
                 "upgrade connect"}, log)
  end)

  it("a refused CONNECT goes on parsing HTTP", function()
    local log = run({
      {"sent", "CONNECT x:1 HTTP/1.1\r\n\r\n"},
      {"sent", "GET /after HTTP/1.1\r\n\r\n"},
      {"received", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n" ..
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
    })
    assert.same({"exchange x:1 403", "exchange /after 200"}, {log[5], log[#log]})
  end)

  it("a declined upgrade whose response head a hole cuts lets the client side go on", function()
    local p, log = tracer()
    p:data("sent", "GET /a HTTP/1.1\r\nUpgrade: h2c\r\n\r\n")
    p:data("received", "HTTP/1.1 200 OK\r\n")
    p:gap("received", 40)
    p:data("sent", "GET /b HTTP/1.1\r\n\r\n")
    p:data("received", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    -- Before the close: /b was parsed and paired, not held back.
    local ex = {}
    for _, l in ipairs(log) do if l:find("^exchange") then ex[#ex + 1] = l end end
    assert.same({"exchange /a 200", "exchange /b 404"}, ex)
  end)

  it("a client side waiting for an upgrade's answer buffers at most max_hold bytes", function()
    local p, log = tracer({max_hold = 100})
    p:data("sent", "GET /a HTTP/1.1\r\nUpgrade: h2c\r\n\r\n")
    p:data("sent", "GET /b HTTP/1.1\r\n\r\n")
    assert.equal("request_done 0", log[#log])  -- /b waits
    for _ = 1, 5 do p:data("sent", "GET /c HTTP/1.1\r\n\r\n") end
    -- Past max_hold the waiting ends, as at close: /b and the /c are parsed.
    local n = 0
    for _, l in ipairs(log) do if l:find("^request GET") then n = n + 1 end end
    assert.equal(7, n)
    assert.is_nil(p.hold)
  end)

  it("a server side that ends releases a client side waiting for its answer", function()
    local p, log = tracer()
    p:data("sent", "GET /a HTTP/1.1\r\nUpgrade: h2c\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    p:data("received", "garbage\r\n")
    assert.equal("request GET /b 1.1", log[#log - 1])
  end)

  it("101 Switching Protocols stops parsing", function()
    local log = run({
      {"sent", "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"},
      {"received", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"},
    })
    assert.same("upgrade websocket", log[#log])
    for _, l in ipairs(log) do assert.is_nil(l:find("error")) end
  end)

  it("a gap inside a Content-Length body keeps the framing", function()
    local log = run({
      {"sent", REQ},
      {"received", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012"},
      {"gap", "received", 4},
      {"received", "789"},
      {"sent", "GET /b HTTP/1.1\r\n\r\n"},
      {"received", "HTTP/1.1 204 No Content\r\n\r\n"},
    })
    assert.same({"request GET /a 1.1", "request_done 0", "response 200 OK",
                 "response_done 6 incomplete", "exchange /a 200", "request GET /b 1.1",
                 "request_done 0", "response 204 No Content", "response_done 0",
                 "exchange /b 204"}, log)
  end)

  it("a gap across a message boundary resynchronises at the next message", function()
    local p, log = tracer()
    local after
    p.h.request = function(_, q) log[#log + 1] = "request " .. q.target; after = q.after_gap end
    p:data("sent", "POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
    p:gap("sent", 30)
    p:data("sent", "tail of something\r\nmore junk\r\nGET /next HTTP/1.1\r\n\r\n")
    p:close()
    assert.same({"request /a", "request_done 2 incomplete", "request /next", "request_done 0",
                 "exchange /a -", "exchange /next -"}, lines(log))
    assert.is_true(after)
  end)

  it("a gap in a head reports the message as incomplete", function()
    local log = run({
      {"sent", "GET /a HTTP/1.1\r\nHost: x"},
      {"gap", "sent", 100},
      {"sent", "GET /b HTTP/1.1\r\n\r\n"},
    })
    assert.same({"request GET /a 1.1", "request_done 0 incomplete", "request GET /b 1.1",
                 "request_done 0", "exchange /a -", "exchange /b -"}, log)
  end)

  it("a gap in a chunked body inside a chunk keeps the framing", function()
    local log = run({
      {"sent", REQ},
      {"received", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n01"},
      {"gap", "received", 5},
      {"received", "789\r\n0\r\n\r\n"},
    })
    assert.same("response_done 5 incomplete", log[#log - 1])
  end)

  it("malformed input reports errors and never raises", function()
    local cases = {
      "NOT HTTP AT ALL\r\n\r\n",
      "GET / HTTP/1.1\r\nbad header line\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
      "\0\1\2\3\255\254" .. string.rep("x", 10000),
      string.rep("A", 9000) .. "\r\n",
    }
    for _, c in ipairs(cases) do
      local log = run({{"sent", c}, {"received", "HTTP/1.1 200 OK\r\n\r\n"}})
      local errors = 0
      for _, l in ipairs(log) do if l:find("^error sent") then errors = errors + 1 end end
      assert.is_true(errors >= 1, c:sub(1, 30))
    end
    local log = run({{"sent", REQ}, {"received", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}})
    assert.truthy(table.concat(log, "|"):find("error received bad chunk size", 1, true),
      table.concat(log, "|"))
    log = run({{"received", "garbage\r\n"}})
    assert.same({"error received malformed status line fatal"}, log)
  end)

  it("a response without a request is reported with req nil", function()
    local log = run({{"received", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}})
    assert.same({"response 200 OK", "response_done 0", "exchange - 200"}, log)
  end)

  it("headers keep their order, lookup ignores case, obs-fold joins", function()
    local p, _ = tracer()
    local got
    p.h.request = function(_, q) got = q.headers end
    p:data("sent", "GET / HTTP/1.1\r\nX-A: 1\r\nHost: h\r\nx-a: 2\r\nX-Long: a\r\n  b\r\n\r\n")
    assert.equal("1", got:get("X-A"))
    assert.equal("1, 2", got:get("x-a", true))
    assert.same({"1", "2"}, got:values("X-a"))
    assert.equal("a b", got:get("x-long"))
    local names = {}
    for n in got:each() do names[#names + 1] = n end
    assert.same({"X-A", "Host", "x-a", "X-Long"}, names)
  end)

  it("timestamps of the first and last byte", function()
    local now = 0
    local p, log = tracer({clock = function() return now end})
    local q
    p.h.request_done = function(_, r) q = r end
    now = 1; p:data("sent", "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
    now = 2; p:data("sent", "cd")
    assert.equal(1, q.time_first)
    assert.equal(2, q.time_last)
  end)

  it("a pipelined request starting mid-segment gets its own segment's time", function()
    local times = {}
    local p = http.parser({request = function(_, q) times[q.target] = q.time_first end})
    p:data("sent", "GET /a HTTP/1.1\r\n\r\nGET /b HT", 1)
    p:data("sent", "TP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n", 5)
    assert.same({["/a"] = 1, ["/b"] = 1, ["/c"] = 5}, times)
  end)

  it("handler errors are raised to the caller, not reported as malformed input", function()
    local p = http.parser({request = function() error("handler bug") end})
    assert.has_error(function() p:data("sent", REQ) end)
  end)

  it("a handler error propagates once and the parser keeps delivering", function()
    local seen = {}
    local p = http.parser({request = function(_, q)
      seen[#seen + 1] = q.target
      if q.target == "/1" then error("handler bug") end
    end})
    -- /1 and /2 in one feed: /2 stays queued past the error, then comes first.
    local two = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
    assert.has_error(function() p:data("sent", two) end, "handler bug")
    for i = 3, 4 do p:data("sent", "GET /" .. i .. " HTTP/1.1\r\n\r\n") end
    p:close()
    assert.same({"/1", "/2", "/3", "/4"}, seen)
    assert.is_false(p.flushing)
  end)

  it("gives the same events for every split of the input", function()
    local sent = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      "3\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nGET /y HTTP/1.1\r\n\r\n"
    local received = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwxyz" ..
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n"
    local function trace(sent_pieces, recv_pieces)
      local p, log = tracer({max_body = 64})
      for _, s in ipairs(sent_pieces) do p:data("sent", s) end
      for _, s in ipairs(recv_pieces) do p:data("received", s) end
      p:close()
      return table.concat(log, "|") .. "|" .. tostring(log.n_body)
    end
    local want = trace({sent}, {received})
    assert.truthy(want:find("exchange /y 200", 1, true))
    for i = 1, #sent - 1 do
      assert.equal(want, trace({sent:sub(1, i), sent:sub(i + 1)}, {received}), "sent split " .. i)
    end
    for i = 1, #received - 1 do
      assert.equal(want, trace({sent}, {received:sub(1, i), received:sub(i + 1)}),
        "received split " .. i)
    end
    local sb, rb = {}, {}
    for i = 1, #sent do sb[i] = sent:sub(i, i) end
    for i = 1, #received do rb[i] = received:sub(i, i) end
    assert.equal(want, trace(sb, rb))
  end)
end)
