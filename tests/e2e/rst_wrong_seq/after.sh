echo "--- one below the ACK, after a FIN"
"$LUASNIFF" -r packets2.pcap events.lua
echo "--- arrival"
"$LUASNIFF" --deliver arrival -r packets.pcap events.lua
"$LUASNIFF" --deliver arrival -r packets2.pcap events.lua
