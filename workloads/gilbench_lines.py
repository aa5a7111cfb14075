"""How the runner and its pool workers speak: JSON records on the real stdout, one per line;
log lines on stderr. Portable: Python 2.7 (Jython) and 3.4+ (IronPython); stdlib only."""
from __future__ import print_function, division

import json
import sys

import gilbench_common as common

PROG = "gilbench_runner"
# The real stdout: the runner points sys.stdout at stderr while it runs (stray prints of
# workloads and libraries must not corrupt the records) and keeps the real one here.
OUT = {"stream": sys.stdout}


def emit(obj):
    stream = OUT["stream"]
    stream.write(json.dumps(obj, sort_keys=True) + "\n")
    stream.flush()


def log(message):
    sys.stderr.write("%s: %s\n" % (PROG, message))
    sys.stderr.flush()


def current_error():
    """Text of the exception being handled -- also Java/.NET exceptions, which on Jython do
    not derive from Exception (hence the bare excepts around workload code)."""
    return common.describe_exception(sys.exc_info()[1])


def as_text(data):
    """Pipe data as text: json.loads on a 3.4-level runtime (IronPython) refuses bytes."""
    if isinstance(data, bytes) and not isinstance(data, str):
        return data.decode("utf-8")
    return data
