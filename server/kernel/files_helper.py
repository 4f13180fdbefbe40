# Runs inside every notebook kernel (installed by the kernel layer's start-up code, in its own
# namespace: nothing here is visible to the notebook's code). It serves the files API of the
# notebook's working directory over a Jupyter comm, so uploads and downloads work with any gateway
# (embedded, remote Kernel Gateway, Enterprise Gateway) and never rely on a disk shared with the
# server. Bytes travel as binary comm buffers: no base64, no JSON escaping.
#
# Protocol (one comm per operation; the server opens it with target TARGET):
#   open {op: 'list', maxEntries}            -> {ok, files: [{path, size, modified}], truncated}
#   open {op: 'delete', path}                -> {ok}
#   open {op: 'put', path, size?, maxFileBytes, quotaBytes}
#                                             -> {ok}; then msgs {op: 'chunk'} + buffers -> {ok, written}
#                                                {op: 'commit'} -> {ok, path, size, sha256}; {op: 'abort'}
#   open {op: 'get', path}                   -> {ok, size}; then msgs {op: 'read', offset, length} -> {ok} + buffers
#   open {op: 'packages'}                    -> {ok, path, packages: [{name, version}], otherFiles: [name]}
#   open {op: 'remove_packages'}             -> {ok, removed: <number of packages>}
# The app's own folder RESERVED_DIR (the per-notebook `pip install` prefix) is out of reach of
# list/get/put/delete: a file put there (sitecustomize.py) would run at every kernel start. Checked
# on the real path, so a symlink made by the notebook's code does not lead in either.
# Every failure answers {error: {code, message}}; the server maps codes to HTTP statuses.
import errno
import hashlib
import os
import shutil
import stat
import tempfile

TARGET = 'ynotebook.files'
UPLOAD_TEMP_PREFIX = '.ynb-upload-'
# Folders that are tools' caches, not the person's files: not listed (still counted in the quota).
HIDDEN_DIRS = {'__pycache__', '.ipynb_checkpoints'}
# The app's own folder in the working directory (kernel-gateway/kernel_launcher.py PIP_TARGET_SUBDIR)
RESERVED_DIR = '.ynotebook'
PIP_TARGET_SUBDIR = os.path.join(RESERVED_DIR, 'site-packages')
# Names of files in the pip prefix that no package installed, listed at most
MAX_OTHER_FILES = 100


class FileOpError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _inside(root, real):
    return real == root or real.startswith(root + os.sep)


def _reserved_error(rel):
    return FileOpError(
        'RESERVED',
        '%r is in %s/, the app\'s own folder (packages installed with pip): files cannot be put, read or deleted there; '
        'the notebook\'s owner sees and removes installed packages with /packages' % (rel, RESERVED_DIR),
    )


