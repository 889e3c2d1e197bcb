#!/usr/bin/env bash
# git: init, add 200 files, two commits with fixed identities and dates, gc with 2 pack threads,
# fsck --full --strict, a clone through upload-pack (fork/exec), log. Rule: commit and tree ids,
# log, fsck and clone output byte-identical; the pack's object list (verify-pack, sorted)
# identical (pack bytes may differ: delta search order depends on threads).
. "$(dirname "$0")/common.sh"
need git git
export GIT_AUTHOR_NAME=Compat GIT_AUTHOR_EMAIL=compat@example.org GIT_AUTHOR_DATE='2024-01-01T00:00:00Z'
export GIT_COMMITTER_NAME=Compat GIT_COMMITTER_EMAIL=compat@example.org GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
export GIT_CONFIG_NOSYSTEM=1 HOME=$WORK
for mode in plain agent; do
  mkdir -p "$WORK/$mode/src"
  for i in $(seq 1 200); do seq "$i" 7 3000 | sed "s/^/line $i /" >"$WORK/$mode/src/f$i.txt"; done
done
cat >"$WORK/work.sh" <<'SH'
set -e
git init -q -b main repo && cd repo
cp -r ../src . && git add -A && git commit -q -m first
for i in $(seq 1 200 | awk 'NR % 9 == 0'); do echo change >> src/f$i.txt; done
git commit -q -am second
git -c pack.threads=2 gc -q
git fsck --full --strict 2>&1
git rev-parse HEAD 'HEAD^{tree}' HEAD~1
git log --stat --format='%H %s' | head -50
git verify-pack -v .git/objects/pack/*.idx | awk 'NF >= 5 { print $1, $2 }' | sort > ../objects.txt
wc -l < ../objects.txt
cd .. && git clone -q --no-local repo clone && git -C clone rev-parse HEAD && git -C clone fsck --full 2>&1
SH
run_both bash "$WORK/work.sh"
same_stdout
same_stderr
same_file "$WORK/plain/objects.txt" "$WORK/agent/objects.txt" "pack object list"
agent_ran threads
