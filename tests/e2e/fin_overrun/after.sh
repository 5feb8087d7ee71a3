echo "--- arrival"
"$LUASNIFF" --deliver arrival -r packets.pcap events.lua
