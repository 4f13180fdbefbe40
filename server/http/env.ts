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

export const EnvSchema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('production'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  KERNEL_GATEWAY_URL: optionalUrl,
  KERNEL_GATEWAY_TOKEN: optionalString,
  /** minutes a kernel may stay idle before it is shut down (restarted on the next run) */
  KERNEL_IDLE_MINUTES: z.coerce.number().positive().default(60),
  /** largest file one upload may write into a notebook's working directory, in MiB */
  FILES_MAX_FILE_MB: z.coerce.number().positive().default(512),
  /** all files of one notebook's working directory together, in MiB */
  FILES_QUOTA_MB: z.coerce.number().positive().default(2048),
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
