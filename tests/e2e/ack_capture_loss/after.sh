echo "--- arrival"
"$LUASNIFF" --deliver arrival -r packets.pcap script.lua
