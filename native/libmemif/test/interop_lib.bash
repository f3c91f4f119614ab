# Shared helpers for the DPDK interop tests (interop_*.sh). Sourced, never run.
# The C library's tests run from ctest without Node, so they keep this bash launcher of testpmd;
# the TypeScript tests and every benchmark use the one in test/helpers/testpmd.ts.
#
# Each test: `ilib_init <name> "$1"` (skips with 77 without dpdk-testpmd), then starts testpmd
# with tp_start and nmif-perf with perf_start, drives testpmd through its command line
# (tp_cmd / tp_stop) and checks counters (tp_stat, json_num). The EXIT trap ends only the
# processes these helpers started, by pid, and removes the temp dir, sockets and DPDK runtime
# dirs they created.
#
# testpmd facts these helpers rely on (DPDK 22.11, measured on 2 vCPUs without hugepages):
#  - it runs with --no-huge -m 1024 --no-pci and --total-num-mbufs=16384, and needs two lcores;
#  - interactive mode (-i) reads commands from a fifo; "stop" prints the forward statistics and
#    keeps the port up, "quit" then closes the port, which disconnects the memif peer;
#  - a testpmd whose memif peer disconnects while it is still forwarding may segfault (its data
#    path touches the unmapped region), so testpmd always stops forwarding first and nmif-perf
#    waits (--hold) for testpmd to go away;
#  - a DPDK memif client connects once, at port start: the server must already listen.
#  - forwarding is started only once the memif link is up (tp_start_after_link: a DPDK race);
#  - "start" first flushes the rx queues (it receives and frees whatever is waiting) unless
#    --no-flush-rx is given: frames a peer sent before "start" would be lost and counted oddly;
#  - --no-lsc-interrupt and --disable-link-check: do not wait for (or react to) link state.

ILIB_DIR=""
ILIB_NAME=""
ILIB_PIDS=()          # every background process we started (timeout wrappers)
ILIB_PREFIXES=()      # DPDK --file-prefix values we used
ILIB_SOCKETS=()       # filesystem sockets we may have created
declare -A ILIB_TP_FD ILIB_TP_PID ILIB_TP_LOG ILIB_PERF_PID
ILIB_TP_TIMEOUT=${ILIB_TP_TIMEOUT:-90}     # hard limit for one testpmd run
ILIB_PERF_TIMEOUT=${ILIB_PERF_TIMEOUT:-90} # hard limit for one nmif-perf run
PERF=""

ilib_log() { echo "[$(date +%T)] $*"; }

