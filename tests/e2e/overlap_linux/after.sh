echo "--- --overlap first"
"$LUASNIFF" --overlap first -r packets.pcap events.lua
echo "--- --overlap last"
"$LUASNIFF" --overlap last -r packets.pcap events.lua
