// Starts a KernelService with its embedded gateway in a process of its own and prints the
// gateway's pid, so a test can kill this process with SIGKILL and watch what the gateway does.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { KernelService } from '../../server/kernel/index';

const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ynb-kproc-'));
const svc = await KernelService.create({ workRoot, log: () => undefined });
console.log(`gateway pid ${svc.embeddedGatewayPid}`);
setInterval(() => undefined, 60_000);
