// What an agent shipped, as the orchestrator holds it: JSON-RPC calls to a
// stack's wharfd (through nginx), an instance's rows in sequence order,
// cut lines joined back, and the agent's own counters.

import { get } from './stack.mjs';

// One ContainerMonitoringOps call; its result (throws on an error).
// With params.stream the NDJSON rows come back as an array.
export async function rpc(stack, method, params) {
  const res = await fetch(`${stack.http}/rpc`, {
    method: 'POST',
    headers: { ...stack.auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: `ContainerMonitoringOps.${method}`, params }),
  });
  const text = await res.text();
  if (params.stream) return text.trim().split('\n').map((l) => JSON.parse(l));
  const j = JSON.parse(text);
  if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

// Every stored row of one instance, by sequence.
export async function logRows(stack, worker, instanceId) {
  return (await rpc(stack, 'getLogs', { worker, instanceId, order: 'asc', stream: true }))
    .filter((r) => r.sequence !== undefined);
}

// An event's payload as an object (wharfd keeps it as JSON text).
export const payload = (e) => (typeof e.payload === 'string' ? JSON.parse(e.payload) : e.payload);

// The agent's marker at the end of a text the orchestrator refused whole
// (agent/refusal.h); group 1: the bytes cut.
export const TRUNCATED = / \u2026\[wharf: truncated, (\d+) bytes cut\]$/;

// Rows joined into lines: a row without split/continued metadata is a
// line; the pieces of a cut line (split: true ... continued: true,
// split: false) are one. Each line: { text, rows, pieces }.
export function joinPieces(rows) {
  const lines = [];
  let cur = null;
  for (const r of rows) {
    const m = r.metadata || {};
    if (m.continued && cur) {
      cur.text += r.message;
      cur.rows.push(r);
    } else {
      cur = { text: r.message, rows: [r] };
      lines.push(cur);
    }
    if (!m.split) cur = null;
  }
  for (const l of lines) l.pieces = l.rows.length;
  return lines;
}

// The agent's GET /health.
export async function agentHealth(agent) {
  return (await get(`http://${agent.addr}/health`)).json;
}
