echo "--- stdin closed"
"$LUASNIFF" -r packets.pcap -w in.pcap events.lua <&-
echo "rc=$?"
"$LUASNIFF" -r in.pcap events.lua
echo "--- stdout closed"
("$LUASNIFF" -r packets.pcap -w out.pcap events.lua >&-; echo "rc=$?" >&2) 2>&1
"$LUASNIFF" -r out.pcap events.lua | tail -2
echo "--- stderr closed"
"$LUASNIFF" -r packets.pcap events.lua 2>&- | tail -1
