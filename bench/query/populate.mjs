// bench/query's data set, shared by run.mjs and profile.mjs: rows logs
// over `workers` workers (q0, q1, ...; instance "app"), written through
// nginx by 4 concurrent writers in storeLogs batches of 10,000. Resolves
// to the seconds it took.
export async function populateLogs(stack, rows, workers) {
  const per = rows / workers;
  const jobs = [];
  for (let w = 0; w < workers; w++) for (let from = 1; from <= per; from += 10000) jobs.push([w, from]);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (jobs.length) {
      const [w, from] = jobs.shift();
      const n = Math.min(10000, per - from + 1);
      const logs = Array.from({ length: n }, (_, i) => ({ sequence: from + i, level: i % 7 ? 'info' : 'error', message: `request ${from + i} served in ${i % 97} ms`, stream: 'stdout' }));
      const res = await fetch(`${stack.http}/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ContainerMonitoringOps.storeLogs', params: { worker: `q${w}`, instanceId: 'app', logs } }),
      });
      const j = await res.json();
      if (j.error) throw new Error(JSON.stringify(j.error));
    }
  }));
  return (Date.now() - t0) / 1000;
}
