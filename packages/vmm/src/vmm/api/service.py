"""The API socket and its router, started before the rest of the VMM and attached to it later.

service = ApiService.start(path="/tmp/ch.sock", version="0.1.0")  # listening now
...                                   # the slow imports, the config, the VMM
service.attach(vmm.submit)            # requests other than vmm.ping were waiting
vmm.run()
service.close()
"""

from __future__ import annotations

from vmm.api.routes import Router
from vmm.api.server import ApiServer

# Not `typing.TYPE_CHECKING`: importing typing costs tens of ms before the socket listens.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from vmm.api.routes import Submit

__all__ = ["ApiService"]


class ApiService:
    """A listening `ApiServer` whose `Router` answers vmm.ping at once."""

    def __init__(
        self, server: ApiServer, router: Router, *, path: str | None = None, fd: int | None = None
    ) -> None:
        self.server = server
        self.router = router
        self.path = path
        self.fd = fd

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
        return cls(server, router, path=path if fd is None else None, fd=fd)

    def serves(self, config: object) -> bool:
        """Whether this service is the one `config` (an ApiSocketConfig) asks for."""
        return (getattr(config, "path", None), getattr(config, "fd", None)) == (self.path, self.fd)

    def attach(self, submit: Submit) -> None:
        self.router.attach(submit)

    def close(self) -> None:
        self.server.close()
