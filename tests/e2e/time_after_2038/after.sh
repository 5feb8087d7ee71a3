echo "--- stdin"
"$LUASNIFF" --idle-timeout 60 -r - script.lua < packets.pcap
