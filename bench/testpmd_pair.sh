#!/usr/bin/env bash
# testpmd_pair.sh: the DPDK competitor of memif_pair. One run, one frame size.
#
# A testpmd in --forward-mode=rxonly is the net_memif server (master) and a second testpmd in
# --forward-mode=txonly --txpkts=SIZE is the client (slave), over a filesystem socket. Each
# testpmd gets lcores {rx-core, tx-core} and its forwarding lcore alone on one core: the server
# forwards on --rx-core (its main lcore, which only waits on stdin, sits on --tx-core), the
# client forwards on --tx-core. Same cores, roles, ring (1024 slots) and buffer size (2048) as
# memif_pair.
#
# pps is measured on the rxonly side from testpmd's telemetry socket: once packets flow,
# wait --warmup seconds, read /ethdev/stats,0 of both testpmds, wait --seconds, read again;
# rx_pps = delta ipackets (server) / delta time between the two reads (CLOCK_MONOTONIC
# midpoints of each request/response). tx_pps is the client's delta opackets over its own two
# reads (txonly also builds frames that do not fit the ring; it frees them, they are not sent).
# testpmd's exit summary is not used for the figure (the server's counters reset when the link
# drops); the client's totals (frames sent, frames built that found the ring full) are reported.
#
# Prints one JSON line on stdout (exit 0), progress on stderr. Exit 77 if testpmd or python3
# (the telemetry client) is missing, 1 on failure. Ends only the processes it started, by pid,
# and removes its temp dir and /var/run/dpdk/<prefix> dirs.
set -u

usage() {
  cat <<EOF
usage: bench/testpmd_pair.sh --size N [options]
  --size N        frame bytes for --txpkts (64..2048)
  --warmup S      seconds of traffic before the first sample (default 1)
  --seconds S     seconds between the two samples (default 3)
  --burst N       testpmd --burst on both sides (default: testpmd's own, 32)
  --tx-core N     core of the txonly forwarding lcore (default 0)
  --rx-core N     core of the rxonly forwarding lcore (default 1)
  --keep-logs     print the testpmd logs to stderr at the end
  --help          this text
EOF
}

SIZE="" WARMUP=1 SECONDS_=3 BURST="" TX_CORE=0 RX_CORE=1 KEEP_LOGS=0
while [[ $# -gt 0 ]]; do
  case $1 in
  --size) SIZE=$2; shift 2 ;;
  --warmup) WARMUP=$2; shift 2 ;;
  --seconds) SECONDS_=$2; shift 2 ;;
  --burst) BURST=$2; shift 2 ;;
  --tx-core) TX_CORE=$2; shift 2 ;;
  --rx-core) RX_CORE=$2; shift 2 ;;
  --keep-logs) KEEP_LOGS=1; shift ;;
  --help|-h) usage; exit 0 ;;
  *) echo "testpmd_pair: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
num_re='^[0-9]+([.][0-9]+)?$'
if ! [[ $SIZE =~ ^[0-9]+$ ]] || ((SIZE < 64 || SIZE > 2048)); then
  echo "testpmd_pair: --size wants 64..2048, got '$SIZE'" >&2; usage >&2; exit 2
fi
for v in "$WARMUP" "$SECONDS_"; do
  [[ $v =~ $num_re ]] || { echo "testpmd_pair: bad duration '$v'" >&2; exit 2; }
done
if [[ -n $BURST ]] && ! [[ $BURST =~ ^[0-9]+$ && $BURST -ge 1 && $BURST -le 512 ]]; then
  echo "testpmd_pair: --burst wants 1..512, got '$BURST'" >&2; exit 2
fi
if ! [[ $TX_CORE =~ ^[0-9]+$ && $RX_CORE =~ ^[0-9]+$ ]] || ((TX_CORE == RX_CORE)); then
  echo "testpmd_pair: --tx-core and --rx-core must be two different core numbers" >&2; exit 2
fi

for tool in dpdk-testpmd python3 timeout; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "testpmd_pair: SKIP: $tool is not installed" >&2
    exit 77
  fi
done

log() { echo "testpmd_pair: [$(date +%T.%N | cut -c1-12)] $*" >&2; }

