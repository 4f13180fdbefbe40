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
the gateway's runtime folder (other kernels' connection keys). Unless --network host, it has a
network namespace of its own too, with outbound internet through slirp4netns for --network
internet (see "The kernel's network" below and docs/decisions/0022-kernel-network-namespace.md).
"""

import argparse
import ctypes
import errno
import fcntl
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
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
    p.add_argument("--memory-cgroup", choices=["on", "off"], default="off", help="--memory-mb for the kernel and its children together")
    p.add_argument("--disk-mb", type=int, default=0, help="the working directory's quota (FILES_QUOTA_MB; 0: none)")
    p.add_argument("--disk-quota", choices=["on", "off"], default="off", help="on: a file system of --disk-mb; off: one file at most --disk-mb")
    p.add_argument("--probe", action="store_true", help="print what of the per-kernel limits works here (JSON) and exit")
    p.add_argument("--kernel-user", default="", help="uid:gid the sandboxed kernel runs as (empty: the launcher's)")
    p.add_argument("--network", choices=["host", "none", "internet"], default="host")
    p.add_argument("--ipc-root", default="", help="folder of the per-kernel ipc socket folders (--network none|internet)")
    p.add_argument("--slirp4netns", default="slirp4netns", help="the user-mode networking tool (--network internet)")
    p.add_argument("--ro", action="append", default=[], help="extra read-only path inside the sandbox")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    if not args.cmd and not args.probe:
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
        sweep_empty_groups(parent)
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
    """The folder of this kernel's ipc sockets (a network namespace of its own), checked to be one of ours."""
    if args.network == "host":
        return None
    try:
        with open(cf) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        fail("cannot read the connection file %s: %s" % (cf, e))
    if info.get("transport") != "ipc":
        fail("KERNEL_NETWORK=%s needs the ipc transport, but the connection file says %r" % (args.network, info.get("transport")))
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


def bwrap_command(args, wd, env, net=None):
    cf = connection_file(args.cmd)
    b = [args.bwrap]
    b += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent"]
    b += ["--hostname", "ynotebook"]
    b += network_args(args, net)
    # as root, bwrap keeps no capability unless told; say so explicitly
    b += ["--cap-drop", "ALL"]
    if args.drop_to:
        # only to become the kernel's user (drop_privileges); a uid change clears them all
        b += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
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
    b += network_mounts(net)
    b += ["--proc", "/proc", "--dev", "/dev"]
    # bwrap makes them as root: world-writable (sticky) for the kernel's own user, the only one there
    tmp_perms = ["--perms", "1777"] if args.drop_to else []
    b += tmp_perms + ["--size", str(args.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    b += tmp_perms + ["--size", str(args.tmp_mb * 1024 * 1024), "--tmpfs", SANDBOX_HOME]
    # Everything below comes after the private /tmp: a checkout, the venv, the work root or the
    # runtime dir may live below /tmp (a fresh clone in /tmp, tests, XDG dirs), and a bind made
    # before the tmpfs would be hidden by it.
    # The interpreter: the venv and the installation it points to (pyenv, /opt/python, ...).
    prefixes = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), os.path.abspath(sys.prefix)}
    for extra in args.ro:
        prefixes.add(os.path.abspath(extra))
    prefixes = [p for p in sorted(prefixes) if not any(p == s or p.startswith(s + "/") for s in ("/usr", "/bin", "/lib", "/lib64"))]
    ipc_dir = ipc_socket_dir(args, cf)
    if args.drop_to:
        visible_parents(b, prefixes + [wd, cf, ipc_dir])
    for p in prefixes:
        b += ["--ro-bind", p, p]
    b += ["--bind", wd, wd]
    b += ["--ro-bind", cf, cf]
    if ipc_dir:
        b += ["--bind", ipc_dir, ipc_dir]
    # the sandbox's own root (a tmpfs holding the mount points) read-only too: nothing can be
    # written outside the working directory, /tmp and HOME, not even a throwaway file
    b += ["--remount-ro", "/"]
    b += ["--chdir", wd, "--clearenv"]
    for k, v in sorted(env.items()):
        b += ["--setenv", k, v]
    return b + ["--"] + args.cmd

