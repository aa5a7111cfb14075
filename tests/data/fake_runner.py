"""A stand-in for workloads/gilbench_runner.py that misbehaves in the cell threads x2, as the
workload name asks: `boom` raises, `hang` sleeps forever, `junk` prints garbage, `die` exits,
`future` speaks a record schema this harness does not know.
Any other workload behaves. Used by the run-matrix tests, locally and inside containers."""
import argparse
import json
import sys
import time

p = argparse.ArgumentParser()
for flag in ("--workload", "--modes", "--workers", "--size", "--reps", "--warmups",
             "--warmup-seconds", "--pool", "--scaling-min-unit-s", "--invocation",
             "--order-seed"):
    p.add_argument(flag)
p.add_argument("--interleave", action="store_true")  # accepted like the real runner's options
a = p.parse_args()
for mode in a.modes.split(","):
    for workers in [int(w) for w in a.workers.split(",")]:
        for rep in range(int(a.warmups) + int(a.reps)):
            base = dict(schema=1, workload=a.workload, mode=mode, workers=workers,
                        size=int(a.size), rep=rep, warmup=rep < int(a.warmups), ok=True,
                        wall_s=0.01, cpu_s=0.01, implementation="cpython")
            bad = mode == "threads" and workers == 2
            if bad and a.workload == "hang":
                time.sleep(3600)
            if bad and a.workload == "junk" and rep == 1:
                print("Traceback (most recent call last): oops", flush=True)
                continue
            if bad and a.workload == "die":
                print("dying", file=sys.stderr, flush=True)
                sys.exit(7)
            if bad and a.workload == "future":
                base["schema"] = 99
            if bad and a.workload == "boom":
                base.update(ok=False, error="ZeroDivisionError: division by zero")
                print(json.dumps(base), flush=True)
                break
            print(json.dumps(base), flush=True)
