#!/usr/bin/env bash
# The measured per-leader cost behind docs/CLUSTER.md "Capacity model":
# the CPU each server of a JetStream R3 stream spends per write (its
# leader, the server the publisher is connected to, a plain follower).
# Three plain nats-server on loopback (client ports 14221-14223, routes
# 16221-16223), one R3 file stream, `nats bench js pub sync|async` with
# 256 B messages, utime+stime of each server from /proc before and after.
# Linux only. The binaries (from the module cache of this repo):
#   go build -o $D/nats-server github.com/nats-io/nats-server/v2
#   GOBIN=$D go install github.com/nats-io/natscli/nats@v0.5.0
# Run: D=/tmp/cap bench/capacity.sh
set -euo pipefail
D=${D:?set D to the folder holding nats-server and nats}; NATS=$D/nats; SRV=$D/nats-server
SIZE=${SIZE:-256B}
stop_servers() { for i in 1 2 3; do [ -f $D/s$i.pid ] && kill $(cat $D/s$i.pid) 2>/dev/null || true; done; }
trap stop_servers EXIT
for i in 1 2 3; do
  rm -rf $D/s$i; mkdir -p $D/s$i
  cat > $D/s$i.conf <<CONF
server_name: c$i
listen: 127.0.0.1:1422$i
jetstream { store_dir: "$D/s$i" }
cluster { name: cap, listen: 127.0.0.1:1622$i, routes: [nats://127.0.0.1:16221, nats://127.0.0.1:16222, nats://127.0.0.1:16223] }
CONF
  $SRV -c $D/s$i.conf > $D/s$i.log 2>&1 & echo $! > $D/s$i.pid
done
S=nats://127.0.0.1:14221
until $NATS -s $S bench js pub sync --create --replicas 3 --storage file --msgs 1 --size $SIZE --no-progress bench >/dev/null 2>&1; do sleep 0.5; done
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
hz=$(getconf CLK_TCK)
leader=$($NATS -s $S stream info benchstream --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster"]["leader"])')
echo "leader: $leader"
run() { # mode clients msgs
  local mode=$1 clients=$2 N=$3 before=() after=()
  $NATS -s $S stream purge benchstream -f >/dev/null
  for i in 1 2 3; do before[$i]=$(ticks $(cat $D/s$i.pid)); done
  local t0=$(date +%s.%N)
  out=$($NATS -s $S bench js pub $mode --clients $clients --msgs $N --size $SIZE --no-progress bench 2>&1 | grep -E "stats:" | grep -E "aggregated|publisher stats" | tail -1 | sed -E 's/ ~ (min|max|avg|P90|P99.9):[^~]*//g')
  local t1=$(date +%s.%N)
  for i in 1 2 3; do after[$i]=$(ticks $(cat $D/s$i.pid)); done
  local line="$mode clients=$clients: $out |"
  for i in 1 2 3; do
    role=follower; [ c$i = $leader ] && role=leader
    us=$(python3 -c "print(round((${after[$i]}-${before[$i]})/$hz/$N*1e6,1))")
    line="$line c$i($role) ${us}us/write"
  done
  echo "$line wall=$(python3 -c "print(round($t1-$t0,2))")s"
}
for r in 1 2; do
  run sync 1 8000
  run sync 16 16000
  run async 1 60000
done
