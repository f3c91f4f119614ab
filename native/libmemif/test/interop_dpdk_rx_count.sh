#!/bin/bash
# Interop (a): nmemif as slave (client) sends exactly 1,000,000 64-byte frames to DPDK testpmd
# as server (master) in rxonly mode; testpmd must count exactly 1,000,000 received packets.
# Run once on a filesystem socket and once on an abstract socket; then once more the other way
# round (nmemif master, testpmd client), which exercises our master transmit path.
#
# usage: bash interop_dpdk_rx_count.sh <path-to-nmif-perf>   (exit 77 = skipped)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.bash" || exit 1
ilib_init dpdk-rx-count "${1:-}"

COUNT=1000000

# rx_count KIND OUR_ROLE
rx_count() {
  local kind=$1 role=$2
  local name="$kind-$role" tp="tp-$kind-$role" perf="send-$kind-$role"
  ilib_log "=== $kind socket: nmemif $role sends $COUNT frames to testpmd (rxonly)"
  sock_spec "$kind"
  # --hold: after the last frame has been taken, stay connected until testpmd goes away, so
  # that testpmd stops forwarding (and prints its counters) before the link drops.
  local perf_args=(--role "$role" --socket "$PSOCK" --mode send --count "$COUNT" --size 64
    --bsize 2048 --rsize 10 --burst 64 --timeout 20 --hold 40 --json)
  if [[ $role == slave ]]; then
    tp_start "$tp" server "$DARGS" rxonly
    wait_listen "$PSOCK" 20
    perf_start "$perf" "${perf_args[@]}"
  else
    perf_start "$perf" "${perf_args[@]}"
    wait_listen "$PSOCK" 20
    tp_start "$tp" client "$DARGS" rxonly
  fi
  # Until testpmd forwards, the first ring-full of frames waits in the ring (--no-flush-rx).
  tp_start_after_link "$tp" "$perf"
  wait_log "$(perf_err "$perf")" '^nmif-perf: done' 600 "${ILIB_PERF_PID[$perf]}"
  tp_stop "$tp"
  tp_quit "$tp"
  local perf_rc=0
  perf_wait "$perf" 20 || perf_rc=$?

  ilib_expect_eq "$name: nmif-perf exit status" "$perf_rc" 0
  ilib_expect_eq "$name: nmif-perf sent" "$(json_num "$perf" sent)" "$COUNT"
  ilib_expect_eq "$name: nmif-perf untaken" "$(json_num "$perf" untaken)" 0
  ilib_expect_eq "$name: testpmd RX-packets" "$(tp_stat "$tp" RX-packets)" "$COUNT"
  ilib_expect_eq "$name: testpmd RX-dropped" "$(tp_stat "$tp" RX-dropped)" 0
  ilib_log "$name: $(json_num "$perf" pps) pps"
}

rx_count fs slave
rx_count abstract slave
rx_count fs master

echo "PASS: testpmd received exactly $COUNT frames from nmemif on both socket kinds and roles"
