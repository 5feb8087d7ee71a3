echo "--- mid-stream, reversed"
"$LUASNIFF" --deliver arrival -r packets2.pcap events.lua
echo "--- mid-stream, request and answer"
"$LUASNIFF" --deliver arrival -r packets3.pcap events.lua
