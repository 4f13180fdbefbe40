// Test helper: a notebook's folder as the host holds it. With a disk quota
// (docs/decisions/0023-kernel-resources.md) the files live in an ext4 image inside the folder,
// mounted only in the kernel's own mount namespace; the host sees the image. This reads them the
// way an operator would: the image mounted (in a throwaway mount namespace of this helper, with the
// kernel's own mount options, so a running kernel's loop device and superblock are shared, never a
// second writer), else the plain folder.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const DISK_IMAGE_NAME = '.ynotebook-disk.img';

export interface HostFile {
  uid: number;
  gid: number;
  /** st_mode & 0o7777 */
  mode: number;
  size: number;
  data: Buffer;
}

export interface HostFolder {
  /** true when the folder holds a disk image (the files below were read from it) */
  isImage: boolean;
  /** names at the folder's top level (as the kernel sees it) */
  names: string[];
  /** the files asked for, by relative path; absent when missing */
  files: Record<string, HostFile>;
  /** the file system's mount flags (nosuid, nodev...) when it is an image */
  mountOptions: string[];
}

const READER = `
import json, os, sys, base64
root, rels = sys.argv[1], sys.argv[2:]
out = {"names": sorted(os.listdir(root)), "files": {}, "mountOptions": []}
for line in open("/proc/self/mountinfo"):
    f = line.split()
    if f[4] == root:
        out["mountOptions"] = f[5].split(",")
for rel in rels:
    p = os.path.join(root, rel)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        continue
    data = open(p, "rb").read() if os.path.isfile(p) else b""
    out["files"][rel] = {"uid": st.st_uid, "gid": st.st_gid, "mode": st.st_mode & 0o7777, "size": st.st_size, "data": base64.b64encode(data).decode()}
print(json.dumps(out))
`;

/** Reads a notebook's folder (and the files `rels` in it) as stored on the host. Needs root for an image. */
export function readHostFolder(workDir: string, rels: string[] = []): HostFolder {
  const image = path.join(workDir, DISK_IMAGE_NAME);
  const isImage = fs.existsSync(image);
  // bash -c: $0 the image, $1 the reader, the rest the files
  const mountAndRead = `set -e; m=$(mktemp -d); trap 'umount "$m" 2>/dev/null; rmdir "$m"' EXIT; mount -t ext4 -o loop,nosuid,nodev,noatime "$0" "$m"; python3 -c "$1" "$m" "\${@:2}"`;
  const r = isImage
    ? spawnSync('unshare', ['-m', '--propagation', 'slave', 'bash', '-c', mountAndRead, image, READER, ...rels], { encoding: 'utf8' })
    : spawnSync('python3', ['-c', READER, workDir, ...rels], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reading ${workDir} on the host failed (${r.status}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { names: string[]; files: Record<string, Omit<HostFile, 'data'> & { data: string }>; mountOptions: string[] };
  const files: Record<string, HostFile> = {};
  for (const [rel, f] of Object.entries(out.files)) files[rel] = { ...f, data: Buffer.from(f.data, 'base64') };
  return { isImage, names: out.names, files, mountOptions: out.mountOptions };
}
