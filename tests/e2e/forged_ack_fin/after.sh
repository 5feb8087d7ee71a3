echo "--- forged ACK"
"$LUASNIFF" -r packets2.pcap events.lua
echo "--- forged byte far ahead"
"$LUASNIFF" -r packets3.pcap events.lua
echo "--- forged byte far ahead, arrival"
"$LUASNIFF" --deliver arrival -r packets3.pcap events.lua