# --- Resources per kernel and an unprivileged kernel (docs/decisions/0023-kernel-resources.md) ---
# Kept apart from the sandbox's mounts above: a memory cgroup for the kernel and all its children,
# a file system of its own (a loop-mounted ext4 image) as the working directory's disk quota, and
# the sandboxed kernel dropped to an unprivileged uid, so nothing it makes belongs to root.
CGROUP_FS = "/sys/fs/cgroup"
# The working directory's file system: an image file inside the folder, mounted over the folder in
# a mount namespace of the kernel's own. The host's folder shows only the image; the kernel, only
# its files. Renaming the folder (a claimed spare) takes the image along.
DISK_IMAGE_NAME = ".ynotebook-disk.img"
MiB = 1024 * 1024
# ext4 keeps its metadata (journal, inode tables) in the image: it is made this much larger than the
# quota at most, until what files can use is the quota itself
DISK_SIZE_PASSES = 2
# A kernel that is being restarted may still hold the image's loop device for a moment
DISK_MOUNT_ATTEMPTS = 50
# nosuid, nodev: a setuid file or a device node in the folder means nothing. noinit_itable: the
# image is a fresh sparse file (its inode tables read as zeros), so ext4 need not write them out
# in the background, which would take host disk the notebook never used. discard: a deleted file
# punches its blocks out of the image, so the host gets that disk back.
DISK_MOUNT_OPTIONS = "loop,nosuid,nodev,noatime,noinit_itable,discard"
DISK_MOUNT_RETRY_S = 0.1
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_SLAVE = 0x80000
# Runs inside the sandbox as root with only CAP_SETUID/CAP_SETGID, then becomes the kernel: -I -S so
# that nothing of the notebook's folder (a sitecustomize.py on PYTHONPATH) runs before the drop.
DROP_PRIVILEGES_CODE = (
    "import os, sys\n"
    "u, g = int(sys.argv[1]), int(sys.argv[2])\n"
    "os.setgroups([]); os.setresgid(g, g, g); os.setresuid(u, u, u)\n"
    "if os.getresuid() != (u, u, u) or os.getresgid() != (g, g, g) or os.getgroups(): os._exit(70)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def note(msg):
    print("ynotebook kernel launcher: %s" % msg, file=sys.stderr, flush=True)


def own_cgroup(controller):
    """This process's group in the v1 hierarchy of `controller`, or in the unified one (None)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                hid, ctrls, path = line.rstrip("\n").split(":", 2)
                if (controller is None and hid == "0") or (controller and controller in ctrls.split(",")):
                    return path
    except OSError:
        pass
    return "/"


def memory_cgroup_parent():
    """(folder of the kernels' memory groups, 'v1' | 'v2'), below this process's own group, so a
    limit put on the server's service still holds its kernels too; (None, reason) when neither."""
    v1 = os.path.join(CGROUP_FS, "memory")
    if os.path.isfile(os.path.join(v1, "memory.limit_in_bytes")):
        base = os.path.join(v1, own_cgroup("memory").lstrip("/"))
        return os.path.join(base if os.path.isdir(base) else v1, CGROUP_GROUP), "v1"
    if os.path.isfile(os.path.join(CGROUP_FS, "cgroup.controllers")):
        return os.path.join(CGROUP_FS, own_cgroup(None).lstrip("/"), CGROUP_GROUP), "v2"
    return None, "no cgroup memory controller is mounted at %s" % CGROUP_FS


def sweep_empty_groups(parent):
    # groups of kernels that are gone are empty; rmdir refuses the others (EBUSY)
    for name in os.listdir(parent):
        d = os.path.join(parent, name)
        if os.path.isdir(d):
            try:
                os.rmdir(d)
            except OSError:
                pass


def write_file(path, value):
    with open(path, "w") as f:
        f.write(value)


def make_memory_cgroup(limit_bytes):
    """Makes a memory group limited to limit_bytes (memory and swap) and returns its folder."""
    parent, version = memory_cgroup_parent()
    if parent is None:
        raise OSError(errno.ENOENT, version)
    if version == "v2" and not os.path.isdir(parent):
        os.mkdir(parent)
    if version == "v2":
        # the controller must be handed down; the kernel's own group is a leaf below ours
        write_file(os.path.join(os.path.dirname(parent), "cgroup.subtree_control"), "+memory")
        write_file(os.path.join(parent, "cgroup.subtree_control"), "+memory")
    os.makedirs(parent, exist_ok=True)
    sweep_empty_groups(parent)
    mine = os.path.join(parent, uuid.uuid4().hex)
    os.mkdir(mine)
    try:
        if version == "v1":
            write_file(os.path.join(mine, "memory.limit_in_bytes"), str(limit_bytes))
            # memsw (memory + swap) exists only with swap accounting; without it there is no swap to escape to
            if os.path.exists(os.path.join(mine, "memory.memsw.limit_in_bytes")):
                write_file(os.path.join(mine, "memory.memsw.limit_in_bytes"), str(limit_bytes))
        else:
            write_file(os.path.join(mine, "memory.max"), str(limit_bytes))
            if os.path.exists(os.path.join(mine, "memory.swap.max")):
                write_file(os.path.join(mine, "memory.swap.max"), "0")
    except OSError:
        os.rmdir(mine)
        raise
    return mine


def join_memory_cgroup(args):
    """Puts this process (and so the kernel and every child it starts) in a memory group of
    --memory-mb. Past it the kernel's OOM killer ends the largest process of the group (often the
    child that allocated); the server and the other kernels are not touched."""
    if args.memory_cgroup != "on" or args.memory_mb <= 0:
        return
    try:
        mine = make_memory_cgroup(args.memory_mb * MiB)
        write_file(os.path.join(mine, "cgroup.procs"), str(os.getpid()))
    except OSError as e:
        note("no memory limit for the kernel as a whole, only per process (memory cgroup not usable: %s)" % e)


def unshare_mount_namespace():
    """A mount namespace of this launcher's own (inherited by bwrap or the kernel): what is mounted
    here is seen by the kernel alone and goes away with its last process."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "unshare(CLONE_NEWNS): %s" % os.strerror(e))
    # slave: the host's later mounts still reach us, ours never reach the host
    if libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "making / a slave mount: %s" % os.strerror(e))


# mkfs.ext4, losetup, mount live in sbin, which the gateway's PATH leaves out
TOOLS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def run_tool(cmd, ok=(0,)):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={"PATH": TOOLS_PATH, "LC_ALL": "C"})
    if r.returncode not in ok:
        raise OSError(errno.EIO, "%s failed (%d): %s" % (cmd[0], r.returncode, r.stdout.strip()[-300:]))
    return r.stdout


def ext4_free_bytes(image):
    out = run_tool(["dumpe2fs", "-h", image])
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return int(fields["Free blocks"].strip()) * int(fields["Block size"].strip())


def make_ext4(image, size, user):
    with open(image, "wb") as f:
        f.truncate(size)  # sparse: the image takes on disk what its files take
    opts = "lazy_itable_init=1,lazy_journal_init=1" + (",root_owner=%d:%d" % user if user else "")
    run_tool(["mkfs.ext4", "-q", "-F", "-m", "0", "-L", "ynotebook", "-E", opts, image])


def make_disk_image(image, usable_bytes, user):
    size = usable_bytes
    for _ in range(DISK_SIZE_PASSES):
        make_ext4(image, size, user)
        free = ext4_free_bytes(image)
        if free >= usable_bytes:
            return
        size += usable_bytes - free + MiB


def tree_bytes(top, skip):
    total = 0
    for name in os.listdir(top):
        if name in skip:
            continue
        p = os.path.join(top, name)
        st = os.lstat(p)
        total += st.st_size
        if os.path.isdir(p) and not os.path.islink(p):
            for root, dirs, files in os.walk(p):
                for n in dirs + files:
                    try:
                        total += os.lstat(os.path.join(root, n)).st_size
                    except OSError:
                        pass
    return total


def mount_image(image, target):
    last = None
    for _ in range(DISK_MOUNT_ATTEMPTS):
        try:
            # libmount reuses the loop device of an image that is still mounted (a kernel being
            # restarted): one superblock, never two writers on one ext4
            run_tool(["mount", "-t", "ext4", "-o", DISK_MOUNT_OPTIONS, image, target])
            return
        except OSError as e:
            last = e
            time.sleep(DISK_MOUNT_RETRY_S)
    raise last


def drop_empty_lost_found(root):
    # not a file of the notebook's (the Files panel would list it); e2fsck makes it again when it needs it
    lost = os.path.join(root, "lost+found")
    try:
        if os.path.isdir(lost) and not os.path.islink(lost) and not os.listdir(lost):
            os.rmdir(lost)
    except OSError:
        pass


def create_disk(wd, image, quota_bytes, user):
    """The first start with a quota: the folder's files (an earlier kernel's) move into a new image."""
    skip = {DISK_IMAGE_NAME, DISK_IMAGE_NAME + ".new"}
    existing = [n for n in os.listdir(wd) if n not in skip]
    used = tree_bytes(wd, skip)
    # a folder already past the quota keeps its files; new writes fail until some are deleted
    target = max(quota_bytes, used + used // 10 + 4 * MiB) if existing else quota_bytes
    new = image + ".new"
    make_disk_image(new, target, user)
    mnt = tempfile.mkdtemp(prefix="ynb-disk-")
    try:
        run_tool(["mount", "-t", "ext4", "-o", DISK_MOUNT_OPTIONS, new, mnt])
        try:
            drop_empty_lost_found(mnt)
            if existing:
                run_tool(["cp", "-a", "--"] + [os.path.join(wd, n) for n in existing] + [mnt + "/"])
                if user:
                    run_tool(["chown", "-R", "-h", "-P", "%d:%d" % user, mnt])
        finally:
            run_tool(["umount", mnt])
    finally:
        os.rmdir(mnt)
    os.rename(new, image)
    for n in existing:
        p = os.path.join(wd, n)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except OSError:
                pass


def grow_disk(image, quota_bytes):
    """FILES_QUOTA_MB was raised: the image grows (offline, when no kernel has it mounted)."""
    # an image made for this quota is larger than it (metadata on top): nothing to read then
    if os.path.getsize(image) >= quota_bytes or ext4_free_bytes(image) >= quota_bytes:
        return False
    if run_tool(["losetup", "-j", image]).strip():
        return False  # mounted by a kernel still going away; the next start grows it
    run_tool(["e2fsck", "-f", "-p", image], ok=(0, 1))  # 1: it fixed something (it makes lost+found again)
    for _ in range(DISK_SIZE_PASSES):
        free = ext4_free_bytes(image)
        if free >= quota_bytes:
            break
        with open(image, "r+b") as f:
            f.truncate(os.path.getsize(image) + quota_bytes - free + MiB)
        run_tool(["resize2fs", image])
    return True


def quota_mount(args, wd, user):
    """Mounts the notebook's own file system (an ext4 image of --disk-mb) over its working directory,
    nosuid and nodev, in a mount namespace of this kernel's own. A write past it fails with ENOSPC."""
    image = os.path.join(wd, DISK_IMAGE_NAME)
    quota_bytes = args.disk_mb * MiB
    unshare_mount_namespace()
    lock = os.open(wd, os.O_RDONLY | os.O_DIRECTORY)  # closed (unlocked) at exec
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        grown = False
        if not os.path.exists(image):
            create_disk(wd, image, quota_bytes, user)
        else:
            try:
                grown = grow_disk(image, quota_bytes)
            except OSError as e:
                note("the notebook's disk keeps its size: %s" % e)
        mount_image(image, wd)
        if grown:
            drop_empty_lost_found(wd)
    finally:
        os.close(lock)
    if user:
        os.chown(wd, *user)


def file_size_limit(args):
    """Without a file system of its own, one file at most --disk-mb (RLIMIT_FSIZE; Python ignores
    SIGXFSZ, so the write fails with EFBIG). It does not bound many files."""
    if args.disk_mb > 0:
        limit = args.disk_mb * MiB
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def kernel_user(args):
    """(uid, gid) the sandboxed kernel runs as, or None (not root: it runs as this process's user)."""
    if not args.kernel_user or os.geteuid() != 0:
        return None
    try:
        uid, gid = (int(x) for x in args.kernel_user.split(":"))
    except ValueError:
        fail("--kernel-user must be uid:gid, not %r" % args.kernel_user)
    if uid == 0:
        fail("--kernel-user must not be root")
    return uid, gid


def give_to_kernel_user(user, wd, paths):
    """The working directory and what the kernel must open (its connection file, its ipc folder)
    belong to the kernel's user. Files an earlier kernel made as root become the kernel's once;
    links are changed themselves, never followed."""
    if os.lstat(wd).st_uid != user[0]:
        run_tool(["chown", "-R", "-h", "-P", "%d:%d" % user, wd])
    for p in paths:
        if p:
            os.chown(p, *user)


def disk_env(env, args):
    if args.disk_mb > 0:
        # the kernel's start-up code adds the quota to an ENOSPC / EFBIG error's output
        env["YNOTEBOOK_FILES_QUOTA_MB"] = str(args.disk_mb)
        env["YNOTEBOOK_FILES_QUOTA_KIND"] = "folder" if args.disk_quota == "on" else "file"
    return env


def visible_parents(b, paths):
    """bwrap makes the folders above a bind mount as root, mode 0700 (/root of /root/.pyenv, /work):
    made first here, 0755, so the kernel's user can reach what is bound below them."""
    made = set()
    for p in paths:
        if not p:
            continue
        parents = []
        d = os.path.dirname(p)
        while d not in ("/", ""):
            parents.append(d)
            d = os.path.dirname(d)
        for d in reversed(parents):
            if d not in made and not any(d == s or d.startswith(s + "/") for s in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev")):
                made.add(d)
                b += ["--perms", "0755", "--dir", d]


def drop_privileges(user, cmd):
    """The kernel command, run through a step that leaves root for `user` inside the sandbox."""
    return [cmd[0], "-I", "-S", "-c", DROP_PRIVILEGES_CODE, str(user[0]), str(user[1])] + cmd


def probe(args):
    """What of the above works on this machine, as JSON for the server's state (sandbox.ts)."""
    out = {"memoryCgroup": None, "disk": None, "user": None}
    if args.memory_mb > 0:
        try:
            os.rmdir(make_memory_cgroup(args.memory_mb * MiB))
        except OSError as e:
            out["memoryCgroup"] = str(e)
    else:
        out["memoryCgroup"] = "no KERNEL_MEMORY_MB"
    if os.geteuid() != 0:
        out["disk"] = "the server does not run as root, so it cannot mount a file system per notebook"
        out["user"] = "the server does not run as root: kernels run as its uid %d" % os.geteuid()
    else:
        d = tempfile.mkdtemp(prefix="ynb-disk-probe-")
        try:
            unshare_mount_namespace()
            image = os.path.join(d, "probe.img")
            make_ext4(image, 8 * MiB, None)
            mount_point = os.path.join(d, "mnt")
            os.mkdir(mount_point)
            run_tool(["mount", "-t", "ext4", "-o", "loop,nosuid,nodev", image, mount_point])
            run_tool(["umount", mount_point])
        except OSError as e:
            out["disk"] = str(e)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print(json.dumps(out), flush=True)


# --- The kernel's network (KERNEL_NETWORK) ---------------------------------------------------
# `host`: the host's network (an explicit, unsafe opt-out). `none`: a network namespace of its own
# with only its own loopback. `internet`: the same namespace, plus outbound connections through
# slirp4netns (user-mode TCP/IP: the kernel's packets become ordinary sockets of a helper process
# on the host). Either way the ZeroMQ channels to the gateway are ipc sockets (ynotebook_ipc.py),
# so nothing of the kernel listens on the host's loopback, and nothing on the host's loopback
# (the app, the gateway, other kernels) is reachable from it. See
# docs/decisions/0022-kernel-network-namespace.md.
# slirp4netns' fixed addresses: its network, the gateway (the host's loopback, unless disabled,
# which we do) and its DNS forwarder, which asks the host's resolvers.
SLIRP_DNS = "10.0.2.3"
# Address ranges no kernel may reach even with internet: link-local holds the cloud metadata
# endpoints (169.254.169.254: an instance's credentials).
ALWAYS_UNREACHABLE_V4 = [("169.254.0.0", 16)]
# bwrap waits this long at most for the network to be set up; past it the kernel starts without.
NETWORK_SETUP_TIMEOUT_S = 15
CLONE_NEWNET = 0x40000000
# netlink (linux/rtnetlink.h): add a route of type "unreachable" to the main table
RTM_NEWROUTE = 24
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_CREATE = 0x1, 0x4, 0x100, 0x400
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNREACHABLE = 254, 4, 0, 7
RTA_DST = 1


def network_args(args, net):
    """bwrap's namespace options for the kernel's network; `net` is what prepare_network() set up."""
    if args.network == "host":
        return []
    b = ["--unshare-net"]
    if net:
        # bwrap reports the sandbox's pid on info-fd and waits on block-fd until the helper has
        # connected the namespace
        b += ["--info-fd", str(net["info"]), "--block-fd", str(net["block"])]
    return b


def network_mounts(net):
    """bwrap's mounts for the kernel's network, placed after /etc's: its resolver is slirp4netns'
    DNS forwarder (the host's may be on the host's loopback, e.g. systemd-resolved's 127.0.0.53)."""
    # readable by the kernel user (bwrap makes data files 0600, root's, by default)
    return ["--perms", "0444", "--ro-bind-data", str(net["resolv"]), "/etc/resolv.conf"] if net else []


def host_ipv4_addresses():
    """Every IPv4 address of this host (all interfaces, secondaries too), from the kernel's FIB."""
    found, last = set(), None
    with open("/proc/net/fib_trie") as f:
        for line in f:
            t = line.strip()
            if t.startswith("|--") or t.startswith("+--"):
                last = t[3:].strip().split("/")[0]
            elif t == "/32 host LOCAL" and last:
                found.add(last)
    return sorted(a for a in found if not a.startswith("127."))


def warn(msg):
    print("ynotebook kernel launcher: %s" % msg, file=sys.stderr, flush=True)


def _setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: %s" % os.strerror(e))


def add_unreachable_routes(prefixes):
    """Adds `unreachable` routes to the current network namespace (rtnetlink, no iproute2 needed)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    try:
        s.bind((0, 0))
        for seq, (addr, plen) in enumerate(prefixes, 1):
            body = struct.pack("BBBBBBBBI", socket.AF_INET, plen, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNREACHABLE, 0)
            body += struct.pack("HH", 8, RTA_DST) + socket.inet_aton(addr)
            flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
            s.send(struct.pack("IHHII", 16 + len(body), RTM_NEWROUTE, flags, seq, 0) + body)
            reply = s.recv(65536)
            _, kind, _, _, _ = struct.unpack("IHHII", reply[:16])
            err = struct.unpack("i", reply[16:20])[0] if kind == NLMSG_ERROR else 0
            if err:
                raise OSError(-err, "route to %s/%d: %s" % (addr, plen, os.strerror(-err)))
    finally:
        s.close()


def block_host_addresses(pid, host_v4):
    """In the sandbox's network namespace: the host's own addresses and link-local unreachable.

    slirp4netns turns a connection to any address into a socket of the host, so without these a
    kernel would reach the host's services through the host's own (non-loopback) addresses.
    """
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    try:
        _setns(target)
        try:
            add_unreachable_routes([(a, 32) for a in host_v4] + ALWAYS_UNREACHABLE_V4)
        finally:
            _setns(here)
    finally:
        os.close(here)
        os.close(target)


def read_child_pid(fd):
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except ValueError:
            continue


def connect_namespace(args, fds, host_v4):
    """The helper: once bwrap made the namespace, fence it off, start slirp4netns, let bwrap go on.

    Whatever fails, bwrap goes on (block-fd is written, or closed when this process dies) and the
    kernel starts with only its own loopback: without network, never with the host's.
    """
    slirp = None
    try:
        # SIGALRM's default action ends this helper; bwrap then reads EOF on block-fd
        signal.alarm(NETWORK_SETUP_TIMEOUT_S)
        pid = read_child_pid(fds["info_r"])
        if pid is None:
            return  # bwrap failed before making the sandbox; it says why itself
        block_host_addresses(pid, host_v4)
        ready_r, ready_w = os.pipe()
        cmd = [args.slirp4netns, "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp"]
        # exit-fd: slirp4netns ends when the sandbox (which holds the other end) is gone
        cmd += ["--ready-fd", str(ready_w), "--exit-fd", str(fds["exit_r"]), str(pid), "tap0"]
        slirp = subprocess.Popen(cmd, pass_fds=(ready_w, fds["exit_r"]), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(ready_w)
        if os.read(ready_r, 1) != b"1":
            raise OSError("slirp4netns exited with status %s" % slirp.wait())
    except Exception as e:  # noqa: BLE001 (any failure means: no network, said once)
        warn("this kernel has NO network (%s)" % e)
        if slirp and slirp.poll() is None:
            slirp.kill()
    finally:
        os.write(fds["block_w"], b"1")


def prepare_network(args):
    """KERNEL_NETWORK=internet: starts the helper that connects the sandbox's namespace (above).

    Returns the descriptors bwrap gets (network_args), or None when there is nothing to connect.
    The helper is a grandchild in a session of its own, so the gateway's SIGINT to the kernel's
    process group (an interrupt) never reaches it or slirp4netns, and nothing waits for it.
    """
    if args.network != "internet":
        return None
    try:
        host_v4 = host_ipv4_addresses()
    except OSError as e:
        warn("this kernel has NO network (cannot list the host's addresses to fence them off: %s)" % e)
        return None
    info_r, info_w = os.pipe()
    block_r, block_w = os.pipe()
    exit_r, exit_w = os.pipe()
    resolv_r, resolv_w = os.pipe()
    os.write(resolv_w, ("nameserver %s\n" % SLIRP_DNS).encode())
    os.close(resolv_w)
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                for fd in (info_w, block_r, exit_w, resolv_r):
                    os.close(fd)
                connect_namespace(args, {"info_r": info_r, "block_w": block_w, "exit_r": exit_r}, host_v4)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    for fd in (info_r, block_w, exit_r):
        os.close(fd)
    # kept across the exec into bwrap; exit_w stays open in the sandbox for as long as it lives
    for fd in (info_w, block_r, exit_w, resolv_r):
        os.set_inheritable(fd, True)
    return {"info": info_w, "block": block_r, "resolv": resolv_r}


def main():
    args = parse_args(sys.argv[1:])
    if args.probe:
        probe(args)
        return
    wd = working_dir(args)
    # before the limits and the cgroup: the networking helper is not the kernel's and must not
    # count against (or be killed with) the kernel's memory and processes
    net = prepare_network(args) if args.sandbox == "on" else None
    set_limits(args)
    join_pids_cgroup(args)
    join_memory_cgroup(args)
    # without the sandbox the kernel runs as the server's user, on purpose (KERNEL_SANDBOX=off)
    args.drop_to = kernel_user(args) if args.sandbox == "on" else None
    if args.disk_quota == "on" and args.disk_mb > 0:
        try:
            quota_mount(args, wd, args.drop_to)
        except OSError as e:
            fail("cannot mount this notebook's disk (FILES_QUOTA_MB=%d) at %s: %s" % (args.disk_mb, wd, e))
    else:
        if os.path.exists(os.path.join(wd, DISK_IMAGE_NAME)):
            # the kernel would see an empty folder and the person think the files lost
            fail("this notebook's files are in its disk image %s, which this server cannot mount now (a file system per notebook needs root and loop devices: see the server's log)" % os.path.join(wd, DISK_IMAGE_NAME))
        file_size_limit(args)
    # The gateway interrupts a kernel by sending SIGINT to its process group. bwrap itself would die
    # of it (and with it the kernel); ignored here, the disposition is inherited by bwrap, while the
    # kernel installs its own SIGINT handler and still gets its KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.sandbox == "on":
        if args.drop_to:
            cf = connection_file(args.cmd)
            give_to_kernel_user(args.drop_to, wd, [cf, ipc_socket_dir(args, cf)])
            args.cmd = drop_privileges(args.drop_to, args.cmd)
        env = disk_env(limit_env(pip_env(sandbox_env(wd), wd), args), args)
        env["YNOTEBOOK_NETWORK"] = args.network
        cmd = bwrap_command(args, wd, env, net)
        try:
            os.execvpe(cmd[0], cmd, env)
        except OSError as e:
            fail("could not run bubblewrap (%s): %s" % (cmd[0], e))
    env = disk_env(limit_env(pip_env({k: v for k, v in os.environ.items() if k not in LAUNCHER_ONLY_ENV and not k.startswith("KG_")}, wd), args), args)
    os.chdir(wd)
    os.execvpe(args.cmd[0], args.cmd, env)


if __name__ == "__main__":
    main()
