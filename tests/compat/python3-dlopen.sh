#!/usr/bin/env bash
# python3 imports C extension modules (dlopen: _decimal, _json, _sqlite3, zlib, _hashlib, _ctypes,
# _lzma, _bz2, unicodedata, array, _struct) and uses each; ctypes calls libc qsort with a Python
# callback. Rule: stdout byte-identical.
. "$(dirname "$0")/common.sh"
cat >"$WORK/work.py" <<'PY'
import array, bz2, ctypes, decimal, hashlib, json, lzma, sqlite3, struct, sys, unicodedata, zlib
decimal.getcontext().prec = 60
print("decimal", sum(decimal.Decimal(1) / decimal.Decimal(k) for k in range(1, 5000)))
doc = {"nodes": [{"id": i, "cpus": list(range(i, i + 4)), "name": f"n{i}"} for i in range(3000)]}
text = json.dumps(doc, sort_keys=True)
print("json", len(text), json.loads(text)["nodes"][2999]["name"])
db = sqlite3.connect(":memory:")
db.execute("create table t(k integer primary key, v text)")
db.executemany("insert into t values(?, ?)", ((i, str(i * 31 % 1000)) for i in range(50000)))
print("sqlite", db.execute("select count(distinct v), sum(length(v)) from t").fetchone())
raw = text.encode()
print("zlib", zlib.crc32(zlib.compress(raw, 6)), "lzma", len(lzma.decompress(lzma.compress(raw))),
      "bz2", hashlib.sha256(bz2.compress(raw)).hexdigest()[:16])
print("sha3", hashlib.sha3_256(raw).hexdigest())
print("unicodedata", [unicodedata.name(c) for c in "αβ€"])
print("struct", struct.pack("<iqd", 1, 2, 3.5).hex(), "array", sum(array.array("l", range(100000))))
libc = ctypes.CDLL(None)
values = (ctypes.c_int * 2000)(*[(i * 7919) % 2000 for i in range(2000)])
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc.qsort(values, len(values), ctypes.sizeof(ctypes.c_int), CMP(lambda a, b: a[0] - b[0]))
print("ctypes qsort", list(values[:5]), list(values[-3:]))
print("extension modules", sorted(m for m, v in sys.modules.items() if getattr(v, "__file__", "") and v.__file__.endswith(".so")))
PY
run_both "$PY" "$WORK/work.py"
same_stdout
same_stderr
agent_ran
