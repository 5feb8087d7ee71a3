echo "--- beyond the window"
"$LUASNIFF" -r packets2.pcap events.lua
echo "--- SYN with FIN"
"$LUASNIFF" -r packets3.pcap events.lua
echo "--- arrival"
for f in packets packets2 packets3; do "$LUASNIFF" --deliver arrival -r $f.pcap events.lua; done
