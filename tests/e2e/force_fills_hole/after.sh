echo "--- arrival"
"$LUASNIFF" --deliver arrival --max-conn-buffer 128 -r packets.pcap events.lua
echo "--- 64 bytes"
"$LUASNIFF" --max-conn-buffer 64 -r packets.pcap events.lua
