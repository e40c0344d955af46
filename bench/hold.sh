#!/bin/sh
# hold.sh READY: the command a tracer runs once its hooks are attached
# (iommutrace stat -- CMD, bpftrace -c CMD). It writes "TIME PID" to READY,
# PID being the sleep it becomes, so that the benchmark can note the attach
# time and end the tracing session by ending that sleep.
echo "$(date +%s.%N) $$" >"$1.tmp" && mv "$1.tmp" "$1"
exec sleep 100000
