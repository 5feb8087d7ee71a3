echo "--- --overlap first"
"$LUASNIFF" --overlap first -r packets.pcap events.lua
echo "--- --overlap last"
"$LUASNIFF" --overlap last -r packets.pcap events.lua
echo "--- --deliver arrival"
"$LUASNIFF" --deliver arrival -r packets.pcap events.lua
echo "--- held bytes the receiver acknowledged"
"$LUASNIFF" -r packets2.pcap events.lua
