"""spawn_fresh: start a fresh interpreter of the same runtime and do one pipe round trip with it."""
from __future__ import print_function, division

import subprocess

from gilbench_common import crc, to_bytes, xrange
from probe import interpreter_command

KIND = "startup"
DESCRIPTION = ("Starts SIZE fresh child interpreters of the same runtime ($GILBENCH_PYTHON or "
               "sys.executable) one after another, each answering one line over its pipes.")
CLAIM = ("Processes sidestep the GIL but each fresh one costs an interpreter start-up, which "
         "differs by orders of magnitude between runtimes.")
# measured per unit of size 2: CPython 3.11 (venv) ~0.12 s (~60 ms per start), PyPy 3.9
# ~0.15 s, Jython 2.7.3 on OpenJDK 17 ~7 s (~3.5 s per JVM start on the busy host): keep SIZE
# and workers small in suites.
DEFAULT_SIZE = 2
MODES = ("serial", "threads")

CHILD_CODE = ("import sys; line = sys.stdin.readline().strip(); "
              "sys.stdout.write(line[::-1] + '\\n'); sys.stdout.flush()")


def _text(data):
    return data if isinstance(data, str) else data.decode("ascii", "replace")


def unit(size, index):
    command = interpreter_command() + ["-c", CHILD_CODE]
    value = 0
    for step in xrange(size):
        message = "gilbench-spawn-%d-%d" % (index, step)
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out, _ = child.communicate(to_bytes(message + "\n"))
        reply = _text(out).strip()
        if child.returncode != 0:
            raise RuntimeError("child %r exited with %s" % (command[0], child.returncode))
        if reply != message[::-1]:
            raise RuntimeError("child answered %r, expected %r" % (reply[:80], message[::-1]))
        value = crc(to_bytes(reply), value)
    return "%08x" % value
