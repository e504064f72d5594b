// docs/openapi.yaml is the REST contract: the document itself is checked
// with two independent OpenAPI validators (@seriousme/openapi-schema-
// validator on the parsed document, @apidevtools/swagger-parser on the file
// with its own YAML 1.2 parser and $ref resolution), and real responses of
// every route (through nginx, from a populated database) are validated
// against the schemas it declares for their status and content type.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { ENGINES, ROOT, get, startStack } from '../lib/stack.mjs';

const SPEC_PATH = path.join(ROOT, 'docs/openapi.yaml');
const M = (name) => `ContainerMonitoringOps.${name}`;
const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

for (const engine of ENGINES) {
  describe(`docs/openapi.yaml (${engine})`, () => {
    // YAML 1.2, as every tool reads it: no merge keys (<<), which YAML 1.1
    // tools expand and YAML 1.2 ones keep as a literal key.
    const spec = YAML.parse(fs.readFileSync(SPEC_PATH, 'utf8'));
    let stack;
    let ajv;

    before(async () => {
      ajv = new Ajv2020({ strict: false, allErrors: true });
      ajv.addSchema(spec, 'openapi.json');
      stack = await startStack({ tag: 'wharfd-oapi', engine, workers: [{ name: 'ghost', addr: '127.0.0.1:9' }] });
      const rpc = async (method, params) => {
        const r = await get(`${stack.http}/rpc`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M(method), params }),
        });
        assert.ok(r.json && !r.json.error, r.body);
      };
      await rpc('heartbeat', { worker: 'oa', container: 'c', agentVersion: '1' });
      await rpc('storeLogs', { worker: 'oa', container: 'c', instanceId: 'web', logs: [
        { sequence: 1, level: 'info', message: 'a', stream: 'stdout', metadata: { x: 1 } },
        { sequence: 2, level: 'error', message: 'b', stream: 'stderr', source: 'app' },
      ] });
      await rpc('storeErrors', { worker: 'oa', instanceId: 'web', errors: [{ level: 50, message: 'boom' }, { level: 60, message: 'fatal', rawOutput: '{}' }] });
      await rpc('upsertProcess', { worker: 'oa', instanceId: 'web', command: 'node', args: ['a.js'], status: 'running', pid: 5, env: { A: 'b' } });
      await rpc('recordEvent', { worker: 'oa', instanceId: 'web', type: 'process_started', payload: { pid: 5 } });
    });
    after(async () => stack && stack.stop());

    test('is a valid OpenAPI document', async () => {
      const res = await new Validator().validate(spec);
      assert.ok(res.valid, JSON.stringify(res.errors, null, 1));
    });

    test('an independent validator (swagger-parser) accepts the file, and every operation keeps its own parameters', async () => {
      const api = await SwaggerParser.validate(SPEC_PATH);
      const names = (op) => (op.parameters || []).map((p) => `${p.in}:${p.name}`).sort();
      for (const action of ['start', 'stop', 'restart']) {
        const op = api.paths[`/api/monitoring/process/{instanceId}/${action}`].post;
        assert.equal(op.operationId, `${action}Process`);
        assert.deepEqual(names(op), ['path:instanceId', 'query:force', 'query:worker'], action);
        assert.ok(op.responses['404'] && op.responses['502'], `${action} documents 404 and 502`);
      }
      // no key anywhere is a YAML 1.1 merge key kept literally
      const walk = (v, at) => {
        if (v && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            assert.notEqual(k, '<<', `a merge key at ${at}`);
            walk(x, `${at}/${k}`);
          }
        }
      };
      walk(spec, '');
    });

    // Validates a real response against the declared schema of its route.
    const check = async (method, template, url, { token = stack.token, expect, body } = {}) => {
      const r = await get(`${stack.http}${url}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      assert.equal(r.status, expect, `${method} ${url}: ${r.body}`);
      const op = spec.paths[template][method.toLowerCase()];
      assert.ok(op, `${method} ${template} is documented`);
      let response = op.responses[String(r.status)];
      assert.ok(response, `${method} ${template} documents ${r.status}`);
      let ptr = `openapi.json#/paths/${esc(template)}/${method.toLowerCase()}/responses/${r.status}`;
      if (response.$ref) {
        ptr = `openapi.json${response.$ref}`;
        response = response.$ref.split('/').slice(1).reduce((o, k) => o[k], spec);
      }
      if (r.status === 204) return r;
      const type = (r.headers.get('content-type') || '').split(';')[0];
      assert.ok(response.content[type], `${method} ${template} ${r.status} documents ${type}`);
      if (type === 'application/json') {
        const validate = ajv.getSchema(`${ptr}/content/${esc(type)}/schema`);
        assert.ok(validate(r.json), `${method} ${url}: ${JSON.stringify(validate.errors)}\n${r.body}`);
      }
      return r;
    };

    test('storeErrors / storeError with sequences: params and results match their components', async () => {
      const schema = (name) => ajv.getSchema(`openapi.json#/components/schemas/${name}`);
      const call = async (method, params) => {
        const r = await get(`${stack.http}/rpc`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: M(method), params }),
        });
        assert.ok(r.json && r.json.result, r.body);
        return r.json.result;
      };
      const params = { worker: 'oa', instanceId: 'seq', processId: 'p', errors: [
        { level: 50, message: 'a', sequence: 1, timestamp: '2026-11-27T09:00:00Z', rawOutput: null },
        { level: 60, message: 'b', sequence: 2, errorHash: 'ab'.repeat(32) },
        { level: 50, message: 'a' },
      ] };
      const v = schema('StoreErrorsParams');
      assert.ok(v(params), JSON.stringify(v.errors));
      const results = [await call('storeErrors', params), await call('storeErrors', params)];
      assert.equal(results[1].duplicates, 2);
      for (const res of results) {
        const vr = schema('StoreErrorsResult');
        assert.ok(vr(res), `${JSON.stringify(vr.errors)}\n${JSON.stringify(res)}`);
      }
      const one = { worker: 'oa', instanceId: 'seq', level: 50, message: 'c', sequence: 3 };
      for (const res of [await call('storeError', one), await call('storeError', one)]) {
        const vr = schema('StoreErrorResult');
        assert.ok(vr(res), `${JSON.stringify(vr.errors)}\n${JSON.stringify(res)}`);
      }
      // and the schemas are not empty promises: a wrong shape fails them
      assert.equal(schema('StoreErrorsResult')({ stored: 1, repeated: 0, errors: [] }), false);
      assert.equal(schema('ErrorIn')({ level: 50, message: 'x', sequence: 0 }), false);
    });

    test('real responses of every route match their schemas', async () => {
      const ro = stack.mint({ sub: 'other', scope: 'read' });
      await check('GET', '/api/monitoring/health', '/api/monitoring/health', { token: null, expect: 200 });
      await check('GET', '/api/monitoring/workers', '/api/monitoring/workers', { expect: 200 });
      await check('GET', '/api/monitoring/workers', '/api/monitoring/workers', { token: null, expect: 401 });
      await check('DELETE', '/api/monitoring/workers/{worker}', '/api/monitoring/workers/nobody', { expect: 200 });
      await check('DELETE', '/api/monitoring/workers/{worker}', '/api/monitoring/workers/nobody', { token: ro, expect: 403 });
      await check('DELETE', '/api/monitoring/workers/{worker}', '/api/monitoring/workers/Bad_Name', { expect: 400 });
      await check('GET', '/api/monitoring/logs', '/api/monitoring/logs?worker=oa&total=1', { expect: 200 });
      await check('GET', '/api/monitoring/logs', '/api/monitoring/logs?limit=0', { expect: 400 });
      await check('GET', '/api/monitoring/logs', '/api/monitoring/logs?worker=oa', { token: ro, expect: 403 });
      await check('GET', '/api/monitoring/logs', '/api/monitoring/logs?worker=oa&format=ndjson', { expect: 200 });
      await check('GET', '/api/monitoring/logs/{instanceId}', '/api/monitoring/logs/web?worker=oa&levels=error&order=asc', { expect: 200 });
      await check('GET', '/api/monitoring/logs/{instanceId}/stats', '/api/monitoring/logs/web/stats?worker=oa', { expect: 200 });
      await check('GET', '/api/monitoring/errors', '/api/monitoring/errors?worker=oa&minLevel=55', { expect: 200 });
      await check('GET', '/api/monitoring/errors/{instanceId}', '/api/monitoring/errors/web?worker=oa&total=true', { expect: 200 });
      await check('GET', '/api/monitoring/errors/{instanceId}/summary', '/api/monitoring/errors/web/summary?worker=oa', { expect: 200 });
      await check('GET', '/api/monitoring/events', '/api/monitoring/events?worker=oa&type=process_started', { expect: 200 });
      await check('GET', '/api/monitoring/processes', '/api/monitoring/processes?worker=oa&status=running', { expect: 200 });
      await check('GET', '/api/monitoring/process/{instanceId}/status', '/api/monitoring/process/web/status?worker=oa', { expect: 200 });
      await check('GET', '/api/monitoring/process/{instanceId}/status', '/api/monitoring/process/nope/status?worker=oa', { expect: 404 });
      for (const action of ['start', 'stop', 'restart']) {
        await check('POST', `/api/monitoring/process/{instanceId}/${action}`, `/api/monitoring/process/web/${action}?worker=ghost`, { expect: 502 });
        await check('POST', `/api/monitoring/process/{instanceId}/${action}`, `/api/monitoring/process/web/${action}?worker=nobody`, { expect: 404 });
        await check('POST', `/api/monitoring/process/{instanceId}/${action}`, `/api/monitoring/process/web/${action}?worker=ghost&bogus=1`, { expect: 400 });
      }
      await check('GET', '/api/monitoring/logs', '/api/monitoring/logs?worker=oa&foo=bar', { expect: 400 });
      await check('GET', '/api/monitoring/logs/{instanceId}', '/api/monitoring/logs/web?worker=oa&afterId=0&untilId=99999&untilSequence=9', { expect: 200 });
      await check('POST', '/rpc', '/rpc', { expect: 200, body: { jsonrpc: '2.0', id: 1, method: M('getLogs'), params: { worker: 'oa' } } });
      await check('POST', '/rpc', '/rpc', { expect: 200, body: [{ jsonrpc: '2.0', id: 1, method: M('nope') }, { jsonrpc: '2.0', id: 2, method: M('getWorkers') }] });
      await check('POST', '/rpc', '/rpc', { expect: 204, body: { jsonrpc: '2.0', method: M('getWorkers') } });
    });

    test('every query parameter a route documents is taken, and one it does not is refused by name', async () => {
      // One value per documented name, all sent at once.
      const values = {
        worker: 'oa', container: 'c', instanceId: 'web', since: '2000-01-01T00:00:00Z', until: '2100-01-01T00:00:00Z',
        levels: 'info,error', streams: 'stdout,stderr', afterSequence: '0', untilSequence: '99', afterId: '0',
        untilId: '999999', limit: '5', offset: '0', order: 'asc', total: '1', format: 'json', minLevel: '1',
        maxLevel: '99', type: 'process_started', status: 'running', force: '1',
      };
      for (const [template, item] of Object.entries(spec.paths)) {
        // health and metrics take no query (metrics: Prometheus's scrape)
        if (template === '/rpc' || template === '/api/monitoring/health' || template === '/api/monitoring/metrics') continue;
        for (const [method, op] of Object.entries(item)) {
          const params = (op.parameters || []).map((p) => (p.$ref ? p.$ref.split('/').slice(1).reduce((o, k) => o[k], spec) : p));
          const query = params.filter((p) => p.in === 'query').map((p) => {
            assert.ok(values[p.name], `${template}: a test value for ${p.name}`);
            return `${p.name}=${encodeURIComponent(p.name === 'worker' && template.includes('/process/') && method === 'post' ? 'ghost' : values[p.name])}`;
          });
          const url = template.replace('{instanceId}', 'web').replace('{worker}', 'oa-gone');
          const opts = { method: method.toUpperCase(), headers: { authorization: `Bearer ${stack.token}` } };
          const r = await get(`${stack.http}${url}?${query.join('&')}`, opts);
          assert.notEqual(r.status, 400, `${method} ${url}?${query.join('&')}: ${r.body.slice(0, 300)}`);
          const bad = await get(`${stack.http}${url}?${[...query, 'undocumented=1'].join('&')}`, opts);
          assert.equal(bad.status, 400, `${method} ${url} with an undocumented key`);
          assert.equal(bad.json.error.field, 'undocumented');
        }
      }
    });
  });
}
