echo "--- no handshake"
"$LUASNIFF" -r packets2.pcap script.lua
