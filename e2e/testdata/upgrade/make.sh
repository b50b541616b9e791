#!/bin/bash
# Makes the upgrade fixture with the binary of main's commit b874a54.
set -euo pipefail
BIN=${BIN:-/tmp/prev/orgstream} # built from main at b874a54
DIR=${DIR:-/tmp/fx/data}
export ORGSTREAM_JWT_SECRET=upgrade-fixture-secret-0123456789abcdef
ADDR=127.0.0.1:18391
tok=$($BIN token --org '*' --sub fixture --publish --ttl 1h)
pub() { # org body
  curl -fsS -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    --data "$2" "http://$ADDR/v2/realtime/orgs/$1/events"; echo; }
run() { # retention
  $BIN serve --data-dir "$DIR" --listen $ADDR --nats-listen off --retention "$1" --node-name fx --log-level warn &
  pid=$!
  for i in $(seq 100); do curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
}
stop() { kill -TERM $pid; wait $pid || true; }
# 1: hooli's events age out (retention 1s); its head marker stays.
run 1s
pub hooli '{"topic":"t.a","data":{"n":1}}'
pub hooli '{"topic":"t.a","data":{"n":2}}'
sleep 2.5
stop
# 2: a long retention, events that stay.
run 87600h
pub acme '{"topic":"orders.created","data":{"order":1},"id":"ord-1"}'
pub acme '{"events":[{"topic":"orders.updated","data":{"order":1,"v":2},"id":"ord-1-v2"},{"topic":"orders.updated","data":{"order":2},"to":["alice","bob"]}]}'
pub acme '{"topic":"orders.deleted","data":{"order":2},"id":"ord-2-del"}'
pub globex '{"topic":"chat","data":"hello"}'
pub globex '{"topic":"chat","data":"world","id":"g-2"}'
pub initech '{"topic":"tps.report","data":{"cover":true}}'
stop
