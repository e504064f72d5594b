// Requests to the gateway, always with "Authorization: Bearer <token>".
// Every refusal of wharf is JSON ({"error":{"code","message"}} on REST and
// the module's routes, a JSON-RPC error object on /rpc); ApiError carries
// its status, code and message. A 401 (or JSON-RPC -32001) means the token
// expired or was refused: the app is told once (onUnauthorized) and shows
// the sign-in page with the reason.

import { getToken } from './auth';

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

let unauthorized: (why: string) => void = () => {};
export function onUnauthorized(f: (why: string) => void): void {
  unauthorized = f;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = getToken();
  return { ...(t ? { Authorization: `Bearer ${t}` } : {}), ...extra };
}

async function refusal(res: Response, quiet = false): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  try {
    const j = await res.json();
    if (j && j.error) {
      if (typeof j.error.code === 'string') code = j.error.code;
      else if (typeof j.error.code === 'number') code = String(j.error.code);
      if (typeof j.error.message === 'string') message = j.error.message;
    }
  } catch {
    // not JSON: keep the status line
  }
  const e = new ApiError(res.status, code, message);
  if (res.status === 401 && !quiet) unauthorized(`the gateway refused the token (401 ${code}: ${message})`);
  return e;
}

// quiet: a 401 is the caller's to handle (signing in), not the app's.
export async function getJSON<T>(path: string, { quiet = false } = {}): Promise<T> {
  const res = await fetch(path, { headers: headers({ Accept: 'application/json' }), cache: 'no-store' });
  if (!res.ok) throw await refusal(res, quiet);
  return await res.json() as T;
}

// GET that also accepts a JSON answer with an error status (the health
// routes answer 503 with the same body when something is unhealthy).
export async function getJSONAny<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(path, { headers: headers({ Accept: 'application/json' }), cache: 'no-store' });
  if (res.status === 401 || res.status === 403) throw await refusal(res);
  return { status: res.status, body: await res.json() as T };
}

export async function postJSON<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json', Accept: 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await refusal(res);
  return await res.json() as T;
}

export interface RpcCall { method: string; params?: Record<string, unknown> }
export type RpcResult<T = unknown> = { ok: true; result: T } | { ok: false; code: number; message: string };

// Largest JSON-RPC batch the console sends: wharfd bounds what one request
// may cost, and smaller batches answer sooner.
export const RPC_BATCH_MAX = 100;

// JSON-RPC batch to /rpc (ContainerMonitoringOps.<method>), split into
// batches of RPC_BATCH_MAX sent in parallel; answers in call order.
export async function rpc<T = unknown>(calls: RpcCall[]): Promise<RpcResult<T>[]> {
  const chunks: RpcCall[][] = [];
  for (let i = 0; i < calls.length; i += RPC_BATCH_MAX) chunks.push(calls.slice(i, i + RPC_BATCH_MAX));
  const parts = await Promise.all(chunks.map((c) => rpcBatch<T>(c)));
  return parts.flat();
}

async function rpcBatch<T>(calls: RpcCall[]): Promise<RpcResult<T>[]> {
  const body = calls.map((c, i) => ({
    jsonrpc: '2.0', id: i, method: `ContainerMonitoringOps.${c.method}`, params: c.params || {},
  }));
  const res = await fetch('/rpc', {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json', Accept: 'application/json' }),
    body: JSON.stringify(body),
  });
  if (res.status === 401) throw await refusal(res);
  let answers: unknown;
  try {
    answers = await res.json();
  } catch {
    throw new ApiError(res.status, `http_${res.status}`, `/rpc answered ${res.status} without JSON`);
  }
  const list = Array.isArray(answers) ? answers : [answers];
  const byId = new Map<number, { result?: T; error?: { code: number; message: string } }>();
  for (const a of list as { id: number; result?: T; error?: { code: number; message: string } }[]) {
    if (a && typeof a.id === 'number') byId.set(a.id, a);
    else if (a && a.error) throw new ApiError(res.status, String(a.error.code), a.error.message);
  }
  return calls.map((_, i) => {
    const a = byId.get(i);
    if (!a) return { ok: false, code: -32603, message: 'no answer' };
    if (a.error) {
      if (a.error.code === -32001) unauthorized(`wharfd refused the token (-32001: ${a.error.message})`);
      return { ok: false, code: a.error.code, message: a.error.message };
    }
    return { ok: true, result: a.result as T };
  });
}

export async function rpcOne<T>(method: string, params?: Record<string, unknown>): Promise<T> {
  const [r] = await rpc<T>([{ method, params }]);
  if (!r.ok) throw new ApiError(200, String(r.code), r.message);
  return r.result;
}

// ws:// or wss:// URL of a path on this gateway.
export function wsURL(path: string): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}
