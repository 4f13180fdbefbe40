# Configuration for Jupyter Enterprise Gateway when it runs this app's kernels: loaded from
# JUPYTER_CONFIG_DIR (the tests point it here; docker-compose.cluster.yml mounts this file).
#
# TCP_NODELAY on kernel WebSockets. Enterprise Gateway 3.3 runs on Jupyter Server 1.24, whose
# kernel WebSocket keeps Nagle's algorithm on (tornado turns it back on once the HTTP upgrade is
# done): every small kernel message then waits for the peer's delayed ACK, and a trivial execute
# took a median 64 ms here instead of 16 ms on our Kernel Gateway. Same fix as
# kernel-gateway/gateway_config.py (docs/decisions/0003-kernel-gateway.md); EG_TCP_NODELAY=0 disables it.
import os


def _enable_kernel_ws_nodelay():
    from jupyter_server.services.kernels.handlers import ZMQChannelsHandler

    if getattr(ZMQChannelsHandler, "_yn_nodelay", False):
        return
    original_open = ZMQChannelsHandler.open

    def open(self, *args, **kwargs):
        try:
            self.set_nodelay(True)
        except Exception:  # the socket may already be closing; never fail the connection
            pass
        return original_open(self, *args, **kwargs)

    ZMQChannelsHandler.open = open
    ZMQChannelsHandler._yn_nodelay = True


if os.environ.get("EG_TCP_NODELAY", "1") != "0":
    _enable_kernel_ws_nodelay()
