echo "--- stdin"
"$LUASNIFF" --idle-timeout 60 -r - script.lua < packets.pcap
NOW='sniff.on("packet", function() print(string.format("%.6f", sniff.now())) end)'
echo "--- pcapng in 2128"
"$LUASNIFF" -r packets2.pcap -e "$NOW"
echo "--- written from 2128: carved, and -w"
"$LUASNIFF" -r packets3.pcap -w w.pcap -e 'local w = assert(sniff.pcap_writer("carved.pcap"))
  sniff.keep_packets(1 << 20)
  sniff.on("closed", function(c) w:save(c) end)
  sniff.on("done", function() w:close() end)'
echo "exit $?"
"$LUASNIFF" -r carved.pcap -e "$NOW"
"$LUASNIFF" -r w.pcap -e "$NOW"
