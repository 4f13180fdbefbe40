/** Every failure of the kernel layer that a caller may want to tell apart. */
export type KernelErrorCode =
  | 'GATEWAY_UNREACHABLE' // no answer from the gateway (wrong URL, down, network)
  | 'GATEWAY_AUTH_FAILED' // the gateway answered 401/403: wrong or missing token
  | 'GATEWAY_START_FAILED' // the embedded gateway could not be started
  | 'GATEWAY_ERROR' // the gateway answered with an unexpected error
  | 'KERNEL_START_FAILED' // the gateway could not start a kernel
  | 'SANDBOX_UNAVAILABLE' // KERNEL_SANDBOX=required and bubblewrap cannot run here: no kernel starts
  | 'KERNEL_DEAD' // the kernel died (killed, out of memory, gateway lost) during a request
  | 'KERNEL_RESTARTED' // restart() was called while the request was running
  | 'EVAL_FAILED' // evaluateSilently: the code raised
  | 'TIMEOUT' // evaluateSilently: no answer in time
  | 'COMM_FAILED' // a comm request got no answer (the kernel-side handler is missing or broke)
  | 'CLOSED'; // the service was closed

export class KernelError extends Error {
  readonly code: KernelErrorCode;
  constructor(code: KernelErrorCode, message: string, options?: { cause?: unknown }) {
    // messages reach documents and browsers: never let a gateway token ride along in a URL
    super(redactSecrets(message), options);
    this.name = 'KernelError';
    this.code = code;
  }
}

export function isKernelError(err: unknown): err is KernelError {
  return err instanceof KernelError;
}

/** Removes `token=...` query values and `token ...` authorization headers from a text. */
export function redactSecrets(text: string): string {
  return text.replace(/(token=)[^&\s"'<>]+/gi, '$1[redacted]').replace(/(authorization:?\s*(token|bearer)\s+)\S+/gi, '$1[redacted]');
}
