#!/bin/bash
# The write path by count (docs/performance.md, "Write path (instruction counts)").
# usage: callgrind-put.sh BIN LABEL DBURL|sqlite N valgrind|stmts
# Runs BIN on DBURL (sqlite: a fresh file; a PostgreSQL URL: an empty database), 100 warm-up
# PUTs, then N creating PUTs at 8 connections, counted by callgrind (the server process only,
# counters zeroed after the warm-up) or by sqlx's statement log (BEGIN and, on SQLite, COMMIT
# are not logged).
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1; LABEL=$2; DB=$3; N=$4; MODE=$5
D=${TMPDIR:-/tmp}/cg-$LABEL-$MODE; rm -rf $D; mkdir -p $D
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
[ "$DB" = sqlite ] && DB="sqlite://$D/kalends.db"
LOG=warn; [ "$MODE" = stmts ] && LOG="warn,sqlx::query=debug"
printf 'listen = "127.0.0.1:%s"\ndata_dir = "%s"\ndatabase_url = "%s"\nlog = "%s"\n[rate_limit]\nenabled = false\n' $PORT $D "$DB" "$LOG" > $D/k.toml
echo alice-pw | $BIN --config $D/k.toml user add alice --password-stdin >/dev/null 2>&1
if [ "$MODE" = valgrind ]; then
  nice -n 10 valgrind --tool=callgrind --callgrind-out-file=$D/cg.out $BIN --config $D/k.toml serve 2>$D/err &
else
  $BIN --config $D/k.toml serve 2>$D/err &
fi
PID=$!
for i in $(seq 600); do curl -sf http://127.0.0.1:$PORT/livez >/dev/null && break; sleep 0.2; done
python3 "$HERE/putdrive.py" 127.0.0.1 $PORT 100 8 warm
if [ "$MODE" = valgrind ]; then callgrind_control -z $PID >/dev/null; else wc -l < $D/err > $D/before; fi
python3 "$HERE/putdrive.py" 127.0.0.1 $PORT $N 8 m
if [ "$MODE" = valgrind ]; then callgrind_control -d $PID >/dev/null; sleep 1; fi
kill $PID; wait $PID || true
if [ "$MODE" = valgrind ]; then
  F=$D/cg.out.1; echo "dump $F"
  callgrind_annotate --inclusive=yes --threshold=100 $F 2>/dev/null > $D/inclusive.txt
  grep -m1 'PROGRAM TOTALS' $D/inclusive.txt
else
  tail -n +$(( $(cat $D/before) + 1 )) $D/err | grep 'db.statement=' > $D/stmts.log || true
  echo "statements: $(wc -l < $D/stmts.log) for $N PUTs"
  sed -E 's/.*summary="([^"]*)".*/\1/' $D/stmts.log | sort | uniq -c | sort -rn
fi
