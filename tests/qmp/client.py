"""Drives semu's QMP monitor with PyPI's qemu.qmp client, as a user's script would.

Usage: client.py HOST:PORT. Exits 0 and prints "qmp-client: all checks passed" when every
answer is what QEMU's clients expect; any other answer fails with an exception (exit 1).
"""

import asyncio
import sys

from qemu.qmp import ExecuteError, QMPClient

TIMEOUT = 30


async def event(qmp, name):
    """The next event, which must be `name`."""
    ev = await asyncio.wait_for(qmp.events.get(), TIMEOUT)
    assert ev["event"] == name, ev
    return ev


async def main(addr):
    host, port = addr.rsplit(":", 1)
    qmp = QMPClient("semu-test")
    await asyncio.wait_for(qmp.connect((host, int(port))), TIMEOUT)
    version = qmp.greeting.QMP.version
    assert version["package"].startswith("semu"), version

    running = {"status": "running", "running": True, "singlestep": False}
    paused = {"status": "paused", "running": False, "singlestep": False}
    assert await qmp.execute("query-status") == running

    assert await qmp.execute("stop") == {}
    await event(qmp, "STOP")
    assert await qmp.execute("query-status") == paused

    assert await qmp.execute("cont") == {}
    await event(qmp, "RESUME")
    assert await qmp.execute("query-status") == running

    v = await qmp.execute("query-version")
    assert v == version, (v, version)
    assert all(isinstance(v["qemu"][k], int) for k in ("major", "minor", "micro")), v

    try:
        await qmp.execute("screendump", {"filename": "/tmp/x.ppm"})
        raise AssertionError("screendump answered")
    except ExecuteError as e:
        assert e.error.error.class_ == "CommandNotFound", e.error

    assert await qmp.execute("quit") == {}
    ev = await event(qmp, "SHUTDOWN")
    assert ev["data"] == {"guest": False, "reason": "host-qmp-quit"}, ev
    await qmp.disconnect()
    print("qmp-client: all checks passed")


asyncio.run(main(sys.argv[1]))
