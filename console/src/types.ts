// The shapes of wharf's answers that the console reads (docs/DIRECTIVES.md,
// docs/wharfd.md).

export interface Health {
  status: 'healthy' | 'unhealthy' | 'unknown';
  checked_at: string | null;
  latency_ms: number | null;
  error: string | null;
}

// GET /api/workers (the module's registry)
export interface RegistryWorker {
  name: string;
  container: string;
  upstream: { name: string; servers: string[] };
  paths: { terminal: string; websocket: string };
  max_sessions: number;
  health: { terminal: Health; websocket: Health };
  sessions: { terminal: number; websocket: number; http: number };
  // this gateway's own; sessions above are the fleet's (wharf_fleet_peer)
  sessions_here: { terminal: number; websocket: number; http: number };
  requests: Record<string, number>;
  rejected_sessions: number;
}

// GET /api/terminals
export interface TerminalEntry {
  worker: string;
  container: string;
  path: string;
  protocols: string[];
  health: Health;
  sessions: number; // the fleet's terminals; sessions_here this gateway's
  sessions_here: number;
  max_sessions: number;
}

export interface Envelope<T> {
  data: T[];
  pagination: { limit: number; offset: number; total: number | null; hasMore: boolean };
}

export interface StoredWorker {
  name: string;
  containerName: string | null;
  agentVersion: string | null;
  firstSeen: string | null;
  lastSeen: string | null;
  status: string | null;
}

export interface ProcessRow {
  workerName: string;
  containerName?: string | null;
  instanceId: string;
  processId?: string | null;
  command?: string;
  args?: string[] | null;
  status: string;
  pid?: number | null;
  restartCount?: number | null;
  startTime?: string | null;
  endTime?: string | null;
  exitCode?: number | null;
  lastError?: string | null;
  updatedAt?: string | null;
}

export interface LogRow {
  id: number;
  workerName: string;
  instanceId: string;
  processId?: string | null;
  sequence: number;
  timestamp: string;
  level: string;
  message: string;
  stream?: string | null;
  source?: string | null;
  createdAt?: string;
}

export interface ErrorRow {
  workerName: string;
  instanceId: string;
  processId?: string | null;
  errorHash: string;
  timestamp?: string;
  level: number;
  message: string;
  rawOutput?: string | null;
  occurrenceCount: number;
  firstSeen: string;
  lastSeen: string;
}

export interface EventRow {
  id?: number;
  workerName: string;
  instanceId?: string | null;
  processId?: string | null;
  type: string;
  payload?: unknown;
  timestamp: string;
}

export interface ErrorSummary {
  totalErrors: number;
  uniqueErrors: number;
  repeatedErrors: number;
  latestError?: string | null;
}
