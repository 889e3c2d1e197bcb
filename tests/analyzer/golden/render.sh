#!/bin/sh
# render.sh NUMA_ANALYZE RECORDINGS_DIR OUT_DIR: every view of every committed recording, and the
# compare of the all-remote and all-local guest runs, as the golden files name them:
#   <recording>.{txt,json,html,prom}          report --format text|json|html|prometheus
#   compare-all-remote-vs-all-local.{txt,json} compare BEFORE AFTER --format text|json
# Used by the golden test (into a scratch folder, then diffed) and by scripts/update-analyzer-goldens.
# Exit 0 when every rendering exited 0.
set -u
A=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); R=$2; O=$3   # A absolute: render runs in R
mkdir -p "$O" || exit 2
status=0
render() {   # render OUTPUT ARGS...: numa-analyze ARGS into OUTPUT, run in the recordings folder
  out=$1; shift
  (cd "$R" && "$A" "$@") > "$O/$out" || { echo "render.sh: numa-analyze $* exited $?" >&2; status=1; }
}
for rec in "$R"/*.rec.json; do
  name=$(basename "$rec" .rec.json)
  render "$name.txt" report "$name.rec.json" --format text
  render "$name.json" report "$name.rec.json" --format json
  render "$name.html" report "$name.rec.json" --format html
  render "$name.prom" report "$name.rec.json" --format prometheus
done
for format in txt json; do
  [ $format = txt ] && f=text || f=json
  render "compare-all-remote-vs-all-local.$format" compare all-remote-2-nodes.rec.json all-local-2-nodes.rec.json --format $f
done
exit $status
