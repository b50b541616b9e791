#!/usr/bin/env bash
# A local 3-node orgstream cluster on loopback, for trying clustering out
# (`make cluster`, after `make build`). Docs: docs/CLUSTER.md.
#
#   node  HTTP + WebSocket    NATS client       routes
#   n1    127.0.0.1:8081      127.0.0.1:4231    127.0.0.1:6231
#   n2    127.0.0.1:8082      127.0.0.1:4232    127.0.0.1:6232
#   n3    127.0.0.1:8083      127.0.0.1:4233    127.0.0.1:6233
#
# Each node runs an embedded NATS server; the three join one NATS cluster by
# routes and replicate the log three times (--replicas 3). Data is kept in
# $CLUSTER_DIR/n1..n3 between runs. Three secrets shared by the nodes are
# generated once into $CLUSTER_DIR (32 random bytes, hex, mode 0600) and
# handed to every node in its environment, never on a command line (ps shows
# command lines) and never printed:
#   jwt-secret               ORGSTREAM_JWT_SECRET               HS256 key of the tokens
#   cluster-secret           ORGSTREAM_CLUSTER_SECRET           authenticates the routes
#   nats-publisher-password  ORGSTREAM_NATS_PUBLISHER_PASSWORD  NATS user "publisher"
# Each node has a data dir of its own, so a password it generated itself
# would differ from its neighbours'; one shared password lets a backend use
# the same credentials on any node's NATS port.
#
# Ctrl-C (or SIGTERM, SIGHUP) stops every node (SIGTERM, then SIGKILL after
# $STOP_TIMEOUT seconds) and exits 0. SIGUSR1 restarts the nodes that are
# down (after you killed one to watch a failover).
#
# Environment:
#   ORGSTREAM_BIN   the orgstream binary (default bin/orgstream)
#   CLUSTER_DIR     data, logs, pid files and the secrets (default data/cluster)
#   READY_TIMEOUT   seconds to wait for every /readyz (default 60)
#   STOP_TIMEOUT    seconds between SIGTERM and SIGKILL on stop (default 10)
# Arguments are passed on to every `orgstream serve` (after the script's own
# flags, so they win), e.g. `deploy/local/cluster.sh --log-level debug`.
#
# The nodes run with --dev, as `make run` does: the console at
# http://127.0.0.1:8081/ can mint tokens for anyone who reaches the port
# (loopback only here).
#
# Needs bash, curl and od (coreutils); Linux or macOS.
set -euo pipefail

abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$PWD" "$1" ;;
	esac
}

