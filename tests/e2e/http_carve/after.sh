# The files the script wrote: names and contents (hostile targets stay in WORK).
for f in [0-9]*-*; do printf '%s: ' "$f"; cat "$f"; echo; done
