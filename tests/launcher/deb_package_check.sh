#!/usr/bin/env bash
# deb_package_check.sh BUILD_DIR: `cpack -G DEB` builds numa-agent_<version>_amd64.deb; its files
# are the installed layout; its Depends names the package of every shared library its ELF files
# need (dpkg-shlibdeps); unpacked into a scratch root (dpkg -x), the launcher runs the installed
# demo under the installed agent and `numa-analyze record --agent` finds the agent there.
set -uo pipefail
unset NUMA_AGENT_LIB   # the installed tools must find the installed agent by themselves
build=$(cd "$1" && pwd)
out=$build/deb-test
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$out" && mkdir -p "$out"
(cd "$build" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || { cat "$out/cpack.log"; fail "cpack -G DEB"; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
deb=$out/numa-agent_${version}_${arch}.deb
[[ -f $deb ]] || fail "no $deb (got: $(ls "$out"/*.deb 2>/dev/null))"
echo "package: $deb"

# ---- contents ----
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$out/contents"
for f in /usr/bin/numa-agent /usr/bin/numa-analyze /usr/bin/numa-agent-help \
         "/usr/lib/$multiarch/libnumaagent.so" /usr/libexec/numa-agent/numa-demo \
         /usr/share/man/man1/numa-agent.1.gz /usr/share/man/man1/numa-analyze.1.gz \
         /usr/share/doc/numa-agent/PROFILE_SCHEMA.md /usr/share/doc/numa-agent/REPORT_SCHEMA.md; do
  grep -qx "$f" "$out/contents" || fail "$f is not in the package"
done
echo "ok    contents: $(grep -vc '/$' "$out/contents") files, the agent in /usr/lib/$multiarch"

# ---- Depends: the package of every library an ELF file names in DT_NEEDED (what dpkg-shlibdeps
# reads; libraries those load come with those packages' own Depends) ----
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
root=$out/root
dpkg -x "$deb" "$root" || fail "dpkg -x"
needed_packages=$(
  for elf in "$root"/usr/bin/* "$root/usr/lib/$multiarch/libnumaagent.so" "$root"/usr/libexec/numa-agent/*; do
    needed=" $(objdump -p "$elf" | awk '$1 == "NEEDED" {print $2}' | xargs) "
    LD_LIBRARY_PATH="$root/usr/lib/$multiarch" ldd "$elf" | awk -v needed="$needed" '$2 == "=>" && index(needed, " " $1 " ") {print $3}'
  done | grep -v "^$root" | sort -u | while read -r lib; do
    dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"
  done | sed 's/:.*//; s/,.*//' | sort -u)
[[ -n $needed_packages ]] || fail "found no library packages"
depends_names=$(sed 's/([^)]*)//g; s/|/,/g' <<<"$depends" | tr ',' '\n' | xargs)
for p in $needed_packages; do
  # The package itself, or a name it Provides (libspdlog1.10's shlibs name libspdlog1.10-fmt9).
  names="$p $(dpkg-query -W -f='${Provides}' "$p" | sed 's/([^)]*)//g; s/,/ /g')"
  found=0
  for n in $names; do [[ " $depends_names " == *" $n "* ]] && found=1; done
  ((found)) || fail "Depends lacks $p (or what it provides: $names)"
done
echo "ok    Depends covers $(echo $needed_packages | wc -w) library packages: $(echo $needed_packages)"

# ---- run from the installed paths ----
bin=$root/usr/bin demo=$root/usr/libexec/numa-agent/numa-demo
first_cpu=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9]*\).*/\1/p' /proc/self/status)
"$bin/numa-agent" -c "$first_cpu" --profile "$out/demo-%p.json" -- "$demo" --threads 2 >"$out/demo.out" 2>&1 ||
  { cat "$out/demo.out"; fail "numa-agent -c $first_cpu -- numa-demo"; }
# numa-agent looks for the agent only relative to itself, so a profile means the installed one ran.
profile=$(ls "$out"/demo-*.json 2>/dev/null | head -1)
[[ -n $profile ]] && grep -q '"threads"' "$profile" || fail "the installed agent wrote no profile"
echo "ok    installed numa-agent ran the installed demo under the installed agent (profile $profile)"
"$bin/numa-analyze" record --agent -o "$out/demo.rec.json" -- "$demo" --threads 2 >/dev/null 2>"$out/record.err" ||
  { cat "$out/record.err"; fail "installed numa-analyze record --agent"; }
"$bin/numa-analyze" report "$out/demo.rec.json" --format json >"$out/demo.report.json" || fail "installed numa-analyze report"
grep -q '"agent": true' "$out/demo.report.json" || fail "the recording has no agent profile"
echo "ok    installed numa-analyze record --agent found /usr/lib/$multiarch/libnumaagent.so"
for page in numa-agent numa-analyze; do
  warnings=$(MANWIDTH=80 man -l --warnings "$root/usr/share/man/man1/$page.1.gz" 2>&1 >/dev/null)
  [[ -z $warnings ]] || fail "man -l $page.1: $warnings"
done
echo "ok    the installed man pages render without warnings"