# ilib_init NAME PERF_BINARY
ilib_init() {
  ILIB_NAME=$1
  PERF=$2
  if ! command -v dpdk-testpmd >/dev/null 2>&1; then
    echo "SKIP: dpdk-testpmd is not installed (Debian: apt-get install dpdk-dev)"
    exit 77
  fi
  if [[ -z $PERF || ! -x $PERF ]]; then
    echo "FAIL: nmif-perf binary not given or not executable: '$PERF'" >&2
    exit 1
  fi
  ILIB_DIR=$(mktemp -d "/tmp/nmif-interop-$ILIB_NAME.XXXXXX")
  trap ilib_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

ilib_cleanup() {
  local rc=$?
  local pid fd
  for fd in "${ILIB_TP_FD[@]}"; do
    exec {fd}>&- 2>/dev/null || true
  done
  for pid in "${ILIB_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${ILIB_PIDS[@]}"; do
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      # The wrapper (timeout) did not end: kill its own children, then it.
      pkill -KILL -P "$pid" 2>/dev/null
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
  done
  local p s
  # EAL's runtime dir: /var/run/dpdk for root, else $XDG_RUNTIME_DIR/dpdk (or /tmp/dpdk).
  local rundir=/var/run/dpdk
  [[ $EUID -ne 0 ]] && rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
  for p in "${ILIB_PREFIXES[@]}"; do
    [[ -n $p ]] && rm -rf "${rundir:?}/$p"
  done
  for s in "${ILIB_SOCKETS[@]}"; do
    [[ -S $s ]] && rm -f "$s"
  done
  if [[ $rc -ne 0 && $rc -ne 77 && -n $ILIB_DIR ]]; then
    ilib_dump_logs
  fi
  [[ -n $ILIB_DIR ]] && rm -rf "$ILIB_DIR"
  exit "$rc"
}

ilib_dump_logs() {
  local f
  for f in "$ILIB_DIR"/*.log "$ILIB_DIR"/*.err "$ILIB_DIR"/*.out; do
    [[ -f $f ]] || continue
    echo "----- $(basename "$f") (last 40 lines) -----"
    tail -n 40 "$f"
  done
}

ilib_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# ilib_expect_eq WHAT ACTUAL EXPECTED
ilib_expect_eq() {
  if [[ "$2" != "$3" ]]; then
    ilib_fail "$1: got '$2', expected '$3'"
  fi
  ilib_log "ok: $1 = $2"
}

# ilib_expect_gt WHAT ACTUAL MIN
ilib_expect_gt() {
  if ! [[ "$2" =~ ^[0-9]+$ ]] || (( $2 <= $3 )); then
    ilib_fail "$1: got '$2', expected more than $3"
  fi
  ilib_log "ok: $1 = $2 (> $3)"
}

# sock_spec KIND: makes a fresh socket name of KIND fs|abstract and sets PSOCK (what
# nmif-perf takes: a path, or "@name" for an abstract socket) and DARGS (the net_memif devargs:
# the path with socket-abstract=no, or the bare name with socket-abstract=yes, DPDK's default).
ILIB_SOCK_SEQ=0
PSOCK=""
DARGS=""
sock_spec() {
  ILIB_SOCK_SEQ=$((ILIB_SOCK_SEQ + 1))
  local tag="nmif-$ILIB_NAME-$$-$ILIB_SOCK_SEQ"
  case $1 in
  fs)
    PSOCK="$ILIB_DIR/$tag.sock"
    DARGS="socket=$PSOCK,socket-abstract=no"
    ILIB_SOCKETS+=("$PSOCK")
    ;;
  abstract)
    PSOCK="@$tag"
    DARGS="socket=$tag,socket-abstract=yes"
    ;;
  *) ilib_fail "sock_spec: unknown kind $1" ;;
  esac
}

# wait_listen PERF_SOCKET TIMEOUT_S: waits until someone listens on the socket.
wait_listen() {
  local want=$1 t=$2 i
  for ((i = 0; i < t * 10; i++)); do
    if awk -v w="$want" 'NR > 1 && $NF == w { found = 1 } END { exit !found }' /proc/net/unix; then
      return 0
    fi
    sleep 0.1
  done
  ilib_fail "nobody listens on $want after ${t}s"
}

# wait_log FILE REGEX TIMEOUT_S [PID]: waits for a line; fails early if PID exits first.
wait_log() {
  local file=$1 re=$2 t=$3 pid=${4:-} i
  for ((i = 0; i < t * 10; i++)); do
    grep -qE "$re" "$file" 2>/dev/null && return 0
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      grep -qE "$re" "$file" 2>/dev/null && return 0
      ilib_fail "process $pid ended before '$re' appeared in $(basename "$file")"
    fi
    sleep 0.1
  done
  ilib_fail "'$re' did not appear in $(basename "$file") within ${t}s"
}

# tp_start NAME ROLE DEVARGS FWD_MODE [testpmd app args...]
# Starts dpdk-testpmd in interactive mode with one net_memif port; commands go through tp_cmd.
# TP_EAL_EXTRA adds EAL arguments (e.g. "--single-file-segments --no-shconf" for zero-copy).
tp_start() {
  local name=$1 role=$2 devargs=$3 fwd=$4
  shift 4
  local prefix="nmif-$ILIB_NAME-$$-$name"
  local fifo="$ILIB_DIR/$name.in" log="$ILIB_DIR/$name.log"
  # The forwarding lcore is the one that is not the main lcore; keep it off CPU 0 where
  # nmif-perf runs (see perf_start). TP_MAIN_LCORE=1 flips it (two testpmds side by side).
  local main_lcore=${TP_MAIN_LCORE:-0}
  rm -f "$fifo"
  mkfifo "$fifo"
  ILIB_PREFIXES+=("$prefix")
  local eal_extra=()
  read -r -a eal_extra <<<"${TP_EAL_EXTRA:-}"
  local cmd=(dpdk-testpmd -l 0,1 --main-lcore "$main_lcore" --no-huge -m 1024 --no-pci
    --file-prefix="$prefix" --log-level=pmd.net.memif:info "${eal_extra[@]}"
    "--vdev=net_memif0,role=$role,id=0,bsize=2048,rsize=10,$devargs"
    -- -i --no-lsc-interrupt --disable-link-check --no-flush-rx --total-num-mbufs=16384 --forward-mode="$fwd" "$@")
  echo "${cmd[*]}" >"$ILIB_DIR/$name.cmd"
  ilib_log "testpmd $name: ${cmd[*]}"
  timeout -k 5 "$ILIB_TP_TIMEOUT" stdbuf -oL -eL "${cmd[@]}" <"$fifo" >"$log" 2>&1 &
  local pid=$!
  ILIB_PIDS+=("$pid")
  ILIB_TP_PID[$name]=$pid
  ILIB_TP_LOG[$name]=$log
  local fd
  exec {fd}>"$fifo"
  ILIB_TP_FD[$name]=$fd
  wait_log "$log" 'testpmd> ' 30 "$pid"
}

# tp_start_after_link TP PERF: waits until nmif-perf PERF reports the link up, then starts
# forwarding on testpmd TP. A testpmd server must not be forwarding while a client connects:
# DPDK 22.11's memif data path reads a queue's ring address (region base + ring offset) before
# it checks the "connected" flag, so during the handshake it can pair a not-yet-mapped region
# (base NULL) with the flag set a moment later, and dereference NULL + offset. Queue 0's ring
# sits at offset 0 and is caught by a NULL check; queue 1 and up crash testpmd (SIGSEGV in
# librte_net_memif on the forwarding lcore, measured: about 1 run in 10 to 50 with 2 queues).
tp_start_after_link() {
  wait_log "$(perf_err "$2")" '^nmif-perf: connected' 20 "${ILIB_PERF_PID[$2]}"
  tp_cmd "$1" start
}

# tp_cmd NAME COMMAND: sends one command line to testpmd NAME.
tp_cmd() {
  local fd=${ILIB_TP_FD[$1]}
  echo "$2" >&"$fd"
}

# tp_stop NAME: stops forwarding; testpmd prints its statistics and keeps the port up.
# Statistics must be taken this way, before the peer disconnects: the memif PMD clears its
# counters on disconnect, and a peer that goes away under a forwarding testpmd can crash it.
tp_stop() {
  local name=$1 log=${ILIB_TP_LOG[$1]} n_before i
  n_before=$(grep -c 'Accumulated forward statistics' "$log")
  tp_cmd "$name" stop
  for ((i = 0; i < 100; i++)); do
    if (( $(grep -c 'Accumulated forward statistics' "$log") > n_before )) && grep -q '^Done\.' "$log"; then
      return 0
    fi
    sleep 0.1
  done
  ilib_fail "testpmd $name printed no statistics after 'stop'"
}

# tp_quit NAME: quits testpmd (closing the port disconnects the memif peer) and waits for it.
# A segfault after "Bye..." is a known DPDK 22.11 exit problem and is tolerated; one before
# that is not.
tp_quit() {
  local name=$1 log=${ILIB_TP_LOG[$1]} pid=${ILIB_TP_PID[$1]} i rc=0
  tp_cmd "$name" quit
  local fd=${ILIB_TP_FD[$name]}
  exec {fd}>&-
  unset "ILIB_TP_FD[$name]"
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  wait "$pid" || rc=$?
  if [[ $rc -ne 0 ]]; then
    if grep -q '^Bye\.\.\.' "$log"; then
      ilib_log "testpmd $name exited with $rc after 'Bye...' (known DPDK exit crash, ignored)"
    else
      ilib_fail "testpmd $name exited with $rc before 'Bye...'"
    fi
  fi
}

# tp_stat NAME FIELD: a counter from the last "Accumulated forward statistics" block, e.g.
# RX-packets, RX-dropped, TX-packets, TX-dropped.
tp_stat() {
  awk -v f="$2:" '
    /Accumulated forward statistics/ { inblk = 1; next }
    inblk && /\+\+\+\+\+\+\+\+\+\+\+\+/ { inblk = 0 }
    inblk { for (i = 1; i < NF; i++) if ($i == f) v = $(i + 1) }
    END { print v }' "${ILIB_TP_LOG[$1]}"
}

# perf_start NAME nmif-perf-args...: runs nmif-perf in the background, pinned to CPU 0 so it
# does not fight testpmd's forwarding lcore (CPU 1) on a 2-vCPU machine.
perf_start() {
  local name=$1
  shift
  local pin=()
  command -v taskset >/dev/null 2>&1 && pin=(taskset -c 0)
  echo "$PERF $*" >"$ILIB_DIR/$name.cmd"
  ilib_log "nmif-perf $name: $PERF $*"
  timeout -k 5 "$ILIB_PERF_TIMEOUT" "${pin[@]}" "$PERF" "$@" >"$ILIB_DIR/$name.out" 2>"$ILIB_DIR/$name.err" &
  local pid=$!
  ILIB_PIDS+=("$pid")
  ILIB_PERF_PID[$name]=$pid
}

# perf_wait NAME TIMEOUT_S: waits for nmif-perf NAME and returns its exit status.
perf_wait() {
  local pid=${ILIB_PERF_PID[$1]} t=$2 i rc=0
  for ((i = 0; i < t * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    ilib_fail "nmif-perf $1 still running after ${t}s"
  fi
  wait "$pid" || rc=$?
  ilib_log "nmif-perf $1 exited with $rc: $(cat "$ILIB_DIR/$1.out")"
  return "$rc"
}

perf_err() { echo "$ILIB_DIR/$1.err"; }

# json_num NAME KEY: a numeric field of nmif-perf NAME's --json result.
json_num() {
  grep -o "\"$2\":[0-9.]*" "$ILIB_DIR/$1.out" | head -n 1 | cut -d: -f2
}
