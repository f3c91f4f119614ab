#!/bin/bash
# Interop (c): round trip through DPDK testpmd. nmif-perf sends numbered Ethernet/IPv4/UDP
# frames, testpmd forwards them back on the same port (io: unchanged; macswap: source and
# destination MAC swapped), and nmif-perf compares every byte of every returned frame with
# what it sent. Both roles, both socket kinds, both forward modes, 64 and 1500-byte frames,
# 9000-byte frames chained over 2048-byte buffers (both directions), two queue pairs once, and
# ping-pong in interrupt mode (one frame in flight; nmif-perf sleeps until testpmd's eventfd
# write wakes it, so every round trip proves an interrupt was delivered).
#
# nmif-perf keeps at most half a ring of buffers in flight per queue, so testpmd always finds room to send
# back: nothing may be lost, and every counter must be exact on both sides.
#
# usage: bash interop_dpdk_roundtrip.sh <path-to-nmif-perf>   (exit 77 = skipped)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.bash" || exit 1
ilib_init dpdk-roundtrip "${1:-}"

COUNT=200000
PINGPONG=2000

# roundtrip KIND OUR_ROLE FWD_MODE SIZE QUEUES [RX_MODE]
roundtrip() {
  local kind=$1 role=$2 fwd=$3 size=$4 queues=$5 rx_mode=${6:-poll}
  local name="$kind-$role-$fwd-$size-q$queues-$rx_mode"
  local tp="tp-$name" perf="rt-$name" tp_role extra=() count=$COUNT
  [[ $fwd == macswap ]] && extra+=(--expect-macswap)
  # Interrupt mode: ping-pong. A lost interrupt costs nmif-perf a 200 ms sleep (no time is
  # asserted: the machine may be busy); the interrupt count checked below shows they arrived.
  [[ $rx_mode == interrupt ]] && count=$PINGPONG && extra+=(--rx-mode interrupt --window 1)
  ilib_log "=== $kind socket, nmemif $role, testpmd $fwd, $size-byte frames, $queues queue(s), rx $rx_mode"
  sock_spec "$kind"
  local perf_args=(--role "$role" --socket "$PSOCK" --mode roundtrip --count "$count" --size "$size"
    --queues "$queues" --bsize 2048 --rsize 10 --burst 64 --timeout 20 --hold 40 --json "${extra[@]}")
  local tp_args=(--rxq="$queues" --txq="$queues")

  if [[ $role == slave ]]; then
    tp_role=server
    tp_start "$tp" "$tp_role" "$DARGS" "$fwd" "${tp_args[@]}"
    wait_listen "$PSOCK" 20
    perf_start "$perf" "${perf_args[@]}"
    # Forwarding starts only once the link is up (see tp_start_after_link in interop_lib.bash).
    tp_start_after_link "$tp" "$perf"
  else
    tp_role=client
    perf_start "$perf" "${perf_args[@]}"
    wait_listen "$PSOCK" 20
    tp_start "$tp" "$tp_role" "$DARGS" "$fwd" "${tp_args[@]}"
    tp_start_after_link "$tp" "$perf"
  fi
  # "done" = every frame came back (or nmif-perf gave up after --timeout without progress, then
  # the checks below fail); the bound only matters if nmif-perf itself hangs.
  wait_log "$(perf_err "$perf")" '^nmif-perf: (done|no progress)' 600 "${ILIB_PERF_PID[$perf]}"
  tp_stop "$tp"
  tp_quit "$tp"
  local perf_rc=0
  perf_wait "$perf" 20 || perf_rc=$?

  ilib_log "$name: $(json_num "$perf" pps) round trips/s; testpmd RX=$(tp_stat "$tp" RX-packets) TX=$(tp_stat "$tp" TX-packets) TX-dropped=$(tp_stat "$tp" TX-dropped)"
  ilib_expect_eq "$name: nmif-perf exit status" "$perf_rc" 0
  ilib_expect_eq "$name: sent" "$(json_num "$perf" sent)" "$count"
  ilib_expect_eq "$name: received" "$(json_num "$perf" received)" "$count"
  ilib_expect_eq "$name: matched byte for byte" "$(json_num "$perf" matched)" "$count"
  ilib_expect_eq "$name: mismatched" "$(json_num "$perf" mismatched)" 0
  ilib_expect_eq "$name: duplicates" "$(json_num "$perf" duplicates)" 0
  ilib_expect_eq "$name: out of order" "$(json_num "$perf" out_of_order)" 0
  ilib_expect_eq "$name: testpmd RX-packets" "$(tp_stat "$tp" RX-packets)" "$count"
  ilib_expect_eq "$name: testpmd TX-packets" "$(tp_stat "$tp" TX-packets)" "$count"
  ilib_expect_eq "$name: testpmd TX-dropped" "$(tp_stat "$tp" TX-dropped)" 0
  if [[ $rx_mode == interrupt ]]; then
    # DPDK masks interrupts on its own rx rings, so only it signals; one eventfd write per
    # returned frame is expected (a few may coalesce).
    ilib_expect_gt "$name: interrupts received" "$(json_num "$perf" irq_received)" $((count / 2))
    ilib_expect_eq "$name: interrupts sent" "$(json_num "$perf" irq_sent)" 0
  fi
}

roundtrip fs slave macswap 64 1
roundtrip abstract slave io 1500 1
roundtrip fs master io 64 1
roundtrip abstract master macswap 1500 1
roundtrip abstract slave io 64 2
roundtrip fs master io 9000 1
roundtrip abstract slave macswap 9000 1
roundtrip fs slave io 64 1 interrupt
roundtrip abstract master macswap 64 1 interrupt

echo "PASS: every frame came back from testpmd byte for byte, both roles and socket kinds"
