# Each file holds the SYN alone: the writer was closed before the next frame.
for i in 1 2 3; do
  echo "--- conn$i.pcap"
  "$LUASNIFF" -q -r conn$i.pcap -e 'sniff.on("done", function(s) print("packets", s.packets) end)'
done