# Paths given by the caller are relative to where it was started; the script
# then works from the repository root.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${ORGSTREAM_BIN:-$ROOT/bin/orgstream}
case $BIN in
*/*) BIN=$(abspath "$BIN") ;;
*) BIN=$(command -v "$BIN" || printf '%s\n' "$BIN") ;;
esac
DIR=$(abspath "${CLUSTER_DIR:-$ROOT/data/cluster}")
READY_TIMEOUT=${READY_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
EXTRA=("$@")
cd "$ROOT"

NAMES=(n1 n2 n3)
HTTP_PORTS=(8081 8082 8083)
NATS_PORTS=(4231 4232 4233)
ROUTE_PORTS=(6231 6232 6233)
PIDS=("" "" "")
LOG_START=(0 0 0) # byte offset where this run's part of each log begins
SLEEPER=""        # the pid of the main loop's sleep

say() { printf '%s\n' "$*"; }
err() { printf 'cluster.sh: %s\n' "$*" >&2; }

# rel shows a path relative to the repository root when it is inside it.
rel() {
	case $1 in
	"$ROOT"/*) printf '%s\n' "${1#"$ROOT"/}" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# quote quotes a word for a POSIX shell when it needs it.
quote() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@-]*) printf "'%s'\n" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# listening reports whether something accepts TCP connections on a loopback
# port.
listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

alive() {
	[ -n "${PIDS[$1]}" ] && kill -0 "${PIDS[$1]}" 2>/dev/null
}

# --- checks --------------------------------------------------------------

if [ ! -x "$BIN" ]; then
	err "no orgstream binary at $(rel "$BIN"): run \`make build\` first (or set ORGSTREAM_BIN)"
	exit 1
fi
if ! command -v curl >/dev/null 2>&1; then
	err "curl is needed (to wait for /readyz)"
	exit 1
fi
for p in "${HTTP_PORTS[@]}" "${NATS_PORTS[@]}" "${ROUTE_PORTS[@]}"; do
	if listening "$p"; then
		err "port 127.0.0.1:$p is in use"
		if ls "$DIR"/n[123].pid >/dev/null 2>&1; then
			err "nodes of an earlier run may still be up; stop them with: kill \$(cat $(rel "$DIR")/n*.pid)"
		fi
		exit 1
	fi
done
# This cluster runs its own embedded NATS servers.
unset ORGSTREAM_NATS_URL

# --- the shared secrets --------------------------------------------------

mkdir -p "$DIR"
chmod 700 "$DIR"

# shared_secret FILE WHAT: prints the secret kept in FILE, generating it
# first (32 random bytes, hex: the form `orgstream serve` generates, and safe
# in a URL or a shell word) when FILE is absent or empty. Trimmed as the
# daemon trims its secret files.
shared_secret() {
	local file=$1 what=$2 s
	if [ ! -s "$file" ]; then
		(
			umask 077
			head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \t\n' >"$file.tmp"
			printf '\n' >>"$file.tmp"
		)
		mv -f "$file.tmp" "$file"
		say "generated a new $what in $(rel "$file") (mode 0600)" >&2
	fi
	chmod 600 "$file"
	s=$(<"$file")
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	if [ -z "$s" ]; then
		err "$(rel "$file") is empty: delete it to generate a new $what"
		return 1
	fi
	printf '%s\n' "$s"
}

# Read by the nodes from their environment (start_node). The token and
# publish commands read jwt-secret with --data-dir (they trim the trailing
# newline too); `orgstream nats-creds` prints the publisher's credentials.
SECRET_FILE=$DIR/jwt-secret
CLUSTER_SECRET_FILE=$DIR/cluster-secret
PUBLISHER_PASSWORD_FILE=$DIR/nats-publisher-password
SECRET=$(shared_secret "$SECRET_FILE" "JWT secret")
CLUSTER_SECRET=$(shared_secret "$CLUSTER_SECRET_FILE" "cluster secret")
PUBLISHER_PASSWORD=$(shared_secret "$PUBLISHER_PASSWORD_FILE" "NATS publisher password")

# --- starting and stopping nodes -------------------------------------------

# routes_for i: the route URLs of every node but i.
routes_for() {
	local out="" j
	for j in 0 1 2; do
		[ "$j" = "$1" ] && continue
		out="$out${out:+,}nats://127.0.0.1:${ROUTE_PORTS[$j]}"
	done
	printf '%s\n' "$out"
}

start_node() {
	local i=$1 name=${NAMES[$1]} log
	log=$DIR/${NAMES[$1]}.log
	printf '\n=== cluster.sh: starting %s at %s ===\n' "$name" "$(date '+%Y-%m-%d %H:%M:%S')" >>"$log"
	LOG_START[i]=$(wc -c <"$log" | tr -d ' ')
	# Job control on while forking: each node gets a process group of its
	# own, so a Ctrl-C in the terminal reaches this script only and the
	# nodes get exactly one SIGTERM from it (a second signal would make a
	# node exit at once, without its drain).
	set -m
	# The secrets go in the environment of this one command: not exported
	# to anything else the script runs, not in the command line.
	ORGSTREAM_JWT_SECRET=$SECRET \
		ORGSTREAM_CLUSTER_SECRET=$CLUSTER_SECRET \
		ORGSTREAM_NATS_PUBLISHER_PASSWORD=$PUBLISHER_PASSWORD \
		"$BIN" serve \
		--node-name "$name" \
		--data-dir "$DIR/$name" \
		--listen "127.0.0.1:${HTTP_PORTS[$i]}" \
		--nats-listen "127.0.0.1:${NATS_PORTS[$i]}" \
		--cluster-listen "127.0.0.1:${ROUTE_PORTS[$i]}" \
		--routes "$(routes_for "$i")" \
		--replicas 3 \
		--dev \
		--log-format console \
		${EXTRA[@]+"${EXTRA[@]}"} \
		</dev/null >>"$log" 2>&1 &
	PIDS[i]=$!
	set +m
	printf '%s\n' "${PIDS[$i]}" >"$DIR/$name.pid"
}

# reap i: collects a node's exit status once it is gone, says so.
reap() {
	local i=$1 st=0
	wait "${PIDS[$i]}" 2>/dev/null || st=$?
	say "${NAMES[$i]} stopped (exit status $st)"
	PIDS[i]=""
	rm -f "$DIR/${NAMES[$i]}.pid"
}

FORCE=0
stop_nodes() {
	local i deadline
	trap 'FORCE=1' INT TERM HUP
	for i in 0 1 2; do
		if alive "$i"; then kill -TERM "${PIDS[$i]}" 2>/dev/null || true; fi
	done
	deadline=$((SECONDS + STOP_TIMEOUT))
	while :; do
		local left=0
		for i in 0 1 2; do
			if alive "$i"; then left=1; elif [ -n "${PIDS[$i]}" ]; then reap "$i"; fi
		done
		[ "$left" = 0 ] && break
		if [ "$FORCE" = 1 ] || [ "$SECONDS" -ge "$deadline" ]; then
			for i in 0 1 2; do
				if alive "$i"; then
					err "${NAMES[$i]} did not stop in time: SIGKILL"
					kill -KILL "${PIDS[$i]}" 2>/dev/null || true
				fi
			done
			FORCE=0
			deadline=$((SECONDS + 5))
		fi
		sleep 0.2
	done
}

STOPPING=0
cleanup() {
	local st=$1
	[ "$STOPPING" = 1 ] && return
	STOPPING=1
	if [ -n "$SLEEPER" ]; then kill "$SLEEPER" 2>/dev/null || true; fi
	stop_nodes
	exit "$st"
}
on_signal() {
	say ""
	say "stopping the cluster…"
	cleanup 0
}
trap on_signal INT TERM HUP
trap 'cleanup $?' EXIT

# --- start, wait for readiness ---------------------------------------------

say "starting a 3-node orgstream cluster ($(rel "$BIN"), data in $(rel "$DIR"))"
for i in 0 1 2; do start_node "$i"; done

wait_ready() {
	local i deadline pending
	deadline=$((SECONDS + READY_TIMEOUT))
	while :; do
		pending=""
		for i in 0 1 2; do
			if ! alive "$i"; then
				reap "$i"
				err "${NAMES[$i]} exited before it was ready; the end of $(rel "$DIR/${NAMES[$i]}.log"):"
				tail -n 30 "$DIR/${NAMES[$i]}.log" >&2
				return 1
			fi
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
				"http://127.0.0.1:${HTTP_PORTS[$i]}/readyz" || true)
			[ "$code" = 200 ] || pending="$pending $i"
		done
		[ -z "$pending" ] && return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			for i in $pending; do
				err "${NAMES[$i]} (http://127.0.0.1:${HTTP_PORTS[$i]}) is not ready after ${READY_TIMEOUT}s; the end of $(rel "$DIR/${NAMES[$i]}.log"):"
				tail -n 30 "$DIR/${NAMES[$i]}.log" >&2
			done
			return 1
		fi
		sleep 0.5
	done
}
wait_ready

# ACME_STREAM is the events stream of org acme's partition with the default
# 12 partitions (FNV-1a("acme") mod 12 = 7; docs/CLUSTER.md "Partitions").
ACME_STREAM=ORGSTREAM_P7

# leader: the node whose log of this run last announced leading acme's
# events stream (nats-server logs it on the node that becomes leader).
leader() {
	local i best="" line
	for i in 0 1 2; do
		line=$(tail -c +"$((LOG_START[i] + 1))" "$DIR/${NAMES[$i]}.log" 2>/dev/null |
			grep -c "new stream leader for '.* > $ACME_STREAM'" || true)
		[ "${line:-0}" -gt 0 ] && best="$best${best:+ or }${NAMES[$i]}"
	done
	printf '%s\n' "${best:-unknown}"
}

LEADER=$(leader)
case $LEADER in n[123]) VICTIM=$LEADER ;; *) VICTIM=n3 ;; esac
B=$(quote "$(rel "$BIN")")
D=$(quote "$(rel "$DIR")")
cat <<EOF

orgstream cluster is ready: 3 nodes, log replicated 3 times (--replicas 3)
  n1  http://127.0.0.1:8081  ws://127.0.0.1:8081/v2/realtime/stream  nats://127.0.0.1:4231  (pid ${PIDS[0]})
  n2  http://127.0.0.1:8082  ws://127.0.0.1:8082/v2/realtime/stream  nats://127.0.0.1:4232  (pid ${PIDS[1]})
  n3  http://127.0.0.1:8083  ws://127.0.0.1:8083/v2/realtime/stream  nats://127.0.0.1:4233  (pid ${PIDS[2]})
  console (--dev): http://127.0.0.1:8081/ (or :8082, :8083)
  logs: $D/n1.log n2.log n3.log
  secrets (mode 0600, shared by the nodes): $D/jwt-secret cluster-secret nats-publisher-password
  leader of acme's partition ($ACME_STREAM) at start: $LEADER

Try it, in another terminal, from $(quote "$ROOT"):
  1. mint a token for alice of org acme (signed with the cluster's secret):
       TOKEN=\$($B token --org acme --sub alice --data-dir $D)
  2. subscribe on node 1, e.g. with websocat:
       websocat "ws://127.0.0.1:8081/v2/realtime/stream?access_token=\$TOKEN"
  3. publish on node 2; the event reaches the subscriber on node 1:
       $B publish --url http://127.0.0.1:8082 --org acme --topic demo --data '{"hello":"from n2"}' --data-dir $D
     or with curl:
       PUB=\$($B token --org acme --sub backend --publish --data-dir $D)
       curl -X POST http://127.0.0.1:8082/v2/realtime/orgs/acme/events -H "Authorization: Bearer \$PUB" \\
         -H 'Content-Type: application/json' -d '{"topic":"demo","data":{"hello":"from n2"}}'
  4. publish over NATS, as a backend would, with the publisher's credentials
     (user "publisher", one password for the three nodes; it may only send
     requests on orgstream.publish.<org>), e.g. with the nats CLI
     (go install github.com/nats-io/natscli/nats@v0.5.0):
       CREDS=\$($B nats-creds --data-dir $D)    # publisher:PASSWORD, from $D/nats-publisher-password
       NATS_USER=\${CREDS%%:*} NATS_PASSWORD=\${CREDS#*:} nats --server nats://127.0.0.1:4233 \\
         req orgstream.publish.acme '{"topic":"demo","data":{"hello":"over NATS"}}'
     (the same as --user publisher --password PASSWORD, kept off the command
     line); from Go: nats.Connect(url, nats.UserInfo("publisher", password)).
  5. failover: kill a node, e.g. the leader of acme's partition: kill -9 \$(cat $D/$VICTIM.pid)
     Its clients reconnect to another node and resume with last_seq; publishes
     go on through the others (503 for a few seconds to the orgs of the partitions it led, while
     Raft elects a new leader; retry with the same "id").
     Bring stopped nodes back (they rejoin and catch up): kill -USR1 $$

Ctrl-C stops the cluster.
EOF

# --- run until a signal --------------------------------------------------

restart_down() {
	local i
	for i in 0 1 2; do
		if ! alive "$i"; then
			[ -n "${PIDS[$i]}" ] && reap "$i"
			if listening "${HTTP_PORTS[$i]}"; then
				err "port ${HTTP_PORTS[$i]} is taken; not restarting ${NAMES[$i]}"
				continue
			fi
			start_node "$i"
			say "restarted ${NAMES[$i]} (pid ${PIDS[$i]}); it rejoins the cluster"
		fi
	done
}
RESTART=0
trap 'RESTART=1' USR1

while :; do
	sleep 1 &
	SLEEPER=$!
	wait "$SLEEPER" 2>/dev/null || true
	SLEEPER=""
	if [ "$RESTART" = 1 ]; then
		RESTART=0
		restart_down
	fi
	down=0
	for i in 0 1 2; do
		if ! alive "$i"; then
			if [ -n "${PIDS[$i]}" ]; then
				reap "$i"
				say "  (kill -USR1 $$ restarts it; Ctrl-C stops the others)"
			fi
			down=$((down + 1))
		fi
	done
	if [ "$down" = 3 ]; then
		err "every node is down"
		exit 1
	fi
done
