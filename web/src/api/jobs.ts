import { api, unwrap, type Schemas } from './client';
import { everyField, unwrapPage, type CursorPage } from './page';

export type QueueStats = Schemas['QueueStats'];
export type Worker = Schemas['WorkerView'];
export type DeadJob = Schemas['DeadJobView'];
export type QueueName = Schemas['QueueName'];

const WORKER_FIELDS = everyField<Worker>({
  id: true,
  queue: true,
  host: true,
  pid: true,
  concurrency: true,
  inFlight: true,
  heartbeatMs: true,
  startedAt: true,
  lastHeartbeatAt: true,
});
const DEAD_JOB_FIELDS = everyField<DeadJob>({
  id: true,
  queue: true,
  subjectId: true,
  state: true,
  attempts: true,
  maxAttempts: true,
  error: true,
  createdAt: true,
  deadLetteredAt: true,
});

export const QUEUE_NAMES: readonly QueueName[] = ['campaign', 'import', 'report', 'notification', 'webhook', 'inbound'];

export function queueStats(): Promise<QueueStats> {
  return unwrap(api.GET('/api/jobs/queues/stats'));
}

export function listWorkers(cursor?: string): Promise<CursorPage<Worker>> {
  return unwrapPage<Worker>(api.GET('/api/jobs/workers/status', { params: { query: { limit: 100, fields: WORKER_FIELDS, ...(cursor ? { cursor } : {}) } } }));
}

export function listDeadJobs({ cursor, queue }: { cursor?: string; queue?: QueueName | '' }): Promise<CursorPage<DeadJob>> {
  return unwrapPage<DeadJob>(api.GET('/api/jobs/dead', { params: { query: { limit: 50, fields: DEAD_JOB_FIELDS, ...(cursor ? { cursor } : {}), ...(queue ? { queue } : {}) } } }));
}

export function replayJob(id: string): Promise<unknown> {
  return unwrap(api.POST('/api/jobs/{job_id}/replay', { params: { path: { job_id: id } } }));
}

export function replayAllDead(queue: QueueName | ''): Promise<Schemas['ReplayedAll']> {
  return unwrap(api.POST('/api/jobs/dead/replay', { params: { query: queue ? { queue } : {} } }));
}
