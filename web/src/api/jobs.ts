import { api, unwrap, type Schemas } from './client';
import { unwrapPage, type CursorPage } from './page';

export type QueueStats = Schemas['QueueStats'];
export type Worker = Schemas['WorkerView'];
export type DeadJob = Schemas['DeadJobView'];
export type QueueName = Schemas['QueueName'];

export const QUEUE_NAMES: readonly QueueName[] = ['campaign', 'import', 'report', 'notification', 'webhook', 'inbound'];

export function queueStats(): Promise<QueueStats> {
  return unwrap(api.GET('/api/jobs/queues/stats'));
}

export function listWorkers(cursor?: string): Promise<CursorPage<Worker>> {
  return unwrapPage<Worker>(api.GET('/api/jobs/workers/status', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } }));
}

export function listDeadJobs({ cursor, queue }: { cursor?: string; queue?: QueueName | '' }): Promise<CursorPage<DeadJob>> {
  return unwrapPage<DeadJob>(api.GET('/api/jobs/dead', { params: { query: { limit: 50, ...(cursor ? { cursor } : {}), ...(queue ? { queue } : {}) } } }));
}

export function replayJob(id: string): Promise<unknown> {
  return unwrap(api.POST('/api/jobs/{job_id}/replay', { params: { path: { job_id: id } } }));
}

export function replayAllDead(queue: QueueName | ''): Promise<Schemas['ReplayedAll']> {
  return unwrap(api.POST('/api/jobs/dead/replay', { params: { query: queue ? { queue } : {} } }));
}
