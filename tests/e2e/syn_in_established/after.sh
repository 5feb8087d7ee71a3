echo "--- reused, SYN-ACK captured"
"$LUASNIFF" -r packets2.pcap events.lua
echo "--- reused, SYN-ACK lost"
"$LUASNIFF" -r packets3.pcap events.lua
echo "--- arrival"
for f in packets packets2 packets3; do "$LUASNIFF" --deliver arrival -r $f.pcap events.lua; done
