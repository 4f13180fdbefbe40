# Jupyter Kernel Gateway configuration for ynotebook.
# Loaded with `jupyter kernelgateway --config=kernel-gateway/gateway_config.py` (see start.sh and
# server/kernel/embedded-gateway.ts). Environment variables: KG_IP, KG_PORT, KG_AUTH_TOKEN.
import os

c = get_config()  # noqa: F821 (injected by traitlets)

# Loopback unless told otherwise (the Docker image sets KG_IP=0.0.0.0).
c.KernelGatewayApp.ip = os.environ.get("KG_IP", "127.0.0.1")
c.KernelGatewayApp.port = int(os.environ.get("KG_PORT", "8888"))
# Fail instead of silently moving to another port: the server told us which one to use.
c.KernelGatewayApp.port_retries = 0
# Every request must carry `Authorization: token <KG_AUTH_TOKEN>`.
c.KernelGatewayApp.auth_token = os.environ.get("KG_AUTH_TOKEN", "")
c.KernelGatewayApp.api = "kernel_gateway.jupyter_websocket"
c.KernelGatewayApp.default_kernel_name = "python3"
c.KernelGatewayApp.prespawn_count = 0
# The ynotebook server is the only client; browsers never reach the gateway, so no CORS.
c.KernelGatewayApp.allow_origin = ""

# A kernel-start request that carries `env` gets PATH from this process, then the variables of
# env_process_whitelist (from this process) and those of env_whitelist (from the request).
# Nothing else of the gateway's environment (tokens, API keys) reaches a kernel.
# See kernel_gateway/services/kernels/handlers.py::MainKernelHandler.post.
c.KernelGatewayApp.env_process_whitelist = []
c.JupyterWebsocketPersonality.env_whitelist = [
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "MPLCONFIGDIR",
]
c.JupyterWebsocketPersonality.list_kernels = True

# Interrupt/restart/shutdown should not hang on a wedged kernel.
c.KernelManager.shutdown_wait_time = 3.0
c.MappingKernelManager.cull_idle_timeout = 0  # the ynotebook server culls (idleCullMs)


# --- TCP_NODELAY on kernel WebSockets --------------------------------------------------------
# Tornado turns Nagle's algorithm back on for a connection once its HTTP response is done
# (tornado/http1connection.py, `set_nodelay(False)`), and a WebSocket keeps that socket. Small
# kernel messages then wait for the peer's delayed ACK: a trivial execute takes ~48 ms instead of
# a few ms. Jupyter Server had the same defect (jupyter_server 1.23). Measured numbers and the
# decision: docs/decisions/0003-kernel-gateway.md. KG_TCP_NODELAY=0 disables the fix.
def _enable_kernel_ws_nodelay():
    from jupyter_server.services.kernels.websocket import KernelWebsocketHandler

    if getattr(KernelWebsocketHandler, "_yn_nodelay", False):
        return
    original_open = KernelWebsocketHandler.open

    async def open(self, *args, **kwargs):
        try:
            self.set_nodelay(True)
        except Exception:  # the socket may already be closing; never fail the connection
            pass
        return await original_open(self, *args, **kwargs)

    KernelWebsocketHandler.open = open
    KernelWebsocketHandler._yn_nodelay = True


if os.environ.get("KG_TCP_NODELAY", "1") != "0":
    _enable_kernel_ws_nodelay()


# --- Stop with the server that started us ---------------------------------------------------
# The embedded gateway is a child of the ynotebook server. If that server dies without stopping
# it (kill -9, a crash), the gateway and its kernels would linger. KG_PARENT_PID names the
# server; once it is gone we send ourselves SIGTERM, which shuts the kernels down cleanly.
def _watch_parent():
    import signal
    import threading
    import time

    parent = os.environ.get("KG_PARENT_PID")
    if not parent or not parent.isdigit():
        return
    parent_pid = int(parent)

    def watch():
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
                alive = os.getppid() == parent_pid
            except OSError:
                alive = False
            if not alive:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="ynb-parent-watch", daemon=True).start()


_watch_parent()
