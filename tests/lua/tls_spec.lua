-- sniff.tls: hellos built here byte by byte, split across records and
-- segments at every position; malformed and non-TLS input.
local tls = require "sniff.tls"
local pack = string.pack

local function vec2(s) return pack(">s2", s) end
local function ext(t, data) return pack(">I2", t) .. vec2(data) end

local function client_hello(opts)
  opts = opts or {}
  local exts = ext(0, vec2("\0" .. vec2(opts.sni or "example.com"))) ..
    ext(16, vec2(pack(">s1", "h2") .. pack(">s1", "http/1.1"))) ..
    ext(43, pack(">s1", pack(">I2I2I2", 0x0a0a, 0x0304, 0x0303))) ..
    ext(0x0a0a, "")
  local ciphers = pack(">I2I2I2I2", 0x0a0a, 0x1301, 0x1302, 0xc02f)
  local body = pack(">I2", 0x0303) .. string.rep("R", 32) .. pack(">s1", "SID") ..
    vec2(ciphers) .. pack(">s1", "\0") .. vec2(exts)
  return "\1" .. pack(">I3", #body) .. body
end

local function server_hello(version)
  local exts = ext(43, pack(">I2", version)) .. ext(16, vec2(pack(">s1", "h2")))
  local body = pack(">I2", 0x0303) .. string.rep("S", 32) .. pack(">s1", "") ..
    pack(">I2", 0x1302) .. "\0" .. vec2(exts)
  return "\2" .. pack(">I3", #body) .. body
end

-- Handshake bytes as records of at most `max` payload bytes each.
local function records(hs, max, version)
  local out = {}
  for i = 1, #hs, max do
    local part = hs:sub(i, i + max - 1)
    out[#out + 1] = pack(">I1I2s2", 22, version or 0x0301, part)
  end
  return table.concat(out)
end

local function run(sent_pieces, recv_pieces)
  local got = {}
  local p = tls.parser({
    client_hello = function(_, h) got.client = h end,
    server_hello = function(_, h) got.server = h end,
    error = function(_, e) got[#got + 1] = e.direction .. ": " .. e.message end,
  })
  for _, s in ipairs(sent_pieces) do p:data("sent", s) end
  for _, s in ipairs(recv_pieces or {}) do p:data("received", s) end
  p:close()
  return got
end

describe("sniff.tls", function()
  it("reads a ClientHello and a TLS 1.3 ServerHello", function()
    local got = run({records(client_hello(), 16384)},
                    {records(server_hello(0x0304), 16384, 0x0303) .. "\23\3\3\0\2xx"})
    local c, s = got.client, got.server
    assert.equal("example.com", c.sni)
    assert.same({"h2", "http/1.1"}, c.alpn)
    assert.same({0x0a0a, 0x1301, 0x1302, 0xc02f}, c.ciphers)
    assert.same({0x0a0a, 0x0304, 0x0303}, c.versions)
    assert.equal(0x0303, c.version)
    assert.equal(0x0301, c.record_version)
    assert.equal("SID", c.session_id)
    assert.same({0, 16, 43, 0x0a0a}, c.extensions)
    assert.equal(0x0304, s.version)
    assert.equal(0x0303, s.legacy_version)
    assert.equal(0x1302, s.cipher)
    assert.equal("h2", s.alpn)
    assert.equal("TLS 1.3", tls.version_name(s.version))
    assert.equal("TLS_AES_256_GCM_SHA384", tls.cipher_name(s.cipher))
    assert.is_true(tls.is_grease(0x1a1a))
    assert.is_false(tls.is_grease(0x1301))
    assert.equal(0, #got)
  end)

  it("reads a ClientHello split across segments at every position", function()
    local wire = records(client_hello(), 16384)
    for i = 1, #wire - 1 do
      local got = run({wire:sub(1, i), wire:sub(i + 1)})
      assert.equal("example.com", got.client and got.client.sni, "split at " .. i)
    end
    local bytes = {}
    for i = 1, #wire do bytes[i] = wire:sub(i, i) end
    assert.equal("example.com", run(bytes).client.sni)
  end)

  it("reads a ClientHello fragmented over many records", function()
    for _, max in ipairs({1, 7, 50}) do
      local got = run({records(client_hello({sni = "a.b"}), max)})
      assert.equal("a.b", got.client.sni)
    end
  end)

  it("reports malformed and non-TLS input without raising", function()
    local hs = client_hello()
    local cut = hs:sub(1, 4) .. hs:sub(5, 60) -- claims more than it holds
    local bad_len = "\1" .. pack(">I3", 56) .. hs:sub(5, 60)
    assert.same({"sent: not a TLS record"}, run({"GET / HTTP/1.1\r\n\r\n"}))
    assert.same({"sent: truncated ClientHello"}, run({records(bad_len, 16384)}))
    assert.same({"sent: alert before the hello"}, run({"\21\3\3\0\2\2\40"}))
    assert.same({"sent: handshake type 2 before the ClientHello"},
                run({records(server_hello(0x0304), 100)}))
    local got = run({records(cut, 16384)}) -- never completes: no event, no error
    assert.is_nil(got.client)
    assert.equal(0, #got)
  end)

  it("a handler error propagates once and the events after it stay queued", function()
    local seen = {}
    local p = tls.parser({
      client_hello = function(_, h) seen[#seen + 1] = "client " .. h.sni; error("handler bug") end,
      server_hello = function(_, h) seen[#seen + 1] = "server " .. tls.version_name(h.version) end,
      error = function(_, e) seen[#seen + 1] = e.direction .. ": " .. e.message end,
    })
    -- Two events queued before one flush (the queue's contract: traffic
    -- gives one per feed today, but a handler may feed the other side).
    p:emit("client_hello", {sni = "a"})
    p:emit("server_hello", {version = 0x0304})
    local ok, err = xpcall(p.flush, debug.traceback, p)
    assert.is_false(ok)
    -- The handler's own error, and a traceback from where it raised.
    assert.truthy(err:find("^[^\n]*tls_spec%.lua:%d+: handler bug\n"), err)
    assert.truthy(err:find("in function 'error'\n\t[^\n]*tls_spec%.lua:%d+:"), err)
    assert.same({"client a"}, seen)
    -- The next feed runs the queued event first, then its own.
    p:data("received", "GET / HTTP/1.1\r\n\r\n")
    assert.same({"client a", "server TLS 1.3", "received: not a TLS record"}, seen)
    assert.is_false(p.flushing)
  end)

  it("events queued by a failing handler run at the next event, of either side", function()
    local seen, p = {}, nil
    p = tls.parser({
      client_hello = function()
        seen[#seen + 1] = "client"
        p:data("received", records(server_hello(0x0304), 16384, 0x0303))
        error("handler bug")
      end,
      server_hello = function() seen[#seen + 1] = "server" end,
    })
    assert.has_error(function() p:data("sent", records(client_hello(), 16384)) end)
    assert.same({"client"}, seen)
    p:data("sent", "\23\3\3\0\2xx") -- after the hello: parsed no more, but flushes
    assert.same({"client", "server"}, seen)
  end)

  it("reports a gap before the hello", function()
    local got = {}
    local p = tls.parser({error = function(_, e) got[#got + 1] = e.message end})
    local wire = records(client_hello(), 16384)
    p:data("sent", wire:sub(1, 20))
    p:gap("sent", 10)
    p:data("sent", wire:sub(31))
    p:close()
    assert.same({"gap before the hello"}, got)
  end)
end)
