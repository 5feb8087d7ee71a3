mkfifo pipe
cat packets.pcap > pipe &
"$LUASNIFF" -r pipe 2>err.txt; echo "exit $?"
cat err.txt
wait
