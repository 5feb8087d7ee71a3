echo "--- arrival, start from the ACK"
"$LUASNIFF" --deliver arrival -r packets2.pcap events.lua
echo "--- copy of the SYN after its data"
"$LUASNIFF" -r packets3.pcap events.lua
echo "--- copy of the SYN-ACK after the close"
"$LUASNIFF" -r packets4.pcap events.lua
echo "--- after a timeout"
"$LUASNIFF" --idle-timeout 10 -r packets5.pcap events.lua
