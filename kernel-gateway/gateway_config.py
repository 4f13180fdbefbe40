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


# --- Kernels through kernel_launcher.py: limits and the bubblewrap sandbox -------------------
# The embedded gateway (server/kernel/embedded-gateway.ts) sets KG_KERNEL_LAUNCHER=1 and the
# KG_KERNEL_* / KG_SANDBOX* values below; a gateway started by hand (start.sh, Docker) keeps the
# stock kernelspec unless they are set. The kernelspec "python3" written here shadows the venv's
# own through JUPYTER_PATH, so default_kernel_name and every start request use it.
# See docs/decisions/0009-kernel-sandbox.md.
def _install_launcher_kernelspec():
    import atexit
    import json
    import shutil
    import sys
    import tempfile

    if os.environ.get("KG_KERNEL_LAUNCHER") != "1":
        return
    here = os.path.dirname(os.path.abspath(__file__))
    # one folder per gateway process, named by its pid; those of gateways that died without their
    # atexit (SIGKILL) are removed by the next one
    prefix = "ynb-gateway-"
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        pid = name[len(prefix):]
        if name.startswith(prefix) and pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(os.path.join(tmp, name), True)
            except OSError:
                pass
    spec_root = os.path.join(tmp, prefix + str(os.getpid()))
    shutil.rmtree(spec_root, True)
    os.makedirs(spec_root, mode=0o700)
    atexit.register(shutil.rmtree, spec_root, True)
    spec_dir = os.path.join(spec_root, "kernels", "python3")
    os.makedirs(spec_dir)
    argv = [sys.executable, os.path.join(here, "kernel_launcher.py")]
    argv += ["--sandbox", "on" if os.environ.get("KG_SANDBOX") == "on" else "off"]
    argv += ["--bwrap", os.environ.get("KG_SANDBOX_BWRAP", "bwrap")]
    argv += ["--work-root", os.environ.get("KG_WORK_ROOT", "")]
    argv += ["--memory-mb", os.environ.get("KG_KERNEL_MEMORY_MB", "0")]
    argv += ["--pids-max", os.environ.get("KG_KERNEL_PIDS_MAX", "0")]
    argv += ["--tmp-mb", os.environ.get("KG_KERNEL_TMP_MB", "512")]
    # resources per kernel and its user (docs/decisions/0023-kernel-resources.md)
    argv += ["--memory-cgroup", "on" if os.environ.get("KG_KERNEL_MEMORY_CGROUP") == "1" else "off"]
    argv += ["--disk-mb", os.environ.get("KG_KERNEL_DISK_MB", "0")]
    argv += ["--disk-quota", "on" if os.environ.get("KG_KERNEL_DISK_QUOTA") == "1" else "off"]
    argv += ["--kernel-user", os.environ.get("KG_KERNEL_USER", "")]
    network = os.environ.get("KG_KERNEL_NETWORK", "host")
    argv += ["--network", network]
    if network == "internet":
        argv += ["--slirp4netns", os.environ.get("KG_KERNEL_SLIRP4NETNS", "slirp4netns")]
    if network in ("none", "internet"):
        # a network namespace of its own: the gateway reaches the kernel over ipc (ynotebook_ipc.py)
        ipc_root = os.path.join(spec_root, "ipc")
        os.makedirs(ipc_root, mode=0o700)
        os.environ["KG_KERNEL_IPC_ROOT"] = ipc_root
        argv += ["--ipc-root", ipc_root]
        if here not in sys.path:
            sys.path.insert(0, here)
        # no __pycache__ beside the app's source for one small module
        sys.dont_write_bytecode = True
        c.MappingKernelManager.kernel_manager_class = "ynotebook_ipc.IpcKernelManager"
    argv += ["--", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {
        "argv": argv,
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": True},
        "kernel_protocol_version": "5.5",
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump(spec, f, indent=1)
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = spec_root + ((os.pathsep + previous) if previous else "")


_install_launcher_kernelspec()
