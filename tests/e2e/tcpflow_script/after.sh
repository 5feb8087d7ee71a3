# List the flow files in name order with their size and content (NUL as '0').
for f in $(ls | grep '^[0-9][0-9]*-' | LC_ALL=C sort); do
  echo "== $f $(wc -c < "$f" | tr -d ' ')"
  tr '\0' '0' < "$f"; echo
done
