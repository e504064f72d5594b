// Drizzle mirror of schema/0001_init.sql and the later migrations
// (schema/0002_error_sequence.sql) for TypeScript readers of the
// wharf database (a dashboard, a report script). The SQL migrations are the
// source of truth; this file must follow them column by column, and
// tests/integration/wharfd_drizzle.test.mjs checks that it does against a
// database written by wharfd, then reads rows back through it.
//
// Times are ISO-8601 UTC text with milliseconds; args, env, metadata and
// payload hold JSON text.

import {
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';

export const workers = sqliteTable('workers', {
  name: text('name').notNull().primaryKey(),
  containerName: text('container_name'),
  agentVersion: text('agent_version'),
  firstSeen: text('first_seen').notNull(),
  lastSeen: text('last_seen').notNull(),
  status: text('status').notNull().default('online'),
});

export const containerProcesses = sqliteTable('container_processes', {
  workerName: text('worker_name').notNull(),
  containerName: text('container_name'),
  instanceId: text('instance_id').notNull(),
  processId: text('process_id'),
  command: text('command').notNull(),
  args: text('args'),
  cwd: text('cwd'),
  status: text('status', { enum: ['starting', 'running', 'stopping', 'stopped', 'crashed'] }).notNull(),
  pid: integer('pid'),
  restartCount: integer('restart_count').notNull().default(0),
  startTime: text('start_time'),
  endTime: text('end_time'),
  exitCode: integer('exit_code'),
  lastError: text('last_error'),
  env: text('env'),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
}, (t) => ({
  pk: primaryKey({ columns: [t.workerName, t.instanceId] }),
}));

export const containerErrors = sqliteTable('container_errors', {
  id: integer('id').primaryKey(),
  workerName: text('worker_name').notNull(),
  containerName: text('container_name'),
  instanceId: text('instance_id').notNull(),
  processId: text('process_id'),
  errorHash: text('error_hash').notNull(),
  timestamp: text('timestamp').notNull(),
  level: real('level').notNull(),
  message: text('message').notNull(),
  rawOutput: text('raw_output'),
  occurrenceCount: integer('occurrence_count').notNull().default(1),
  firstSeen: text('first_seen').notNull(),
  lastSeen: text('last_seen').notNull(),
  createdAt: text('created_at').notNull(),
  // 0002_error_sequence: the highest log-line sequence counted (resends
  // carrying it or a lower one change nothing); null when none.
  lastSequence: integer('last_sequence'),
}, (t) => ({
  dedup: uniqueIndex('container_errors_dedup').on(t.workerName, t.instanceId, t.errorHash),
}));

export const containerLogs = sqliteTable('container_logs', {
  id: integer('id').primaryKey(),
  workerName: text('worker_name').notNull(),
  containerName: text('container_name'),
  instanceId: text('instance_id').notNull(),
  processId: text('process_id'),
  sequence: integer('sequence').notNull(),
  timestamp: text('timestamp').notNull(),
  level: text('level', { enum: ['debug', 'info', 'warn', 'error', 'output'] }).notNull(),
  message: text('message').notNull(),
  stream: text('stream', { enum: ['stdout', 'stderr'] }),
  source: text('source'),
  metadata: text('metadata'),
  createdAt: text('created_at').notNull(),
}, (t) => ({
  seq: uniqueIndex('container_logs_seq').on(t.workerName, t.instanceId, t.sequence),
  worker: index('container_logs_worker').on(t.workerName),
}));

export const containerEvents = sqliteTable('container_events', {
  id: integer('id').primaryKey(),
  workerName: text('worker_name').notNull(),
  containerName: text('container_name'),
  instanceId: text('instance_id'),
  processId: text('process_id'),
  type: text('type').notNull(),
  payload: text('payload'),
  timestamp: text('timestamp').notNull(),
}, (t) => ({
  worker: index('container_events_worker').on(t.workerName),
}));
