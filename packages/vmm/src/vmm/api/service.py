"""The API socket and its router, started before the rest of the VMM and attached to it later.

service = ApiService.start(path="/tmp/ch.sock", version="0.1.0")  # listening now
...                                   # the slow imports, the config, the VMM
service.attach(vmm.submit)            # requests other than vmm.ping were waiting
vmm.run()
service.close()
"""

from __future__ import annotations

from vmm.api.routes import Router, Submit
from vmm.api.server import ApiServer

__all__ = ["ApiService"]


class ApiService:
    """A listening `ApiServer` whose `Router` answers vmm.ping at once."""

    def __init__(self, server: ApiServer, router: Router) -> None:
        self.server = server
        self.router = router

    @classmethod
    def start(cls, *, path: str | None = None, fd: int | None = None, version: str) -> ApiService:
        """Listen on `path` or the inherited `fd` and serve; raises ApiSocketError."""
        router = Router(version=version)
        if fd is not None:
            server = ApiServer.from_fd(fd, router)
        elif path is not None:
            server = ApiServer.bind(path, router)
        else:
            raise ValueError("the API socket needs a path or an fd")
        server.start()
        return cls(server, router)

    def attach(self, submit: Submit) -> None:
        self.router.attach(submit)

    def close(self) -> None:
        self.server.close()
