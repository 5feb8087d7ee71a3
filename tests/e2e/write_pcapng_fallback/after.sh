echo "--- out.pcap"
"$LUASNIFF" -r out.pcap
echo "--- two link types"
"$LUASNIFF" -r packets2.pcap -w out2.pcap 2>err.txt; echo "exit $?"
cat err.txt
"$LUASNIFF" -r out2.pcap
echo "--- a section header alone (no interface: libpcap refuses it)"
printf '\n\r\r\n\034\0\0\0M<+\032\001\0\0\0\377\377\377\377\377\377\377\377\034\0\0\0' > shb.pcapng
"$LUASNIFF" -r shb.pcapng -w out3.pcap; echo "exit $?"
"$LUASNIFF" -r out3.pcap; echo "exit $?"
