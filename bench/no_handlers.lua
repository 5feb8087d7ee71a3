-- No data handlers: the cost of decoding, tracking and reassembly alone.
sniff.on("done", function(stats) print("bytes", stats.payload_bytes) end)
