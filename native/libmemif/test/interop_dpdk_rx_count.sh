#!/bin/bash
# Interop (a): nmemif as slave (client) sends exactly 1,000,000 64-byte frames to DPDK testpmd
# as server (master) in rxonly mode; testpmd must count exactly 1,000,000 received packets.
# Run once on a filesystem socket and once on an abstract socket.
#
# usage: bash interop_dpdk_rx_count.sh <path-to-nmif-perf>   (exit 77 = skipped)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.bash"
ilib_init dpdk-rx-count "${1:-}"

COUNT=1000000

for kind in fs abstract; do
  ilib_log "=== $kind socket: nmemif slave sends $COUNT frames to testpmd server (rxonly)"
  sock_spec "$kind"
  tp="srv-$kind"
  tp_start "$tp" server "$DARGS" rxonly
  wait_listen "$PSOCK" 20

  # --hold: after the last frame has been taken, stay connected until testpmd goes away, so
  # that testpmd stops forwarding (and prints its counters) before the link drops.
  perf_start "send-$kind" --role slave --socket "$PSOCK" --mode send --count "$COUNT" --size 64 \
    --bsize 2048 --rsize 10 --burst 64 --timeout 20 --hold 40 --json
  # Until testpmd forwards, the first ring-full of frames waits in the ring (--no-flush-rx).
  tp_start_after_link "$tp" "send-$kind"
  wait_log "$(perf_err "send-$kind")" '^nmif-perf: done' 60 "${ILIB_PERF_PID[send-$kind]}"
  tp_stop "$tp"
  tp_quit "$tp"
  perf_rc=0
  perf_wait "send-$kind" 20 || perf_rc=$?

  ilib_expect_eq "$kind: nmif-perf exit status" "$perf_rc" 0
  ilib_expect_eq "$kind: nmif-perf sent" "$(json_num "send-$kind" sent)" "$COUNT"
  ilib_expect_eq "$kind: nmif-perf untaken" "$(json_num "send-$kind" untaken)" 0
  ilib_expect_eq "$kind: testpmd RX-packets" "$(tp_stat "$tp" RX-packets)" "$COUNT"
  ilib_expect_eq "$kind: testpmd RX-dropped" "$(tp_stat "$tp" RX-dropped)" 0
  ilib_log "$kind: $(json_num "send-$kind" pps) pps"
done

echo "PASS: testpmd received exactly $COUNT frames from nmemif on both socket kinds"
