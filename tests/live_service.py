"""The real settings service on a free loopback port, for tests of any suite: uvicorn serving
an application in a daemon thread of the test process, configured as ``smtp-iac serve``
configures it (``smtp_iac.service.server.server_config``: header timeout, keep-alive,
connection cap)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from smtp_iac.service.server import server_config


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1, on a free port, in a daemon thread. Keywords go to
    ``server_config`` (``header_timeout``, ``keep_alive``, ``max_connections``)."""

    def __init__(self, app: Any, **limits: Any):
        self.config = server_config(app, host="127.0.0.1", port=0, **limits)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)
        self.port = 0

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
