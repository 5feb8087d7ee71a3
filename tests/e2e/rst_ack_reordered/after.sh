echo "--- forged, the client goes on"
"$LUASNIFF" -r packets2.pcap events.lua
