# The warning comes once per file, not once per skipped frame. expected.err
# can only require it, so count it on a second run (built-in summary).
n=$("$LUASNIFF" -r packets.pcap 2>&1 >/dev/null | grep -c "link type IEEE802_11 not supported")
echo "warnings $n"
