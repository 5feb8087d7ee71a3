# Both inputs in both delivery modes: the same bytes each time.
echo "--- arrival"
"$LUASNIFF" --deliver arrival -r packets.pcap events.lua
echo "--- hole, ack"
"$LUASNIFF" -r packets2.pcap events.lua
echo "--- hole, arrival"
"$LUASNIFF" --deliver arrival -r packets2.pcap events.lua
