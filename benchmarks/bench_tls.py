"""What HTTPS adds to a poll: CPU of one conditional GET over TLS, on a kept-alive connection and on a new one.

The feed farm (farm.py) is plain HTTP, so the cycle benchmarks leave TLS out; docs/scaling.md needs its cost to
size a machine for real feeds, whose connections do not survive a 10-minute interval. This runs a TLS server on
127.0.0.1 (asyncio, a certificate from a throwaway trustme CA, answering 304) in a child process and measures
the client's CPU per request with aiohttp as fetch.py uses it: the TLS 1.3 handshake (key exchange and
certificate verification) on the client side, not the server's.

    .venv/bin/python benchmarks/bench_tls.py      # needs the test extras (trustme); ~10 seconds

Results go to benchmarks/results/tls.md.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from bench_match import machine

RESULTS = Path(__file__).resolve().parent / "results" / "tls.md"
REQUESTS = 500
CONCURRENCY = 16
ROUNDS = 3

SERVER = """
import asyncio, ssl, sys, trustme
authority = trustme.CA()
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
authority.issue_cert("127.0.0.1").configure_cert(context)
authority.cert_pem.write_to_path(sys.argv[1])

async def handle(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\\r\\n\\r\\n")
            writer.write(b'HTTP/1.1 304 Not Modified\\r\\nETag: "a"\\r\\n\\r\\n')
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


async def cpu_per_request(url: str, ca_file: Path, *, new_connections: bool) -> float:
    """CPU milliseconds of this process per conditional GET (REQUESTS of them, CONCURRENCY at a time)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    connector = aiohttp.TCPConnector(ssl=context, force_close=new_connections, limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one() -> int:
            async with slots, session.get(url, headers={"If-None-Match": '"a"'}) as response:
                await response.read()
                return response.status

        await one()  # the first connection and the session's set-up are not what is measured
        started = time.process_time()
        statuses = await asyncio.gather(*(one() for _ in range(REQUESTS)))
        elapsed = time.process_time() - started
    assert set(statuses) == {304}, statuses
    return elapsed / REQUESTS * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        ca_file = Path(directory) / "ca.pem"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(ca_file)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
        )
        try:
            assert server.stdout is not None
            url = f"https://127.0.0.1:{server.stdout.readline().strip()}/feed.xml"
            kept = min(asyncio.run(cpu_per_request(url, ca_file, new_connections=False)) for _ in range(ROUNDS))
            new = min(asyncio.run(cpu_per_request(url, ca_file, new_connections=True)) for _ in range(ROUNDS))
        finally:
            server.terminate()
            server.wait(10)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# TLS: what HTTPS adds to a poll",
        "",
        f"- date: {now}; command: `.venv/bin/python benchmarks/bench_tls.py`",
        f"- machine: {machine()}; load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- aiohttp {aiohttp.__version__}, {ssl.OPENSSL_VERSION}",
        "",
        f"Client CPU per conditional GET answered 304 over TLS on 127.0.0.1, {REQUESTS} requests, {CONCURRENCY} at "
        f"a time, best of {ROUNDS} rounds (trustme certificate, the server in another process):",
        "",
        "| connection | CPU ms per request |",
        "|---|---:|",
        f"| kept alive (polls of one host within a cycle) | {kept:.2f} |",
        f"| new for every request: TLS handshake included (a feed polled every 10 minutes) | {new:.2f} |",
        "",
        f"A handshake costs the client about {new - kept:.1f} ms of CPU.",
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
