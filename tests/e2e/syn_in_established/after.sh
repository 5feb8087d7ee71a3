echo "--- reused, SYN-ACK captured"
"$LUASNIFF" -r packets2.pcap events.lua
echo "--- reused, SYN-ACK lost"
"$LUASNIFF" -r packets3.pcap events.lua
echo "--- reused, SYN-ACK captured before the SYN"
"$LUASNIFF" -r packets4.pcap events.lua
echo "--- reused, proven by the server's ACK"
"$LUASNIFF" -r packets5.pcap events.lua
echo "--- injected from the server's side"
"$LUASNIFF" -r packets6.pcap events.lua
echo "--- arrival"
for f in packets packets2 packets3 packets4 packets5 packets6; do
  "$LUASNIFF" --deliver arrival -r $f.pcap events.lua
done
echo "--- counters: injected, SYN-ACK captured, before the SYN, lost"
for f in packets packets2 packets4 packets5; do "$LUASNIFF" -q -r $f.pcap "$(dirname "$0")/stats.lua"; done
