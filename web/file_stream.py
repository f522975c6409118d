"""Large static files (a 5000×7000 page's `full/max` is 7–8 MB) sent without the thread pool.

Starlette's `FileResponse` reads 64 KB per trip to the thread pool (uvicorn offers no
`http.response.pathsend` or sendfile): a 7.5 MB page is 115 trips, each waiting for a free thread
behind the search and record pages that fill the same pool — under load a full-size download took
seconds. :class:`FileStream` reads 1 MB blocks in the event loop with ``RWF_NOWAIT``, which only
copies what is already in the page cache and never waits for the disk; a block that is not cached
is read by a small thread pool of its own. uvicorn's flow control then paces the blocks to the
client (a block is read only once the previous one has left the socket buffer).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

BLOCK = 1 << 20
_NOWAIT = getattr(os, "RWF_NOWAIT", None)  # Linux 4.14+
_disk_readers: ThreadPoolExecutor | None = None


def _read_from_disk(fd: int, size: int, offset: int) -> bytes:
    return os.pread(fd, size, offset)


def _disk_pool() -> ThreadPoolExecutor:
    global _disk_readers
    if _disk_readers is None:
        _disk_readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="file-stream")
    return _disk_readers


async def read_block(fd: int, size: int, offset: int) -> bytes:
    """Up to `size` bytes at `offset`: from the page cache in this thread if they are there, else
    from the disk in a reader thread."""
    if _NOWAIT is not None:
        buffer = bytearray(size)
        try:
            got = os.preadv(fd, [buffer], offset, _NOWAIT)
        except (BlockingIOError, OSError):  # not cached (EAGAIN), or no RWF_NOWAIT here (EOPNOTSUPP)
            got = 0
        if got:
            del buffer[got:]
            return bytes(buffer)
    return await asyncio.get_running_loop().run_in_executor(_disk_pool(), _read_from_disk, fd, size, offset)


class FileStream(Response):
    """The whole of an open file, GET or HEAD; it takes over `fd` (closed once sent). Range
    requests are better left to Starlette's `FileResponse`."""

    def __init__(self, fd: int, size: int, media_type: str, headers: dict[str, str] | None = None):
        super().__init__(None, media_type=media_type, headers={**(headers or {}), "content-length": str(size)})
        self.fd = fd
        self.size = size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            offset = 0
            while offset < self.size and scope.get("method") != "HEAD":
                block = await read_block(self.fd, min(BLOCK, self.size - offset), offset)
                if not block:  # files are replaced by a rename, never cut short: not expected
                    raise OSError(f"file ended at byte {offset} of {self.size}")
                offset += len(block)
                await send({"type": "http.response.body", "body": block, "more_body": offset < self.size})
            if offset < self.size or not self.size:  # HEAD, or an empty file
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            os.close(self.fd)
