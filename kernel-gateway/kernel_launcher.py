"""Starts one notebook kernel with its resource limits and, when asked, inside a bubblewrap sandbox.

The embedded gateway's kernelspec (written by gateway_config.py) runs
    <venv python> kernel_launcher.py [options] -- <venv python> -m ipykernel_launcher -f {connection_file}
This script runs as a child of the gateway, outside any sandbox, sets the limits that the kernel
inherits and then replaces itself with bwrap (or with the kernel directly when the sandbox is off).
Nothing of it stays running. See docs/decisions/0009-kernel-sandbox.md.

Inside the sandbox the kernel sees: the system (/usr, /lib*, /bin, /etc without its secrets) and
the Python environment read-only, its connection file read-only, its own working directory
(KERNEL_WORKING_DIR, which must be a folder of the work root) read-write, a private /tmp and HOME,
its own /proc and PID namespace. Nothing else of the host: not DATA_DIR, not the app's source, not
the gateway's runtime folder (other kernels' connection keys).
"""

import argparse
import json
import os
import resource
import signal
import sys
import uuid

# Files of /etc that hold secrets; they are hidden (replaced by an empty file) in the sandbox.
ETC_SECRETS = ["shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "security/opasswd"]
ETC_SECRET_DIRS = ["ssh", "sudoers.d", "ssl/private"]
# Where the kernel's HOME is: a private tmpfs (IPython's history, matplotlib's and pip's caches).
SANDBOX_HOME = "/home/ynotebook"
# Variables of the kernel environment that the kernel does not need to see.
# JPY_PARENT_PID: ipykernel exits when its parent is not that pid (in the sandbox its parent is
# bwrap's pid 1, and the gateway's pid means nothing there); --die-with-parent does that job.
LAUNCHER_ONLY_ENV = ("KERNEL_WORKING_DIR_ROOT",)
SANDBOX_DROP_ENV = ("JPY_PARENT_PID",)
PIP_TARGET_SUBDIR = os.path.join(".ynotebook", "site-packages")
CGROUP_V1_PIDS = "/sys/fs/cgroup/pids"
CGROUP_GROUP = "ynotebook-kernels"


def fail(msg):
    # The gateway logs the kernel's stderr; the server shows the start failure in the cell.
    print("ynotebook kernel launcher: %s" % msg, file=sys.stderr, flush=True)
    sys.exit(70)


def parse_args(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--sandbox", choices=["on", "off"], default="off")
    p.add_argument("--bwrap", default="bwrap")
    p.add_argument("--work-root", default="")
    p.add_argument("--memory-mb", type=int, default=0)
    p.add_argument("--pids-max", type=int, default=0)
    p.add_argument("--tmp-mb", type=int, default=512)
    p.add_argument("--network", choices=["host", "none"], default="host")
    p.add_argument("--ipc-root", default="", help="folder of the per-kernel ipc socket folders (--network none)")
    p.add_argument("--ro", action="append", default=[], help="extra read-only path inside the sandbox")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if not args.cmd:
        fail("no kernel command given")
    return args


def working_dir(args):
    wd = os.environ.get("KERNEL_WORKING_DIR", "")
    if not wd or not os.path.isabs(wd):
        fail("KERNEL_WORKING_DIR is missing or not absolute; refusing to start a kernel without its own folder")
    wd = os.path.realpath(wd)
    if args.work_root:
        root = os.path.realpath(args.work_root)
        # exactly one level below the work root: a notebook's own folder, nothing above or beside
        if os.path.dirname(wd) != root:
            fail("KERNEL_WORKING_DIR %s is not a folder of the work root %s" % (wd, root))
    os.makedirs(wd, exist_ok=True)
    return wd


def set_limits(args):
    if args.memory_mb > 0:
        # RLIMIT_AS: address space, inherited by bwrap and the kernel. An allocation past it fails
        # (Python raises MemoryError) instead of the machine swapping or the OOM killer choosing.
        limit = args.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def join_pids_cgroup(args):
    """Puts this process (and so the kernel) in a pids cgroup limited to --pids-max. cgroup v1 only."""
    if args.pids_max <= 0 or not os.path.isdir(CGROUP_V1_PIDS):
        return
    parent = os.path.join(CGROUP_V1_PIDS, CGROUP_GROUP)
    try:
        os.makedirs(parent, exist_ok=True)
        # groups of kernels that are gone are empty; rmdir refuses the others (EBUSY)
        for name in os.listdir(parent):
            d = os.path.join(parent, name)
            if os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        mine = os.path.join(parent, uuid.uuid4().hex)
        os.mkdir(mine)
        with open(os.path.join(mine, "pids.max"), "w") as f:
            f.write(str(args.pids_max))
        with open(os.path.join(mine, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    except OSError as e:
        print("ynotebook kernel launcher: no process limit (pids cgroup not usable: %s)" % e, file=sys.stderr, flush=True)


def connection_file(cmd):
    for i, a in enumerate(cmd):
        if a == "-f" and i + 1 < len(cmd):
            return os.path.abspath(cmd[i + 1])
        if a.startswith("--f="):
            return os.path.abspath(a[4:])
    fail("no connection file in the kernel command")


def ipc_socket_dir(args, cf):
    """The folder of this kernel's ipc sockets (KERNEL_NETWORK=none), checked to be one of ours."""
    if args.network != "none":
        return None
    try:
        with open(cf) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        fail("cannot read the connection file %s: %s" % (cf, e))
    if info.get("transport") != "ipc":
        fail("KERNEL_NETWORK=none needs the ipc transport, but the connection file says %r" % info.get("transport"))
    d = os.path.realpath(os.path.dirname(info.get("ip", "")))
    if not args.ipc_root or os.path.dirname(d) != os.path.realpath(args.ipc_root):
        fail("the ipc socket folder %s is not one of %s" % (d, args.ipc_root))
    return d


def ro_path(out, path):
    """Binds a host path read-only at the same place; symlinks (/bin -> usr/bin) stay symlinks."""
    if os.path.islink(path):
        out += ["--symlink", os.readlink(path), path]
    elif os.path.exists(path):
        out += ["--ro-bind", path, path]


def sandbox_env(wd):
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_ONLY_ENV + SANDBOX_DROP_ENV and not k.startswith("KG_")}
    env["HOME"] = SANDBOX_HOME
    env["TMPDIR"] = "/tmp"
    env["KERNEL_WORKING_DIR"] = wd
    return env


def pip_env(env, wd):
    # `!pip install` / `%pip install` go to the notebook's own folder; that folder is on the path
    # of the kernel and of its subprocesses. The shared environment is read-only anyway.
    target = os.path.join(wd, PIP_TARGET_SUBDIR)
    env["PIP_TARGET"] = target
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # HOME is a small per-kernel tmpfs: a download cache there would only eat it
    env["PIP_NO_CACHE_DIR"] = "1"
    env["YNOTEBOOK_PIP_TARGET"] = target
    env["PYTHONPATH"] = target + ((os.pathsep + env["PYTHONPATH"]) if env.get("PYTHONPATH") else "")
    return env


def limit_env(env, args):
    if args.memory_mb > 0:
        # the kernel's start-up code adds this limit to a MemoryError's output
        env["YNOTEBOOK_MEMORY_MB"] = str(args.memory_mb)
        # glibc reserves 64 MiB of address space per thread arena; a few arenas keep an idle kernel
        # small under RLIMIT_AS without costing speed in a mostly single-threaded kernel
        env.setdefault("MALLOC_ARENA_MAX", "2")
    return env


def bwrap_command(args, wd, env):
    cf = connection_file(args.cmd)
    b = [args.bwrap]
    b += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent"]
    b += ["--hostname", "ynotebook"]
    if args.network == "none":
        b += ["--unshare-net"]
    # as root, bwrap keeps no capability unless told; say so explicitly
    b += ["--cap-drop", "ALL"]
    for p in ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]:
        ro_path(b, p)
    for name in ETC_SECRETS:
        p = os.path.join("/etc", name)
        if os.path.isfile(p):
            b += ["--ro-bind", "/dev/null", p]
    for name in ETC_SECRET_DIRS:
        p = os.path.join("/etc", name)
        if os.path.isdir(p) and not os.path.islink(p):
            b += ["--tmpfs", p, "--remount-ro", p]
    b += ["--proc", "/proc", "--dev", "/dev"]
    b += ["--size", str(args.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    b += ["--size", str(args.tmp_mb * 1024 * 1024), "--tmpfs", SANDBOX_HOME]
    # Everything below comes after the private /tmp: a checkout, the venv, the work root or the
    # runtime dir may live below /tmp (a fresh clone in /tmp, tests, XDG dirs), and a bind made
    # before the tmpfs would be hidden by it.
    # The interpreter: the venv and the installation it points to (pyenv, /opt/python, ...).
    prefixes = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), os.path.abspath(sys.prefix)}
    for extra in args.ro:
        prefixes.add(os.path.abspath(extra))
    for p in sorted(prefixes):
        if not any(p == s or p.startswith(s + "/") for s in ("/usr", "/bin", "/lib", "/lib64")):
            b += ["--ro-bind", p, p]
    b += ["--bind", wd, wd]
    b += ["--ro-bind", cf, cf]
    ipc_dir = ipc_socket_dir(args, cf)
    if ipc_dir:
        b += ["--bind", ipc_dir, ipc_dir]
    # the sandbox's own root (a tmpfs holding the mount points) read-only too: nothing can be
    # written outside the working directory, /tmp and HOME, not even a throwaway file
    b += ["--remount-ro", "/"]
    b += ["--chdir", wd, "--clearenv"]
    for k, v in sorted(env.items()):
        b += ["--setenv", k, v]
    return b + ["--"] + args.cmd


def main():
    args = parse_args(sys.argv[1:])
    wd = working_dir(args)
    set_limits(args)
    join_pids_cgroup(args)
    # The gateway interrupts a kernel by sending SIGINT to its process group. bwrap itself would die
    # of it (and with it the kernel); ignored here, the disposition is inherited by bwrap, while the
    # kernel installs its own SIGINT handler and still gets its KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.sandbox == "on":
        env = limit_env(pip_env(sandbox_env(wd), wd), args)
        cmd = bwrap_command(args, wd, env)
        try:
            os.execvpe(cmd[0], cmd, env)
        except OSError as e:
            fail("could not run bubblewrap (%s): %s" % (cmd[0], e))
    env = limit_env(pip_env({k: v for k, v in os.environ.items() if k not in LAUNCHER_ONLY_ENV and not k.startswith("KG_")}, wd), args)
    os.chdir(wd)
    os.execvpe(args.cmd[0], args.cmd, env)


if __name__ == "__main__":
    main()
