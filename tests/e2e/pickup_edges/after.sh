echo "--- arrival, ACKs trailing the data"
"$LUASNIFF" --deliver arrival -r packets2.pcap events.lua
echo "--- copy of the SYN after its data"
"$LUASNIFF" -r packets3.pcap events.lua
echo "--- copy of the SYN-ACK after the close"
"$LUASNIFF" -r packets4.pcap events.lua
echo "--- after a timeout"
"$LUASNIFF" --idle-timeout 10 -r packets5.pcap events.lua
echo "--- keep-alive after a timeout"
"$LUASNIFF" -r packets6.pcap events.lua
echo "--- copy of the SYN after its data was delivered, arrival"
"$LUASNIFF" --deliver arrival -r packets7.pcap events.lua
echo "--- copy of the SYN 3 GB later"
"$LUASNIFF" -r packets8.pcap events.lua