DIR=$(mktemp -d /tmp/testpmd-pair.XXXXXX)
TAG="tpp-$$-$RANDOM"
SRV_PREFIX="$TAG-srv" CLI_PREFIX="$TAG-cli"
SOCK="$DIR/memif.sock"
SRV_PID="" CLI_PID="" SRV_FD="" CLI_FD=""
# A hard limit per testpmd: start-up, link, warm-up, window, and a margin to stop.
LIMIT=$(awk -v w="$WARMUP" -v s="$SECONDS_" 'BEGIN { printf "%d", w + s + 40 }')

stop_pid() { # stop_pid PID: waits up to 10 s, then TERM, then KILL; only our own pid
  local pid=$1 i
  [[ -n $pid ]] || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() {
  local rc=$?
  [[ -n $SRV_FD ]] && exec {SRV_FD}>&- 2>/dev/null
  [[ -n $CLI_FD ]] && exec {CLI_FD}>&- 2>/dev/null
  stop_pid "$SRV_PID"
  stop_pid "$CLI_PID"
  if ((KEEP_LOGS)) || { ((rc != 0)) && ((rc != 77)); }; then
    local f
    for f in "$DIR"/srv.log "$DIR"/cli.log; do
      [[ -f $f ]] && { echo "----- $(basename "$f") (last 30 lines) -----"; tail -n 30 "$f"; } >&2
    done
  fi
  rm -rf "/var/run/dpdk/$SRV_PREFIX" "/var/run/dpdk/$CLI_PREFIX" "$DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { log "FAIL: $*"; exit 1; }

# start_testpmd NAME MAIN_LCORE PREFIX VDEV_ARGS TESTPMD_ARGS...: stdin is a fifo we hold open;
# closing it makes testpmd stop forwarding, print its summary and exit.
start_testpmd() {
  local name=$1 main=$2 prefix=$3 vdev=$4
  shift 4
  mkfifo "$DIR/$name.in"
  timeout -k 5 "$LIMIT" stdbuf -oL -eL dpdk-testpmd -l "$RX_CORE,$TX_CORE" --main-lcore "$main" --no-huge \
    -m 1024 --no-pci --file-prefix="$prefix" --vdev="$vdev" -- \
    --no-lsc-interrupt --total-num-mbufs=16384 ${BURST:+--burst=$BURST} "$@" \
    <"$DIR/$name.in" >"$DIR/$name.log" 2>&1 &
  local pid=$! fd
  exec {fd}>"$DIR/$name.in"
  if [[ $name == srv ]]; then SRV_PID=$pid SRV_FD=$fd; else CLI_PID=$pid CLI_FD=$fd; fi
}

wait_for() { # wait_for SECONDS PID CMD...: until CMD succeeds; fails if PID exits first
  local t=$1 pid=$2 i
  shift 2
  for ((i = 0; i < t * 10; i++)); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
listening() { awk -v w="$SOCK" 'NR > 1 && $NF == w { f = 1 } END { exit !f }' /proc/net/unix; }

MEMIF="bsize=2048,rsize=10,socket=$SOCK,socket-abstract=no"
# Server first (a DPDK client connects once, at port start). Main lcore on the tx core, so
# the rxonly lcore is alone on the rx core.
start_testpmd srv "$TX_CORE" "$SRV_PREFIX" "net_memif0,role=server,id=0,$MEMIF" \
  --forward-mode=rxonly
log "server started (pid $SRV_PID)"
wait_for 20 "$SRV_PID" listening || fail "the rxonly server does not listen on $SOCK"
start_testpmd cli "$RX_CORE" "$CLI_PREFIX" "net_memif0,role=client,id=0,$MEMIF" \
  --forward-mode=txonly --txpkts="$SIZE"
log "server listens; client started (pid $CLI_PID)"
SRV_TEL="/var/run/dpdk/$SRV_PREFIX/dpdk_telemetry.v2"
CLI_TEL="/var/run/dpdk/$CLI_PREFIX/dpdk_telemetry.v2"
wait_for 20 "$SRV_PID" test -S "$SRV_TEL" || fail "no telemetry socket $SRV_TEL"
wait_for 20 "$CLI_PID" test -S "$CLI_TEL" || fail "no telemetry socket $CLI_TEL"

log "telemetry sockets up; sampling"
# The telemetry client: SOCK_SEQPACKET, one JSON reply per request.
SAMPLE=$(python3 - "$SRV_TEL" "$CLI_TEL" "$WARMUP" "$SECONDS_" <<'PY'
import json, socket, sys, time

srv_path, cli_path, warmup, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])

def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    hello = json.loads(s.recv(4096))  # greeting: version, pid, max_output_len
    return s, hello.get("version", "DPDK")

def stats(s):
    t0 = time.monotonic()
    s.send(b"/ethdev/stats,0")
    reply = json.loads(s.recv(65536))
    t1 = time.monotonic()
    return (t0 + t1) / 2, reply["/ethdev/stats"]

(srv, version), (cli, _) = connect(srv_path), connect(cli_path)
deadline = time.monotonic() + 20
while True:  # link up and packets flowing
    t, st = stats(srv)
    if st["ipackets"] > 0:
        break
    if time.monotonic() > deadline:
        print(json.dumps({"error": "no packets reached the rxonly server in 20 s"}))
        sys.exit(1)
    time.sleep(0.05)
t_flow = t
time.sleep(warmup)
ts0, s0 = stats(srv)
tc0, c0 = stats(cli)
time.sleep(seconds)
ts1, s1 = stats(srv)
tc1, c1 = stats(cli)
rx, tx = s1["ipackets"] - s0["ipackets"], c1["opackets"] - c0["opackets"]
print(json.dumps({
    "impl": version + " testpmd",
    "rx_pps": round(rx / (ts1 - ts0)), "tx_pps": round(tx / (tc1 - tc0)),
    "rx_interval_s": round(ts1 - ts0, 6), "tx_interval_s": round(tc1 - tc0, 6),
    "rx_packets": rx, "tx_packets": tx,
    "rx_bytes": s1["ibytes"] - s0["ibytes"],
    "rx_errors": s1["ierrors"] - s0["ierrors"], "rx_nombuf": s1["rx_nombuf"] - s0["rx_nombuf"],
    "tx_errors": c1["oerrors"] - c0["oerrors"],
    "flow_to_first_sample_s": round(ts0 - t_flow, 3),
}))
PY
) || fail "telemetry sampling failed: $SAMPLE"

log "sampled; stopping"
# Client first: a txonly client whose server goes away while it forwards may crash; the
# server's counters reset when the link drops, so only the client's summary is read.
exec {CLI_FD}>&-; CLI_FD=""
stop_pid "$CLI_PID"; CLI_PID=""
exec {SRV_FD}>&-; SRV_FD=""
stop_pid "$SRV_PID"; SRV_PID=""
log "both stopped"
cli_total=$(awk '/Accumulated forward statistics/ { a = 1 } a && /TX-packets:/ { print $2; exit }' "$DIR/cli.log")
cli_drop=$(awk '/Accumulated forward statistics/ { a = 1 } a && /TX-dropped:/ { print $4; exit }' "$DIR/cli.log")
burst_used=${BURST:-$(awk '/packets\/burst=/ { sub(/.*burst=/, ""); print $1; exit }' "$DIR/srv.log")}

python3 - "$SAMPLE" "$SIZE" "${burst_used:-0}" "$WARMUP" "$SECONDS_" "$TX_CORE" "$RX_CORE" \
  "${cli_total:-0}" "${cli_drop:-0}" <<'PY'
import json, sys
a = sys.argv
s = json.loads(a[1])
out = {"bench": "testpmd_pair", "impl": s.pop("impl"), "size": int(a[2]), "burst": int(a[3]),
       "ring": 1024, "tx_fill": "txonly", "rx_work": "rxonly", "warmup_s": float(a[4]),
       "seconds": float(a[5]), "tx_core": int(a[6]), "rx_core": int(a[7])}
out.update(s)
out["rx_gbps"] = round(s["rx_bytes"] * 8 / s["rx_interval_s"] / 1e9, 3)
# txonly's exit summary: frames sent, and frames built that found no room in the ring.
out["exit_tx_packets"], out["exit_tx_dropped"] = map(int, a[8:10])
print(json.dumps(out, separators=(",", ":")))
PY
