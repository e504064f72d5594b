// Several gateways and several wharfd on one database (issue 16): the
// scale-out deployment of docs/scale-out.md on loopback. Each gateway is a
// real nginx with the module, with a prefix of its own and the same
// workers, key pair and wharfd pool (an upstream of every wharfd); the
// wharfd share one store (PostgreSQL, or one wharfd on SQLite). Agents
// know every gateway's URL, the first preferred.

import fs from 'node:fs';
import path from 'node:path';
import {
  ALL_SCOPES, childPids, freeStaticPort, generateKeys, mintToken, renderNginxConf, startAgent, startNginx,
  startWharfd, tempDir, waitFor, writeWorkerConf,
} from './stack.mjs';
import { sharedPgServer, startPgServer, storeRows } from './pg.mjs';

// The rendered conf's wharfd upstreams list every wharfd of the fleet.
function poolConf(conf, wharfds) {
  let text = fs.readFileSync(conf, 'utf8');
  const pool = (key) => wharfds.map((w) => `server ${w[key]};`).join('\n        ');
  text = text.replace(/(upstream wharfd \{\s*)server [^;]+;/, `$1${pool('addr')}`);
  text = text.replace(/(upstream wharfd_ws \{\s*)server [^;]+;/, `$1${pool('wsAddr')}`);
  fs.writeFileSync(conf, text);
}

// opts: engine ('postgresql' or 'sqlite'; sqlite allows one wharfd),
// gateways, wharfds (counts), ownPg (a PostgreSQL server of the fleet's
// own, for a test that restarts it), wharfdArgs, extraHttp (http-level
// directives for every gateway; a function (gateway, gateways) gives each
// its own), healthInterval.
// Returns { dir, logDir, keys, mint, token, auth, store, rows, gateways:
// [{ index, http, port, prefix, conf, nginx }], wharfds: [proc],
// agents: {}, startAgent(), killGateway(i), restartGateway(i),
// killWharfd(i), stop() }.
export async function startFleet({ tag = 'fleet', engine = 'postgresql', gateways = 2, wharfds = 2, ownPg = false,
  wharfdArgs = [], extraHttp, healthInterval = 'off', workers = [] } = {}) {
  if (engine === 'sqlite' && wharfds !== 1) throw new Error('SQLite: one wharfd');
  const dir = tempDir(tag);
  const logDir = path.join(dir, 'logs');
  const workersDir = path.join(dir, 'workers.d');
  fs.mkdirSync(logDir, { recursive: true });
  fs.mkdirSync(workersDir);
  const fleet = { dir, logDir, workersDir, agents: {}, procs: [], gateways: [], wharfds: [] };
  fleet.keys = generateKeys(dir);
  fleet.mint = (claims, opts) => mintToken(fleet.keys.privateKey, claims, opts);
  fleet.token = fleet.mint({ sub: '*', scope: ALL_SCOPES });
  fleet.auth = { Authorization: `Bearer ${fleet.token}` };
  const stopAll = async () => {
    for (const p of [...fleet.procs].reverse()) await p.stop();
    if (fleet.pg && ownPg) await fleet.pg.remove();
    if (process.env.WHARF_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (engine === 'postgresql') {
      fleet.pg = ownPg ? await startPgServer(`${tag}-pg`) : await sharedPgServer();
      const { url } = await fleet.pg.createDatabase(tag);
      fleet.store = { engine, url };
    } else {
      fleet.store = { engine, path: path.join(dir, 'wharf.db') };
    }
    fleet.rows = (sql, ...params) => storeRows(fleet.store, sql, ...params);
    for (let i = 0; i < gateways; i++) {
      const port = await freeStaticPort();
      fleet.gateways.push({ index: i, port, http: `http://127.0.0.1:${port}`, prefix: path.join(dir, `gateway-${i}`) });
    }
    for (let i = 0; i < wharfds; i++) {
      const wsAddr = `127.0.0.1:${await freeStaticPort()}`;
      const w = await startWharfd({
        dir, logDir, keys: fleet.keys, wsAddr, gateway: fleet.gateways[0].http, args: wharfdArgs,
        db: fleet.store.url, name: `wharfd-${i}`,
      });
      w.wsAddr = wsAddr;
      w.index = i;
      fleet.wharfds.push(w);
      fleet.procs.push(w);
    }
    fleet.wharfdOpts = (i) => ({
      dir, logDir, keys: fleet.keys, wsAddr: fleet.wharfds[i].wsAddr, gateway: fleet.gateways[0].http,
      args: wharfdArgs, db: fleet.store.url, name: `wharfd-${i}`, addr: fleet.wharfds[i].addr,
    });
    // workers: [{ name, terminalCmd, ... }]: agents that ship nothing,
    // registered in every gateway before they start
    for (const w of workers) {
      const a = await startAgent({ keys: fleet.keys, logDir, ...w });
      fleet.agents[w.name] = a;
      fleet.procs.push(a);
      writeWorkerConf(workersDir, w.name, a.addr);
    }
    for (const g of fleet.gateways) {
      fs.mkdirSync(g.prefix, { mode: 0o755 });
      const gw = path.join(g.prefix, 'extra.d');
      fs.mkdirSync(gw);
      g.conf = renderNginxConf({
        prefix: g.prefix, listen: `127.0.0.1:${g.port}`, wharfd: fleet.wharfds[0].addr,
        wharfdWs: fleet.wharfds[0].wsAddr, workersDir, keys: fleet.keys, healthInterval,
      });
      poolConf(g.conf, fleet.wharfds);
      const extra = typeof extraHttp === 'function' ? extraHttp(g, fleet.gateways) : extraHttp;
      if (extra) {
        // http-level, before the workers' files: a line of the conf
        // that includes them gets an include of the gateway's own too
        fs.writeFileSync(path.join(gw, 'extra.conf'), `${extra}\n`);
        const text = fs.readFileSync(g.conf, 'utf8');
        const inc = `include ${workersDir}/*.conf;`;
        if (!text.includes(inc)) throw new Error(`${g.conf}: no "${inc}"`);
        fs.writeFileSync(g.conf, text.replace(inc, `include ${gw}/*.conf;\n    ${inc}`));
      }
      await startGateway(fleet, g);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }

  // An agent that knows every gateway, the first preferred; registered
  // as a worker of every gateway (files read at their next start or
  // reload: register before the gateways start, or reload them).
  fleet.startAgent = async ({ name, args = [], ...rest }) => {
    const a = await startAgent({
      name, keys: fleet.keys, logDir, orchestrator: fleet.gateways.map((g) => g.http),
      token: fleet.mint({ sub: name, scope: 'ingest', ttl: 86400 }), args, ...rest,
    });
    fleet.agents[name] = a;
    fleet.procs.push(a);
    writeWorkerConf(workersDir, name, a.addr);
    return a;
  };
  // A gateway dies as its machine would: master and workers at once.
  fleet.killGateway = async (i) => {
    const g = fleet.gateways[i];
    const pids = [g.nginx.pid, ...childPids(g.nginx.pid)];
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await g.nginx.exited;
    // its workers, orphaned, are reaped by init: gone or zombies
    const dead = (pid) => {
      try {
        return /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return true;
      }
    };
    await waitFor(() => pids.every(dead), { what: `gateway ${i}'s processes to die` });
  };
  fleet.restartGateway = (i) => startGateway(fleet, fleet.gateways[i]);
  fleet.killWharfd = async (i) => {
    const w = fleet.wharfds[i];
    process.kill(w.pid, 'SIGKILL');
    await w.exited;
  };
  fleet.restartWharfd = async (i) => {
    const w = await startWharfd(fleet.wharfdOpts(i));
    w.wsAddr = fleet.wharfds[i].wsAddr;
    w.index = i;
    fleet.wharfds[i] = w;
    fleet.procs.push(w);
    return w;
  };
  fleet.stop = stopAll;
  return fleet;
}

async function startGateway(fleet, g) {
  // a killed master leaves its pid file: startNginx waits for a new one
  fs.rmSync(path.join(g.prefix, 'nginx.pid'), { force: true });
  g.nginx = await startNginx({ prefix: g.prefix, conf: g.conf, logDir: fleet.logDir, name: `nginx-${g.index}` });
  fleet.procs.push(g.nginx);
  await waitFor(async () => {
    try {
      return (await fetch(`${g.http}/api/monitoring/health`)).status === 200;
    } catch {
      return false;
    }
  }, { what: `gateway ${g.index} to answer through to wharfd` });
}

// Every stored row of a worker's instance, by sequence, read from the
// store itself (not through wharfd): [{ sequence, message }].
export async function storedRows(fleet, worker, instance = 'app') {
  return fleet.rows(`SELECT sequence, message FROM container_logs
                     WHERE worker_name = ? AND instance_id = ? ORDER BY sequence`, worker, instance);
}

export async function countRows(fleet, worker, instance = 'app') {
  const r = await fleet.rows('SELECT count(*) AS n FROM container_logs WHERE worker_name = ? AND instance_id = ?',
    worker, instance);
  return Number(r[0].n);
}
