"""Coroutine versions of workload units, for the runner's asyncio mode.

This is the ONE workloads file that needs Python 3.5+ (``async def``/``await``): it is
imported only when asyncio mode runs, so the rest of workloads/ stays Python 2.7 (Jython)
parseable. The Python 2 syntax test excludes exactly this file.
"""
from __future__ import print_function, division

import asyncio

from gilbench_common import crc, payload, perf_counter


async def io_unit(size, index):
    """Same work and checksum as wl_io.unit: SIZE round trips with the delayed-answer peer."""
    import wl_io

    length = wl_io.PAYLOAD_LEN
    host, port = wl_io.peer_address()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        value = 0
        for step in range(size):
            writer.write(payload(index, step, length))
            await writer.drain()
            value = crc(await reader.readexactly(length), value)
    finally:
        writer.close()
    return "%08x" % value


def new_loop():
    return asyncio.new_event_loop()


async def _timed(coro_fn, size, index):
    start = perf_counter()
    checksum = await coro_fn(size, index)
    return index, checksum, perf_counter() - start


async def _gather(coro_fn, size, workers):
    return await asyncio.gather(*[_timed(coro_fn, size, index) for index in range(workers)])


def run_units(loop, coro_fn, size, workers):
    """Run `workers` units as tasks gathered in one event loop: [(index, checksum, wall_s)]."""
    return list(loop.run_until_complete(_gather(coro_fn, size, workers)))


def close_loop(loop):
    try:
        loop.run_until_complete(loop.shutdown_asyncgens())
    except Exception:
        pass
    loop.close()
