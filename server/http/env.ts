// The server's environment, checked once at boot: a bad value stops the server with a message
// naming the variable, instead of failing later in some request.
import path from 'node:path';
import { z } from 'zod';

const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.string().url().optional())
  .optional();

const optionalString = z
  .string()
  .transform((v) => (v.trim() === '' ? undefined : v.trim()))
  .optional();

const commaList = z
  .string()
  .optional()
  .transform((v) => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean));

/**
 * postgres://user:password@host:port/database (or postgresql://). Messages never echo the value:
 * it holds a password.
 */
const databaseUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .superRefine((v, ctx) => {
    if (v === undefined) return;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'DATABASE_URL is not a URL: expected postgres://user:password@host:5432/database' });
      return;
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'DATABASE_URL must start with postgres:// or postgresql:// (unset it to use SQLite in DATA_DIR)' });
    } else if (!url.hostname && !url.searchParams.get('host')) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'DATABASE_URL names no host: expected postgres://user:password@host:5432/database' });
    } else if (url.pathname.replace(/^\//, '') === '') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'DATABASE_URL names no database: expected postgres://user:password@host:5432/database' });
    }
  })
  .optional();

export const EnvSchema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('production'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  KERNEL_GATEWAY_URL: optionalUrl,
  KERNEL_GATEWAY_TOKEN: optionalString,
  /** kernelspec an external gateway starts (Enterprise Gateway: e.g. python_kubernetes); unset: its default */
  KERNEL_SPEC: optionalString.pipe(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'KERNEL_SPEC must be a kernelspec name (letters, digits, . _ -)').optional()),
  /** KERNEL_USERNAME sent when starting a kernel on an external gateway */
  KERNEL_USERNAME: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'KERNEL_USERNAME must be a user name (letters, digits, . _ @ -)').default('ynotebook'),
  /** absolute directory on the external gateway's host holding each notebook's working directory (sent as KERNEL_WORKING_DIR) */
  KERNEL_WORKDIR_ROOT: optionalString.pipe(z.string().regex(/^\/[^\0]*$/, 'KERNEL_WORKDIR_ROOT must be an absolute path on the gateway host').optional()),
  /** extra KERNEL_* variables for the start request on an external gateway, as a JSON object */
  KERNEL_START_ENV: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v || v.trim() === '') return {};
      let parsed: unknown;
      try {
        parsed = JSON.parse(v);
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'KERNEL_START_ENV must be a JSON object, e.g. {"KERNEL_NAMESPACE":"notebooks"}' });
        return z.NEVER;
      }
      const entries = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? Object.entries(parsed) : null;
      const bad = entries === null ? 'not an object' : entries.find(([k, val]) => !/^KERNEL_[A-Z0-9_]+$/.test(k) || typeof val !== 'string')?.[0];
      if (bad !== undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `KERNEL_START_ENV: ${entries === null ? 'must be a JSON object' : `${bad} must be a KERNEL_* name with a string value`}` });
        return z.NEVER;
      }
      return Object.fromEntries(entries as [string, string][]);
    }),
  /** minutes a kernel may stay idle before it is shut down (restarted on the next run) */
  KERNEL_IDLE_MINUTES: z.coerce.number().positive().default(60),
  /** bubblewrap around the embedded gateway's kernels: auto (when it works), required, off */
  KERNEL_SANDBOX: z.enum(['auto', 'required', 'off']).default('auto'),
  /** memory one kernel and its children may use together (memory cgroup), and each process's address space, in MiB (0: no limit) */
  KERNEL_MEMORY_MB: z.coerce.number().int().min(0).default(2048),
  /** uid:gid sandboxed kernels run as when the server is root (never root itself) */
  KERNEL_USER: z
    .string()
    .trim()
    .regex(/^\d{1,10}:\d{1,10}$/, 'KERNEL_USER must be uid:gid, e.g. 65534:65534')
    .refine((v) => !v.split(':').includes('0'), 'KERNEL_USER must not be root (uid or gid 0)')
    .default('65534:65534'),
  /** processes and threads one kernel may have (0: no limit; needs a writable pids cgroup) */
  KERNEL_PIDS_MAX: z.coerce.number().int().min(0).default(256),
  /** size of a kernel's private /tmp and HOME (tmpfs, in RAM), in MiB each */
  KERNEL_TMP_MB: z.coerce.number().int().min(1).default(512),
  /**
   * the kernels' network: `internet` (own namespace, outbound through slirp4netns, nothing of the
   * host reachable), `none` (own namespace, no network), `host` (this machine's: unsafe opt-out)
   */
  KERNEL_NETWORK: z.enum(['internet', 'none', 'host'], { message: 'KERNEL_NETWORK must be internet, none or host' }).default('internet'),
  /** the slirp4netns executable behind KERNEL_NETWORK=internet (tests point it elsewhere to simulate a machine without it) */
  KERNEL_SLIRP4NETNS: z.string().min(1).default('slirp4netns'),
  /** kernels kept started ahead so a new notebook's first run does not wait for one (0: none) */
  KERNEL_SPARE_POOL: z.coerce.number().int().min(0).max(8).default(1),
  /** the bubblewrap executable (tests point it elsewhere to simulate a machine without it) */
  KERNEL_SANDBOX_BWRAP: z.string().min(1).default('bwrap'),
  /** largest file one upload may write into a notebook's working directory, in MiB */
  FILES_MAX_FILE_MB: z.coerce.number().positive().default(512),
  /** all files of one notebook's working directory together, in MiB */
  FILES_QUOTA_MB: z.coerce.number().positive().default(2048),
  /** the instance admin's token; unset: one is made at first start and kept in DATA_DIR (with DATABASE_URL: in the database) */
  ADMIN_TOKEN: optionalString.pipe(z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional()),
  /** extra host names this server answers to (comma-separated; `*`: any, behind a proxy that checks Host) */
  ALLOWED_HOSTS: commaList,
  /** extra origins allowed to make state-changing requests and open WebSockets (comma-separated) */
  ALLOWED_ORIGINS: commaList,
  /** the address people reach the app at (behind a proxy); its host and origin are allowed, links use it */
  PUBLIC_URL: optionalUrl,
  /** PostgreSQL instead of SQLite (several instances share it); unset: SQLite in DATA_DIR */
  DATABASE_URL: databaseUrl,
  /** Redis relaying document updates and presence between several instances; unset: one instance */
  REDIS_URL: optionalString.pipe(
    z
      .string()
      .regex(/^rediss?:\/\/[^\s]+$/, 'REDIS_URL must look like redis://host:6379 (or rediss:// for TLS)')
      .optional(),
  ),
  /** several instances: seconds a notebook's owner may go silent before another instance takes its runs over */
  LEASE_SECONDS: z.coerce.number().min(0.5, 'LEASE_SECONDS must be at least 0.5').max(3600).default(10),
  /** several instances: how the other instances reach this one (e.g. http://app1:3000); unset: http://<HOST>:<PORT> */
  INSTANCE_URL: optionalUrl,
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_MODEL: optionalString,
});

export type Env = z.infer<typeof EnvSchema> & { dataDir: string };

export class EnvError extends Error {}

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new EnvError(`Invalid environment:\n${lines.join('\n')}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.DATA_DIR) };
}
