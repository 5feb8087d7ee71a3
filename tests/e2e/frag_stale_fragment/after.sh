echo "--- counters"
"$LUASNIFF" -r packets.pcap -e 'sniff.on("done", function(st) print("bad_checksums", st.bad_checksums) end)'
echo "--- checksums all wrong"
"$LUASNIFF" -r packets2.pcap events.lua
