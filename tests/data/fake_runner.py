"""A stand-in for workloads/gilbench_runner.py that misbehaves in the cell threads x2, as the
workload name asks: `boom` raises, `hang` sleeps forever, `junk` prints garbage, `die` exits,
`future` speaks a record schema this harness does not know, `noisy` has its first two steady
measurements disturbed by other processes (and, like the real runner, measures a disturbed one
again while --repeat-disturbed allows), `gilon` ends the process after it as the real runner
does when a workload switched the GIL on, `junkstart` prints garbage before its first record. Any other workload behaves. Takes the real runner's
--plan (several workloads per process). Used by the run-matrix tests, locally and inside
containers."""
import argparse
import json
import sys
import time

p = argparse.ArgumentParser()
for flag in ("--plan", "--warmup-seconds", "--pool", "--scaling-min-unit-s", "--invocation",
             "--repeat-disturbed", "--disturbed-share", "--disturbed-floor-s"):
    p.add_argument(flag)
p.add_argument("--interleave", action="store_true")  # accepted like the real runner's options
a = p.parse_args()
WALL_S = 0.01
NOISY_OTHERS_S = 1.0  # a whole CPU-second of others in a 10 ms measurement: disturbed


def disturbed(record):
    """The real runner's rule, with the numbers the harness passed."""
    if "others_cpu_s" not in record or not a.repeat_disturbed:
        return False
    limit = max(float(a.disturbed_share) * record["wall_s"], float(a.disturbed_floor_s))
    return record["others_cpu_s"] > limit


def measurements(entry, mode, workers):
    """The cell's records in order: warm-ups, then steady ones, each disturbed one followed by
    its repetition while the budget lasts."""
    workload, warmups, reps = entry["workload"], int(entry["warmups"]), int(entry["reps"])
    budget = int(a.repeat_disturbed or 0)
    noisy_left = 2 if (workload == "noisy" and mode == "threads" and workers == 2) else 0
    rep = 0
    for slot in range(warmups + reps):
        repeat_of = None
        while True:
            record = dict(schema=1, workload=workload, mode=mode, workers=workers,
                          size=int(entry["size"]), rep=rep, warmup=slot < warmups, ok=True,
                          wall_s=WALL_S, cpu_s=WALL_S, implementation="cpython")
            if repeat_of is not None:
                record.update(schema=2, repeat_of=repeat_of)
            if noisy_left and slot >= warmups:
                record.update(schema=2, others_cpu_s=NOISY_OTHERS_S)
                noisy_left -= 1
            rep += 1
            yield record
            if record["warmup"] or budget == 0 or not disturbed(record):
                break
            budget -= 1
            repeat_of = record["rep"]


for entry in json.loads(a.plan):
    workload = entry["workload"]
    print(json.dumps({"event": "workload", "workload": workload}), flush=True)
    if workload == "junkstart":  # an import that writes to stdout before any record
        print("hello from an import", flush=True)
    for mode, workers in entry["cells"]:
        for base in measurements(entry, mode, workers):
            bad = mode == "threads" and workers == 2
            if bad and workload == "hang":
                time.sleep(3600)
            if bad and workload == "junk" and base["rep"] == 1:
                print("Traceback (most recent call last): oops", flush=True)
                continue
            if bad and workload == "die":
                print("dying", file=sys.stderr, flush=True)
                sys.exit(7)
            if bad and workload == "future":
                base["schema"] = 99
            if bad and workload == "boom":
                base.update(ok=False, error="ZeroDivisionError: division by zero")
                print(json.dumps(base), flush=True)
                break
            print(json.dumps(base), flush=True)
    if workload == "gilon":  # the runner's answer to a workload that switched the GIL on
        sys.exit(75)
