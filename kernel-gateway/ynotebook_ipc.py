"""Kernels in a network namespace of their own talk to the gateway over ZeroMQ `ipc` sockets.

Loaded by gateway_config.py when KG_KERNEL_NETWORK is `none` or `internet` (the default): their
loopback is not the host's, so TCP on 127.0.0.1 would not reach the gateway (and on the host's
loopback, any other kernel could connect to those ports). Each kernel gets its sockets in a folder
of its own (`<ipc root>/<random>/k-<n>`), which kernel_launcher.py binds read-write into that
kernel's sandbox, and nothing else: a kernel never sees another kernel's sockets (or the gateway's
runtime folder with their connection keys). jupyter_client's default would put every kernel's
sockets beside the connection files.
"""

import os
import tempfile

from kernel_gateway.services.kernels.manager import KernelGatewayIOLoopKernelManager
from traitlets import default

IPC_ROOT = os.environ.get("KG_KERNEL_IPC_ROOT", "")


class IpcKernelManager(KernelGatewayIOLoopKernelManager):
    @default("transport")
    def _transport_default(self):
        return "ipc"

    @default("ip")
    def _ip_default(self):
        if self.transport != "ipc" or not IPC_ROOT:
            return super()._ip_default()
        return os.path.join(tempfile.mkdtemp(dir=IPC_ROOT), "k")
