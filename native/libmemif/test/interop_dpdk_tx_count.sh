#!/bin/bash
# Interop (b): nmemif as master (server) receives DPDK testpmd's txonly traffic, testpmd being
# the slave (client). Run once on a filesystem socket and once on an abstract socket, once with
# two queue pairs, and once the other way round (nmemif slave, testpmd server), which exercises
# our slave receive and refill path.
#
# What is asserted, and why it is honest:
#  - we received more than 0 packets, all of them 64 bytes (testpmd's default txonly frame);
#  - our count equals testpmd's TX-packets exactly. testpmd's memif client TX counter has a
#    reputation for being unreliable, but measured testpmd<->testpmd on this DPDK (22.11) it
#    equals the receiving server's RX-packets exactly, run after run, provided that the counters
#    are read with "stop" while both ends are still connected: the memif PMD clears its queue
#    counters when the link drops, so a summary printed after a disconnect reads 0, which is
#    where bad numbers come from. TX-packets counts what the PMD put on the ring; packets the
#    ring had no room for are counted apart, as TX-dropped, and never reach the ring. So the
#    sequence here is: testpmd "stop" (prints counters, link still up), a pause in which we drain
#    the ring, then "quit" (closes the link); we stop receiving only at that disconnect.
#
# usage: bash interop_dpdk_tx_count.sh <path-to-nmif-perf>   (exit 77 = skipped)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.bash" || exit 1
ilib_init dpdk-tx-count "${1:-}"

SEND_SECONDS=2

# tx_count KIND QUEUES [OUR_ROLE]
tx_count() {
  local kind=$1 queues=$2 role=${3:-master}
  local tp="tp-$kind-q$queues-$role" perf="recv-$kind-q$queues-$role"
  ilib_log "=== $kind socket, $queues queue(s): testpmd (txonly) sends to nmemif $role for ${SEND_SECONDS}s"
  sock_spec "$kind"
  local perf_args=(--role "$role" --socket "$PSOCK" --mode recv --queues "$queues" --bsize 2048
    --rsize 10 --burst 64 --timeout 30 --json)
  if [[ $role == master ]]; then
    perf_start "$perf" "${perf_args[@]}"
    wait_listen "$PSOCK" 20
    # A DPDK client connects once, when its port starts (at testpmd start-up).
    tp_start "$tp" client "$DARGS" txonly --rxq="$queues" --txq="$queues"
  else
    tp_start "$tp" server "$DARGS" txonly --rxq="$queues" --txq="$queues"
    wait_listen "$PSOCK" 20
    perf_start "$perf" "${perf_args[@]}"
  fi
  tp_start_after_link "$tp" "$perf"
  sleep "$SEND_SECONDS"
  tp_stop "$tp"
  sleep 1
  tp_quit "$tp"
  local perf_rc=0
  perf_wait "$perf" 20 || perf_rc=$?

  local tx rx
  tx=$(tp_stat "$tp" TX-packets)
  rx=$(json_num "$perf" received)
  ilib_log "$kind/q$queues/$role: testpmd TX-packets=$tx TX-dropped=$(tp_stat "$tp" TX-dropped); nmemif received=$rx ($(json_num "$perf" pps) pps)"
  ilib_expect_eq "$kind/q$queues/$role: nmif-perf exit status" "$perf_rc" 0
  ilib_expect_eq "$kind/q$queues/$role: queues in use" "$(json_num "$perf" queues)" "$queues"
  ilib_expect_gt "$kind/q$queues/$role: nmemif received" "$rx" 0
  ilib_expect_eq "$kind/q$queues/$role: nmemif received == testpmd TX-packets" "$rx" "$tx"
  ilib_expect_eq "$kind/q$queues/$role: nmemif rx_bytes" "$(json_num "$perf" rx_bytes)" "$((rx * 64))"
  ilib_expect_eq "$kind/q$queues/$role: nmemif bad descriptors" "$(json_num "$perf" bad_desc)" 0
}

tx_count fs 1
tx_count abstract 1
tx_count abstract 2
tx_count abstract 1 slave

echo "PASS: nmemif received exactly what testpmd sent on both socket kinds and roles"