class Files:
    def __init__(self, root):
        self.root_path = root

    @property
    def root(self):
        os.makedirs(self.root_path, exist_ok=True)
        return os.path.realpath(self.root_path)

    def _names(self, rel):
        if not isinstance(rel, str) or not rel:
            raise FileOpError('BAD_PATH', 'the file path is empty')
        names = rel.split('/')
        for n in names:
            if n in ('', '.', '..') or '\\' in n or '\x00' in n or n.startswith(UPLOAD_TEMP_PREFIX):
                raise FileOpError('BAD_PATH', 'the path %r is not allowed' % rel)
        # case-insensitively: a remote gateway's disk may not tell .YNotebook from .ynotebook
        if names[0].lower() == RESERVED_DIR:
            raise _reserved_error(rel)
        return names

    def _is_reserved(self, root, real):
        first = os.path.relpath(real, root).split(os.sep)[0]
        return _inside(root, real) and first.lower() == RESERVED_DIR

    def _parent(self, rel, create):
        """Real path of the folder that holds `rel`, checked to be inside the root (symlinks followed)."""
        root = self.root
        names = self._names(rel)
        cur = root
        for n in names[:-1]:
            nxt = os.path.join(cur, n)
            if create and not os.path.lexists(nxt):
                os.mkdir(nxt)
            real = os.path.realpath(nxt)
            if not _inside(root, real):
                raise FileOpError('OUTSIDE', 'the path %r leads outside the working directory' % rel)
            if self._is_reserved(root, real):
                raise _reserved_error(rel)
            if not os.path.isdir(real):
                raise FileOpError('NOT_FOUND' if not create else 'NOT_A_DIRECTORY', 'no folder %r' % '/'.join(names[: names.index(n) + 1]))
            cur = real
        return root, cur, names[-1]

    def _existing_file(self, rel):
        root, parent, name = self._parent(rel, create=False)
        real = os.path.realpath(os.path.join(parent, name))
        if not _inside(root, real):
            raise FileOpError('OUTSIDE', 'the path %r leads outside the working directory' % rel)
        if self._is_reserved(root, real):
            raise _reserved_error(rel)
        if not os.path.exists(real):
            raise FileOpError('NOT_FOUND', 'no file %r in the working directory' % rel)
        if not os.path.isfile(real):
            raise FileOpError('NOT_A_FILE', '%r is a folder, not a file' % rel)
        return real

    def usage(self):
        total = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            for f in filenames:
                try:
                    st = os.lstat(os.path.join(dirpath, f))
                    if stat.S_ISREG(st.st_mode):
                        total += st.st_size
                except OSError:
                    pass
        return total

    def list(self, max_entries):
        root = self.root
        files = []
        truncated = False
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith('.') and d not in HIDDEN_DIRS)
            for f in sorted(filenames):
                if f.startswith('.'):
                    continue
                full = os.path.join(dirpath, f)
                try:
                    real = os.path.realpath(full)
                    if not _inside(root, real) or self._is_reserved(root, real):
                        continue  # a symlink to somewhere else or into the app's folder: not one of this notebook's files
                    st = os.stat(real)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                if len(files) >= max_entries:
                    truncated = True
                    break
                rel = os.path.relpath(full, root).replace(os.sep, '/')
                files.append({'path': rel, 'size': st.st_size, 'modified': int(st.st_mtime * 1000)})
            if truncated:
                break
        return {'ok': True, 'files': files, 'truncated': truncated}

    def delete(self, rel):
        root, parent, name = self._parent(rel, create=False)
        target = os.path.join(parent, name)
        if not os.path.lexists(target):
            raise FileOpError('NOT_FOUND', 'no file %r in the working directory' % rel)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)  # never follows symlinks inside it
        else:
            os.unlink(target)  # a symlink itself, never what it points to
        return {'ok': True}


    def pip_target(self):
        """The notebook's pip prefix, as the launcher set it; always inside the working directory."""
        root = self.root
        target = os.environ.get('YNOTEBOOK_PIP_TARGET') or os.path.join(root, PIP_TARGET_SUBDIR)
        real = os.path.realpath(target)
        if not _inside(root, real) or real == root:
            real = os.path.realpath(os.path.join(root, PIP_TARGET_SUBDIR))
        return root, real

    def packages(self):
        root, target = self.pip_target()
        packages = []
        owned = set()
        names = sorted(os.listdir(target)) if os.path.isdir(target) else []
        for entry in names:
            if not (entry.endswith('.dist-info') or entry.endswith('.egg-info')):
                continue
            owned.add(entry)
            info = {'name': entry.rsplit('-', 1)[0] if '-' in entry else entry, 'version': ''}
            for meta_name in ('METADATA', 'PKG-INFO'):
                try:
                    with open(os.path.join(target, entry, meta_name), encoding='utf-8', errors='replace') as f:
                        for line in f:
                            if not line.strip():
                                break  # the headers end at the first empty line
                            key, _, value = line.partition(':')
                            if key == 'Name':
                                info['name'] = value.strip()
                            elif key == 'Version':
                                info['version'] = value.strip()
                    break
                except OSError:
                    continue
            packages.append(info)
            # the top-level names this package installed (its RECORD), so the rest can be named
            try:
                with open(os.path.join(target, entry, 'RECORD'), encoding='utf-8', errors='replace') as f:
                    for line in f:
                        first = line.split(',', 1)[0].split('/', 1)[0]
                        if first:
                            owned.add(first)
            except OSError:
                pass
        other = [n for n in names if n not in owned and n not in ('bin', '__pycache__')][:MAX_OTHER_FILES]
        packages.sort(key=lambda p: p['name'].lower())
        return {'ok': True, 'path': os.path.relpath(target, root).replace(os.sep, '/'), 'packages': packages, 'otherFiles': other}

    def remove_packages(self):
        root, target = self.pip_target()
        count = len(self.packages()['packages'])
        if os.path.lexists(target):
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)  # never follows symlinks inside it
            else:
                os.unlink(target)
        return {'ok': True, 'removed': count}


