#!/bin/bash
# Interop: nmemif as master with a DPDK testpmd client in zero-copy mode (zero-copy=yes).
# Such a client shares its DPDK memory file as region 1 and points descriptors straight at
# mbuf data, anywhere in that region: the master must map several regions and follow arbitrary
# (region, offset) descriptors. That file is not sealed against shrinking, so:
#  1. by default nmemif refuses it, and testpmd receives a DISCONNECT saying why;
#  2. with --allow-unsealed (nmif_socket_args.allow_unsealed_regions) every frame of a round
#     trip comes back byte for byte, 64-byte frames on two queue pairs and 9000-byte frames
#     chained over 2048-byte buffers.
# DPDK needs --single-file-segments (and, without hugepages, --no-shconf) for zero-copy.
#
# usage: bash interop_dpdk_zerocopy.sh <path-to-nmif-perf>   (exit 77 = skipped)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/interop_lib.bash" || exit 1
ilib_init dpdk-zerocopy "${1:-}"

export TP_EAL_EXTRA="--single-file-segments --no-shconf"
COUNT=100000

ilib_log "=== abstract socket: unsealed regions are refused by default"
sock_spec abstract
perf_start refuse --role master --socket "$PSOCK" --mode roundtrip --count 10 --timeout 15 --json
wait_listen "$PSOCK" 20
tp_start tp-refuse client "$DARGS,zero-copy=yes" io
wait_log "${ILIB_TP_LOG[tp-refuse]}" 'Disconnect received: region fd is not sealed' 20
rc=0
perf_wait refuse 20 || rc=$?
tp_quit tp-refuse
ilib_expect_eq "refused: nmif-perf exit status (never connected)" "$rc" 3
grep -q '^nmif-perf: connection attempt failed: region fd is not sealed' "$(perf_err refuse)" ||
  ilib_fail "nmif-perf did not report why it refused the zero-copy client"
ilib_log "ok: testpmd was told 'region fd is not sealed against shrinking'"

# zc_roundtrip KIND SIZE QUEUES
zc_roundtrip() {
  local kind=$1 size=$2 queues=$3
  local name="zc-$kind-$size-q$queues"
  local tp="tp-$name" perf="rt-$name"
  ilib_log "=== $kind socket: nmemif master, testpmd zero-copy client (io), $size-byte frames, $queues queue(s)"
  sock_spec "$kind"
  perf_start "$perf" --role master --socket "$PSOCK" --mode roundtrip --count "$COUNT" --size "$size" \
    --queues "$queues" --bsize 2048 --rsize 10 --timeout 20 --hold 40 --allow-unsealed --json
  wait_listen "$PSOCK" 20
  tp_start "$tp" client "$DARGS,zero-copy=yes" io --rxq="$queues" --txq="$queues"
  tp_start_after_link "$tp" "$perf"
  wait_log "$(perf_err "$perf")" '^nmif-perf: (done|no progress)' 60 "${ILIB_PERF_PID[$perf]}"
  tp_stop "$tp"
  tp_quit "$tp"
  local perf_rc=0
  perf_wait "$perf" 20 || perf_rc=$?

  ilib_expect_eq "$name: nmif-perf exit status" "$perf_rc" 0
  ilib_expect_eq "$name: matched byte for byte" "$(json_num "$perf" matched)" "$COUNT"
  ilib_expect_eq "$name: mismatched" "$(json_num "$perf" mismatched)" 0
  ilib_expect_eq "$name: bad descriptors" "$(json_num "$perf" bad_desc)" 0
  ilib_expect_eq "$name: testpmd RX-packets" "$(tp_stat "$tp" RX-packets)" "$COUNT"
  ilib_expect_eq "$name: testpmd TX-packets" "$(tp_stat "$tp" TX-packets)" "$COUNT"
}

zc_roundtrip fs 64 2
zc_roundtrip abstract 9000 1

echo "PASS: zero-copy DPDK client refused by default, and exact with unsealed regions allowed"
