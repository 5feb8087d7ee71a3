# Read the carved file back: exactly the Redis connection, every byte.
echo "--- read back"
"$LUASNIFF" -q -r out.pcap events.lua