class Upload:
    def __init__(self, files, rel, size, max_file_bytes, quota_bytes):
        self.rel = rel
        self.max_file_bytes = max_file_bytes
        if size is not None and size > max_file_bytes:
            raise FileOpError('FILE_TOO_LARGE', 'file too large')
        used = files.usage()
        existing = 0
        root, parent, name = files._parent(rel, create=True)
        target = os.path.join(parent, name)
        if os.path.isdir(target) and not os.path.islink(target):
            raise FileOpError('IS_A_DIRECTORY', '%r is a folder' % rel)
        try:
            st = os.lstat(target)
            if stat.S_ISREG(st.st_mode):
                existing = st.st_size
        except OSError:
            pass
        # the new file replaces the old one: its bytes are freed when it is committed
        self.room = quota_bytes - (used - existing)
        if size is not None and size > self.room:
            raise FileOpError('QUOTA_EXCEEDED', 'quota exceeded')
        self.target = target
        fd, self.tmp = tempfile.mkstemp(prefix=UPLOAD_TEMP_PREFIX, dir=parent)
        self.f = os.fdopen(fd, 'wb')
        self.hash = hashlib.sha256()
        self.written = 0

    def chunk(self, buffers):
        for b in buffers:
            n = len(b)
            if self.written + n > self.max_file_bytes:
                raise FileOpError('FILE_TOO_LARGE', 'file too large')
            if self.written + n > self.room:
                raise FileOpError('QUOTA_EXCEEDED', 'quota exceeded')
            self.f.write(b)
            self.hash.update(b)
            self.written += n
        return {'ok': True, 'written': self.written}

    def commit(self):
        self.f.close()
        os.chmod(self.tmp, 0o644)
        os.replace(self.tmp, self.target)  # replaces a symlink by the file, never writes through it
        self.tmp = None
        return {'ok': True, 'path': self.rel, 'size': self.written, 'sha256': self.hash.hexdigest()}

    def abort(self):
        try:
            self.f.close()
        except Exception:
            pass
        if self.tmp:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None


class Download:
    def __init__(self, files, rel):
        self.f = open(files._existing_file(rel), 'rb')
        self.size = os.fstat(self.f.fileno()).st_size

    def read(self, offset, length):
        self.f.seek(offset)
        return self.f.read(length)

    def close(self):
        self.f.close()


def register(root):
    kernel = get_ipython().kernel  # noqa: F821 (an IPython kernel runs this)
    files = Files(root)

    def error_reply(err):
        if isinstance(err, FileOpError):
            return {'error': {'code': err.code, 'message': err.message}}
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            # the notebook's own file system is full (FILES_QUOTA_MB, docs/decisions/0023)
            return {'error': {'code': 'QUOTA_EXCEEDED', 'message': 'no space left in the notebook\'s folder'}}
        if isinstance(err, PermissionError):
            return {'error': {'code': 'PERMISSION', 'message': 'permission denied: %s' % err.strerror}}
        if isinstance(err, OSError):
            return {'error': {'code': 'IO', 'message': '%s: %s' % (type(err).__name__, err.strerror or err)}}
        return {'error': {'code': 'INTERNAL', 'message': '%s: %s' % (type(err).__name__, err)}}

    def on_open(comm, open_msg):
        state = {}

        def reply(data, buffers=None):
            comm.send(data, buffers=buffers)

        def cleanup():
            if 'upload' in state:
                state.pop('upload').abort()
            if 'download' in state:
                state.pop('download').close()

        def on_msg(msg):
            data = msg['content']['data'] or {}
            op = data.get('op')
            try:
                if op == 'chunk' and 'upload' in state:
                    reply(state['upload'].chunk(msg.get('buffers') or []))
                elif op == 'commit' and 'upload' in state:
                    reply(state.pop('upload').commit())
                elif op == 'read' and 'download' in state:
                    chunk = state['download'].read(int(data['offset']), int(data['length']))
                    reply({'ok': True, 'n': len(chunk)}, [chunk])
                elif op == 'abort':
                    cleanup()
                    reply({'ok': True})
                else:
                    reply({'error': {'code': 'BAD_REQUEST', 'message': 'unexpected %r' % op}})
            except Exception as err:  # noqa: BLE001 (every failure is an answer, never a kernel log line)
                cleanup()
                reply(error_reply(err))

        def on_close(msg):
            cleanup()

        comm.on_msg(on_msg)
        comm.on_close(on_close)
        data = open_msg['content']['data'] or {}
        op = data.get('op')
        try:
            if op == 'list':
                reply(files.list(int(data.get('maxEntries', 10000))))
            elif op == 'delete':
                reply(files.delete(data.get('path')))
            elif op == 'put':
                state['upload'] = Upload(files, data.get('path'), data.get('size'), int(data['maxFileBytes']), int(data['quotaBytes']))
                reply({'ok': True})
            elif op == 'packages':
                reply(files.packages())
            elif op == 'remove_packages':
                reply(files.remove_packages())
            elif op == 'get':
                d = Download(files, data.get('path'))
                state['download'] = d
                reply({'ok': True, 'size': d.size})
            else:
                reply({'error': {'code': 'BAD_REQUEST', 'message': 'unknown operation %r' % op}})
        except Exception as err:  # noqa: BLE001
            cleanup()
            reply(error_reply(err))

    kernel.comm_manager.register_target(TARGET, on_open)
