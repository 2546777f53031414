"""A real HTTP server on a loopback port, served from a thread, for the tests' stand-ins of far
ends (webhook receivers, GitHub and GitLab, a tracker): ``LocalServer(handler_class)``,
``.url``, ``.close()``. A client that gave up and hung up is part of a test's script, not an
error to print."""

import threading
from http.server import ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class LocalServer:
    def __init__(self, handler_class):
        self._server = _QuietServer(("127.0.0.1", 0), handler_class)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()
