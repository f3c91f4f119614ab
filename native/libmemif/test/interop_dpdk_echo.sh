#!/bin/bash
# Interop: DPDK testpmd in the middle of two nmemif interfaces. testpmd has two net_memif ports
# and forwards port 0 <-> port 1 (io mode); nmif-perf in roundtrip mode sits on port 0 and
# nmif-perf in echo mode on port 1, so every frame goes
#   roundtrip -> testpmd -> echo -> testpmd -> roundtrip
# and comes back compared byte for byte. This drives our echo path through a foreign peer:
#  1. both nmemif ends slave, echo in zero-copy mode (nmif_tx_swap: received buffers are sent
#     back without a copy, their descriptors swapped into the tx ring);
#  2. both nmemif ends master, echo copying and swapping MACs (so the round trip expects them
#     swapped).
#
# usage: bash interop_dpdk_echo.sh <path-to-nmif-perf>   (exit 77 = skipped)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.bash" || exit 1
ilib_init dpdk-echo "${1:-}"

COUNT=50000  # two busy-polling nmif-perf share CPU 0 here: keep it short

# through_testpmd OUR_ROLE RT_KIND ECHO_KIND ECHO_ARGS... (roundtrip args after --)
through_testpmd() {
  local role=$1 rt_kind=$2 echo_kind=$3
  shift 3
  local echo_args=() rt_args=()
  while [[ $# -gt 0 && $1 != -- ]]; do echo_args+=("$1"); shift; done
  [[ $# -gt 0 ]] && shift
  rt_args=("$@")
  local name="$role-$rt_kind-$echo_kind" tp_role
  local tp="tp-$name" rt="rt-$name" echo="echo-$name"
  [[ $role == slave ]] && tp_role=server || tp_role=client
  ilib_log "=== nmemif $role on both ends (roundtrip: $rt_kind socket, echo ${echo_args[*]}: $echo_kind socket), testpmd $tp_role io"
  sock_spec "$rt_kind"
  local rt_sock=$PSOCK rt_dargs=$DARGS
  sock_spec "$echo_kind"
  local echo_sock=$PSOCK echo_dargs=$DARGS
  local port1="--vdev=net_memif1,role=$tp_role,id=0,bsize=2048,rsize=10,$echo_dargs"

  # The echo stops after COUNT packets and then holds the link until testpmd goes away.
  local common=(--role "$role" --bsize 2048 --rsize 10 --timeout 20 --hold 40 --json)
  if [[ $role == master ]]; then
    perf_start "$echo" "${common[@]}" --socket "$echo_sock" --mode echo --count "$COUNT" "${echo_args[@]}"
    perf_start "$rt" "${common[@]}" --socket "$rt_sock" --mode roundtrip --count "$COUNT" "${rt_args[@]}"
    wait_listen "$echo_sock" 20
    wait_listen "$rt_sock" 20
    TP_EAL_EXTRA="$port1" tp_start "$tp" "$tp_role" "$rt_dargs" io
  else
    TP_EAL_EXTRA="$port1" tp_start "$tp" "$tp_role" "$rt_dargs" io
    wait_listen "$echo_sock" 20
    wait_listen "$rt_sock" 20
    perf_start "$echo" "${common[@]}" --socket "$echo_sock" --mode echo --count "$COUNT" "${echo_args[@]}"
    perf_start "$rt" "${common[@]}" --socket "$rt_sock" --mode roundtrip --count "$COUNT" "${rt_args[@]}"
  fi
  wait_log "$(perf_err "$echo")" '^nmif-perf: connected' 60 "${ILIB_PERF_PID[$echo]}"
  tp_start_after_link "$tp" "$rt"
  wait_log "$(perf_err "$rt")" '^nmif-perf: (done|no progress)' 600 "${ILIB_PERF_PID[$rt]}"
  tp_stop "$tp"
  tp_quit "$tp"
  local rt_rc=0 echo_rc=0
  perf_wait "$rt" 20 || rt_rc=$?
  perf_wait "$echo" 20 || echo_rc=$?

  ilib_log "$name: $(json_num "$rt" pps) round trips/s"
  ilib_expect_eq "$name: roundtrip exit status" "$rt_rc" 0
  ilib_expect_eq "$name: echo exit status" "$echo_rc" 0
  ilib_expect_eq "$name: matched byte for byte" "$(json_num "$rt" matched)" "$COUNT"
  ilib_expect_eq "$name: mismatched" "$(json_num "$rt" mismatched)" 0
  ilib_expect_eq "$name: echo received" "$(json_num "$echo" received)" "$COUNT"
  ilib_expect_eq "$name: echo sent" "$(json_num "$echo" sent)" "$COUNT"
  # testpmd's accumulated counters cover both ports: each frame crosses it twice.
  ilib_expect_eq "$name: testpmd RX-packets (both ports)" "$(tp_stat "$tp" RX-packets)" $((2 * COUNT))
  ilib_expect_eq "$name: testpmd TX-packets (both ports)" "$(tp_stat "$tp" TX-packets)" $((2 * COUNT))
}

through_testpmd slave abstract fs --zero-copy
through_testpmd master fs abstract --macswap -- --expect-macswap

echo "PASS: frames went through testpmd to our echo and back, byte for byte, both roles"
