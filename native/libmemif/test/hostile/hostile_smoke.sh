#!/usr/bin/env bash
# nmif-hostile against nmif-perf (echo) as a child process, in both roles: the program reaches
# CONNECTED and moves traffic, passes fds that the victim closes again, falls silent until
# the victim's handshake timeout, sends garbage the victim refuses with a reason. Only the
# hostile program is under test here; how each tool reacts to every case is the TS suite's.
# usage: hostile_smoke.sh NMIF_PERF NMIF_HOSTILE
set -u
perf=$1
hostile=$2
dir=$(mktemp -d /tmp/nmif-smoke.XXXXXX)
victim=
fail=0

cleanup() {
  if [ -n "$victim" ]; then kill "$victim" 2>/dev/null; wait "$victim" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT

field() { # field NAME JSON: the value of a number or string field
  printf '%s' "$2" | sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[0-9.]*\|null\|true\|false\).*/\1/p"
}

check() { # check WHAT CONDITION-RESULT
  if [ "$2" = 1 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}

start_victim() { # start_victim ROLE: nmif-perf in that role on $dir/ROLE.sock
  "$perf" --role "$1" --socket "$dir/$1.sock" --mode echo --duration 600 --timeout 600 \
    >"$dir/perf-$1.out" 2>"$dir/perf-$1.err" &
  victim=$!
}

stop_victim() {
  kill "$victim" 2>/dev/null
  wait "$victim" 2>/dev/null
  victim=
}

hostile_fds() { # memfds the hostile peer passed that the victim still holds
  ls -l "/proc/$victim/fd" 2>/dev/null | grep -c 'memfd:nmif-hostile'
}

wait_no_hostile_fds() {
  for _ in $(seq 100); do
    [ "$(hostile_fds)" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# usage errors
"$hostile" --list | grep -q '^endless-chain ' ; check "--list names the cases" $((1 - $?))
"$hostile" --role slave --socket "$dir/x" --case nonesuch >/dev/null 2>&1
check "an unknown case is a usage error (2)" $(($? == 2))
"$hostile" --role master --socket "$dir/x" --case runaway-head >/dev/null 2>&1
check "runaway-head needs --role slave (2)" $(($? == 2))

for vrole in master slave; do
  if [ "$vrole" = master ]; then hrole=slave; else hrole=master; fi
  sock="$dir/$vrole.sock"
  start_victim "$vrole"

  out=$("$hostile" --role "$hrole" --socket "$sock" --case good --count 16 --duration 30 --timeout 30 --json)
  r=$?
  echo "  $out"
  check "[$hrole] good: ran, 16 of 16 frames came back" \
    $((r == 0 && $(field returned "$out") == 16))

  if [ "$vrole" = master ]; then
    # the probe sees our memfds: a victim master maps our region while the link is up
    "$hostile" --role "$hrole" --socket "$sock" --case stall --duration 3 --timeout 30 >/dev/null &
    staller=$!
    seen=0
    for _ in $(seq 100); do
      [ "$(hostile_fds)" -ge 1 ] && seen=1 && break
      sleep 0.05
    done
    wait "$staller"
    check "[$hrole] the fd probe sees our region in the victim while connected" $seen
  fi

  out=$("$hostile" --role "$hrole" --socket "$sock" --case fd-spam --count 2 --timeout 30 --json)
  r=$?
  echo "  $out"
  sent=$(field fds_sent "$out")
  check "[$hrole] fd-spam: ran, passed fds ($sent)" $((r == 0 && sent >= 6))
  wait_no_hostile_fds
  check "[$hrole] fd-spam: the victim holds none of them afterwards" $((1 - $?))

  out=$("$hostile" --role "$hrole" --socket "$sock" --case garbage --timeout 30 --json)
  r=$?
  echo "  $out"
  reason=$(field disconnect_reason "$out")
  check "[$hrole] garbage: refused with a reason ($reason)" \
    $((r == 0 && ${#reason} > 2 && $(field closed_by_victim "$out") >= 1))

  # the library's default handshake timeout is 3 s; the case ends when the victim closes
  out=$("$hostile" --role "$hrole" --socket "$sock" --case silent --count 1 --duration 30 --timeout 30 --json)
  r=$?
  echo "  $out"
  check "[$hrole] silent: the victim's handshake timeout ends it" \
    $((r == 0 && $(field closed_by_victim "$out") >= 1))
  [ "$(field disconnect_reason "$out")" = '"handshake timeout"' ]
  check "[$hrole] silent: DISCONNECT \"handshake timeout\"" $((1 - $?))

  out=$("$hostile" --role "$hrole" --socket "$sock" --case good --count 4 --duration 30 --timeout 30 --json)
  r=$?
  check "[$hrole] a good peer is served after all that" \
    $((r == 0 && $(field returned "$out") == 4))
  stop_victim
done

exit $fail
