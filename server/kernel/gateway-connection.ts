// The one place that builds @jupyterlab/services settings for a Kernel Gateway from Node.
import { ServerConnection } from '@jupyterlab/services';
import WebSocket from 'ws';
import { z } from 'zod';
import { KernelError } from './errors.js';

/** A request that gets no answer in this time means the gateway is unreachable. */
export const PROBE_TIMEOUT_MS = 3_000;
/** Upper bound for any REST call; starting a kernel is the slowest one (the gateway waits for it). */
export const REQUEST_TIMEOUT_MS = 60_000;

export interface GatewayEndpoint {
  url: string;
  token?: string;
}

export function normalizeGatewayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new KernelError('GATEWAY_UNREACHABLE', `invalid Kernel Gateway URL ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new KernelError('GATEWAY_UNREACHABLE', `Kernel Gateway URL must be http(s), got ${u.protocol}`);
  }
  return u.href.endsWith('/') ? u.href : `${u.href}/`;
}

/** fetch with a deadline, so a black-holed gateway can never hang a caller. */
function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return (input, init) => {
    const signals = [AbortSignal.timeout(timeoutMs)];
    if (init?.signal) signals.push(init.signal);
    return fetch(input, { ...init, signal: AbortSignal.any(signals) });
  };
}

export function makeServerSettings(endpoint: GatewayEndpoint): ServerConnection.ISettings {
  const baseUrl = normalizeGatewayUrl(endpoint.url);
  const wsUrl = baseUrl.replace(/^http/, 'ws');
  return ServerConnection.makeSettings({
    baseUrl,
    wsUrl,
    appUrl: '',
    token: endpoint.token ?? '',
    // In Node there is no cookie jar: the WebSocket carries the token as ?token=.
    appendToken: true,
    init: { cache: 'no-store' },
    fetch: fetchWithTimeout(REQUEST_TIMEOUT_MS),
    Request,
    Headers,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  });
}

const apiInfoSchema = z.object({ version: z.string() }).passthrough();

/**
 * Checks that a Jupyter (Kernel Gateway / Jupyter Server) API answers at `endpoint` and accepts
 * the token. Resolves with the server version; throws GATEWAY_UNREACHABLE / GATEWAY_AUTH_FAILED.
 */
export async function probeGateway(endpoint: GatewayEndpoint, timeoutMs = PROBE_TIMEOUT_MS): Promise<string> {
  const base = normalizeGatewayUrl(endpoint.url);
  const headers: Record<string, string> = {};
  if (endpoint.token) headers.Authorization = `token ${endpoint.token}`;
  let res: Response;
  try {
    // /api/kernelspecs needs auth (unlike /api), so one call checks reachability and the token.
    res = await fetch(new URL('api/kernelspecs', base), { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describeFetchError(err);
    throw new KernelError('GATEWAY_UNREACHABLE', `Kernel Gateway at ${base} is unreachable: ${why}`, { cause: err });
  }
  if (res.status === 401 || res.status === 403) {
    throw new KernelError('GATEWAY_AUTH_FAILED', `Kernel Gateway at ${base} refused the token (HTTP ${res.status}); check KERNEL_GATEWAY_TOKEN`);
  }
  if (!res.ok) {
    throw new KernelError('GATEWAY_UNREACHABLE', `Kernel Gateway at ${base} answered HTTP ${res.status} to GET /api/kernelspecs; is this a Jupyter Kernel Gateway?`);
  }
  await res.body?.cancel();
  try {
    const info = apiInfoSchema.parse(await (await fetch(new URL('api', base), { headers, signal: AbortSignal.timeout(timeoutMs) })).json());
    return info.version;
  } catch {
    return 'unknown';
  }
}

export function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return err.message;
}

/** Maps an error of @jupyterlab/services (or fetch) to a KernelError. */
export function toKernelError(err: unknown, code: 'KERNEL_START_FAILED' | 'GATEWAY_ERROR', what: string): KernelError {
  if (err instanceof KernelError) return err;
  if (err instanceof ServerConnection.NetworkError || (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))) {
    return new KernelError('GATEWAY_UNREACHABLE', `${what}: Kernel Gateway unreachable (${describeFetchError(err)})`, { cause: err });
  }
  if (err instanceof ServerConnection.ResponseError) {
    const status = err.response.status;
    if (status === 401 || status === 403) {
      return new KernelError('GATEWAY_AUTH_FAILED', `${what}: Kernel Gateway refused the request (HTTP ${status})`, { cause: err });
    }
    return new KernelError(code, `${what}: HTTP ${status} ${err.message}`, { cause: err });
  }
  return new KernelError(code, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
