"""io: blocking waits on a socket -- a peer process answers every request after a fixed delay."""
from __future__ import print_function, division

import atexit
import os
import socket
import subprocess
import sys
import threading
import time

from gilbench_common import HERE, crc, payload, xrange
from probe import interpreter_command

KIND = "io"
DESCRIPTION = ("SIZE request/answer round trips per unit over loopback TCP with a peer process "
               "that answers each 64-byte request after 5 ms, so every unit blocks in recv().")
CLAIM = ("I/O-bound threads overlap even under the GIL, and asyncio overlaps the same waits in "
         "one thread.")
DELAY_S = 0.005
PAYLOAD_LEN = 64
PEER_START_TIMEOUT_S = 120   # a JVM (Jython) peer takes ~4 s to start on a busy host
# measured per unit of size 25 on the host (CPython 3.11): see the report of the change.
DEFAULT_SIZE = 25
MODES = ("serial", "threads", "processes", "asyncio")

_PEER = {}                   # this process's peer: "process", "address", "owner" (pid)
_PEER_LOCK = threading.Lock()
# "<pid>:<port>" of the peer the measuring process started, for its pool workers (inherited at
# their start, or handed over when a pool turns to this workload: gilbench_pools): one peer for
# every mode, instead of one interpreter more per worker (a JVM: seconds each)
SHARED_PEER_ENV = "GILBENCH_SHARED_IO_PEER"


# --- the peer (runs in its own interpreter) ---------------------------------------------------

def _recv_exact(sock, count):
    chunks = []
    while count > 0:
        chunk = sock.recv(count)
        if not chunk:
            return None
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _answer(conn):
    """Answer each PAYLOAD_LEN request on `conn`, reversed, DELAY_S after it arrived."""
    try:
        while True:
            data = _recv_exact(conn, PAYLOAD_LEN)
            if data is None:
                return
            time.sleep(DELAY_S)
            conn.sendall(data[::-1])
    except Exception:
        pass
    finally:
        conn.close()


def _accept_forever(listener):
    while True:
        conn, _ = listener.accept()
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except Exception:
            pass
        worker = threading.Thread(target=_answer, args=(conn,))
        worker.daemon = True
        worker.start()


def serve_peer():
    """Peer main: print the port, answer connections (one thread each) until stdin closes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    acceptor = threading.Thread(target=_accept_forever, args=(listener,))
    acceptor.daemon = True
    acceptor.start()
    sys.stdout.write("%d\n" % listener.getsockname()[1])
    sys.stdout.flush()
    sys.stdin.read()          # returns at EOF: the parent closed the pipe or died
    os._exit(0)


# --- the client side (the measured process) ---------------------------------------------------

def _start_peer():
    code = "import sys; sys.path.insert(0, %r); import wl_io; wl_io.serve_peer()" % HERE
    process = subprocess.Popen(interpreter_command() + ["-c", code], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, universal_newlines=True)
    box = []
    reader = threading.Thread(target=lambda: box.append(process.stdout.readline()))
    reader.daemon = True
    reader.start()
    reader.join(PEER_START_TIMEOUT_S)
    line = box[0].strip() if box else ""
    if not line.isdigit():
        _stop(process)
        raise RuntimeError("io peer did not start within %d s (said %r)"
                           % (PEER_START_TIMEOUT_S, line[:200]))
    _PEER.update(process=process, address=("127.0.0.1", int(line)), owner=os.getpid())
    os.environ[SHARED_PEER_ENV] = "%d:%s" % (os.getpid(), line)
    atexit.register(stop_peer)


def _shared_peer():
    """(host, port) of the peer of the process that started this one, or None: none is
    shared, or the one named is this process's own (a peer that died is started again)."""
    owner, _, port = os.environ.get(SHARED_PEER_ENV, "").partition(":")
    if not port.isdigit() or owner == str(os.getpid()):
        return None
    return ("127.0.0.1", int(port))


def _stop(process):
    try:
        process.stdin.close()    # EOF: the peer exits by itself
    except Exception:
        pass
    deadline = time.time() + 5
    while process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if process.poll() is None:
        process.kill()
        process.wait()


def stop_peer():
    """Stop this process's peer (a forked child that inherited _PEER leaves it alone)."""
    with _PEER_LOCK:
        if _PEER.get("owner") == os.getpid():
            _stop(_PEER["process"])
        _PEER.clear()


def peer_address():
    """(host, port) of this process's peer: its own, else the one its parent shares, else one
    started now (on the first call: `prepare` or an untimed warm-up)."""
    with _PEER_LOCK:
        if _PEER.get("owner") == os.getpid() and _PEER["process"].poll() is None:
            return _PEER["address"]
        shared = _shared_peer()
        if shared is not None:
            return shared
        _PEER.clear()            # a dead peer, or a forked child's copy of its parent's
        _start_peer()
        return _PEER["address"]


def prepare():
    """Start the peer in the measuring process before any pool turns to this workload, so that
    every pool worker shares it."""
    peer_address()


def unit(size, index):
    sock = socket.create_connection(peer_address())
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        value = 0
        for step in xrange(size):
            sock.sendall(payload(index, step, PAYLOAD_LEN))
            data = _recv_exact(sock, PAYLOAD_LEN)    # blocks ~DELAY_S: the peer is waiting
            if data is None:
                raise IOError("io peer closed the connection")
            value = crc(data, value)
    finally:
        sock.close()
    return "%08x" % value


def async_unit():
    """The coroutine twin of unit() (same peer, same checksum); its module needs Python 3.5+."""
    import asyncio_units
    return asyncio_units.io_unit
