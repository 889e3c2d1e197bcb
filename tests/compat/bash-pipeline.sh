#!/usr/bin/env bash
# bash runs a pipeline (sort --parallel=2 | uniq -c | sort -n | awk) and shell-heavy work
# (associative arrays, command substitution, subshells); every process runs under the agent.
# Rule: stdout byte-identical.
. "$(dirname "$0")/common.sh"
make_text $((2 << 20)) "$WORK/input.txt"
cat >"$WORK/work.sh" <<'SH'
tr ' ' '\n' < ../input.txt | sort --parallel=2 -S 64M | uniq -c | sort -n -s -k1,1 | awk '{ n++; s += $1 } NR % 500 == 0 { print NR, $1, $2 } END { print "words", s, "distinct", n }'
declare -A seen
for w in $(head -c 100000 ../input.txt); do seen[$w]=$(( ${seen[$w]:-0} + 1 )); done
echo "assoc ${#seen[@]}"
total=0
for i in $(seq 1 30); do total=$(( total + $(echo "$i" | wc -c) )); done
echo "subshells $total"
SH
run_both bash "$WORK/work.sh"
same_stdout
same_stderr
agent_ran threads
