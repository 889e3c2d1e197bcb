#!/usr/bin/env bash
# make -j2 of a generated Makefile: 24 independent targets (each forks a shell that runs sort,
# sha256sum, awk) and two levels of targets that combine them. make forks and execs throughout.
# Rule: every produced file byte-identical; make's stdout identical as a sorted set of lines (-j2
# interleaves recipes in scheduling order).
. "$(dirname "$0")/common.sh"
need make make
for mode in plain agent; do
  d=$WORK/$mode
  mkdir -p "$d/src"
  for i in $(seq 1 24); do seq 1 3000 | awk -v s="$i" '{ print ($1 * s * 7919) % 10007, "item" ($1 % s) }' >"$d/src/$i.txt"; done
  {
    echo 'SRC := $(wildcard src/*.txt)'
    echo 'OUT := $(patsubst src/%.txt,out/%.sum,$(SRC))'
    echo 'all: total.txt'
    echo 'out/%.sum: src/%.txt'
    printf '\t@mkdir -p out\n\t@sort -n $< | uniq -c | awk '\''{ n += $$1; s += $$2 } END { print FILENAME, n, s }'\'' > $@\n'
    printf '\t@sha256sum < $< | cut -c1-16 >> $@\n\t@echo built $@\n'
    echo 'half1.txt: $(wordlist 1,12,$(OUT))'
    printf '\t@cat $^ | sort > $@\n\t@echo built $@\n'
    echo 'half2.txt: $(wordlist 13,24,$(OUT))'
    printf '\t@cat $^ | sort > $@\n\t@echo built $@\n'
    echo 'total.txt: half1.txt half2.txt'
    printf '\t@cat $^ | sha256sum > $@\n\t@echo built $@\n'
  } >"$d/Makefile"
done
run_both make -j2 --no-print-directory
same_sorted "$WORK/plain.out" "$WORK/agent.out" "make stdout"
same_stderr
(cd "$WORK/plain" && find out half1.txt half2.txt total.txt -type f | sort) >"$WORK/files"
[ "$(wc -l <"$WORK/files")" -eq 27 ] || fail "expected 27 built files"
while read -r f; do cmp -s "$WORK/plain/$f" "$WORK/agent/$f" || fail "$f differs"; done <"$WORK/files"
echo "same 27 built files; total $(cut -c1-16 "$WORK/agent/total.txt")"
agent_ran
