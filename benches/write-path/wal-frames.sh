#!/bin/bash
# WAL frames a creating PUT writes on SQLite (N PUTs at 8 connections after 100 warm-up ones).
# usage: wal-frames.sh BIN LABEL N
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1; LABEL=$2; N=$3
D=${TMPDIR:-/tmp}/wal-$LABEL; rm -rf $D; mkdir -p $D
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
printf 'listen = "127.0.0.1:%s"\ndata_dir = "%s"\nlog = "warn"\n[rate_limit]\nenabled = false\n' $PORT $D > $D/k.toml
echo alice-pw | $BIN --config $D/k.toml user add alice --password-stdin >/dev/null 2>&1
$BIN --config $D/k.toml serve 2>$D/err & PID=$!
for i in $(seq 600); do curl -sf http://127.0.0.1:$PORT/livez >/dev/null && break; sleep 0.1; done
python3 "$HERE/putdrive.py" 127.0.0.1 $PORT 100 8 warm >/dev/null
A=$(stat -c %s $D/kalends.db-wal)
python3 "$HERE/putdrive.py" 127.0.0.1 $PORT $N 8 m
B=$(stat -c %s $D/kalends.db-wal)
kill $PID; wait $PID
python3 -c "print('WAL bytes per PUT', ($B-$A)/$N, 'frames per PUT', ($B-$A)/$N/4120)"
