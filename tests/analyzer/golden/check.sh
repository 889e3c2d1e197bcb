#!/bin/sh
# check.sh NUMA_ANALYZE SOURCE_DIR SCRATCH_DIR: renders every golden view again (render.sh) and
# diffs it byte for byte against tests/analyzer/golden/. A difference is a behaviour change of
# the report, its rules or a view: fix it, or regenerate on purpose with scripts/update-analyzer-goldens
# and commit the new goldens with the change that explains them.
set -u
A=$1; S=$2; W=$3
G="$S/tests/analyzer/golden"
rm -rf "$W" && mkdir -p "$W" || exit 2
sh "$G/render.sh" "$A" "$S/tests/analyzer/data/recordings" "$W" || exit 1
status=0
for f in "$W"/*; do
  name=$(basename "$f")
  if [ ! -f "$G/$name" ]; then echo "golden: no golden file $name (run scripts/update-analyzer-goldens)"; status=1
  elif ! cmp -s "$G/$name" "$f"; then echo "golden: $name differs:"; diff -u "$G/$name" "$f" | head -40 | cut -c1-240; status=1
  fi
done
for g in "$G"/*.txt "$G"/*.json "$G"/*.html "$G"/*.prom; do
  [ -f "$W/$(basename "$g")" ] || { echo "golden: $(basename "$g") is no longer rendered"; status=1; }
done
[ $status -eq 0 ] && echo "golden: $(ls "$W" | wc -l) renderings identical"
exit $status
