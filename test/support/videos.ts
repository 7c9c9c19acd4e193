import type { CounterStore } from '../../lib/ports.js';
import { eventNamespace, revisionId, revisionsNamespace, videosByAuthorNamespace, videosByDayNamespace, type IndexedEvent } from '../../lib/counters/event-index.js';

export const hex = (n: number, prefix = 'e') => (prefix + n.toString(16)).padStart(64, '0');

/** A video as ingest indexes it (lib/counters/event-index.ts indexRecords): by event, revision, day and author. */
export async function publishVideo(counters: CounterStore, video: Partial<IndexedEvent> & { id: string; created_at: number }): Promise<IndexedEvent> {
  const v: IndexedEvent = {
    author: hex(1, 'a'),
    kind: 21,
    type: 'video',
    address: null,
    title: `video ${video.id.slice(-4)}`,
    media_url: 'https://v.example/x.mp4',
    image_url: null,
    duration_s: 30,
    published_at: null,
    hashtags: [],
    ...video,
  };
  const value = v as unknown as Record<string, unknown>;
  const id = revisionId(v.created_at, v.id);
  await counters.putStates([
    { namespace: eventNamespace(v.id), id: 0, value },
    { namespace: videosByDayNamespace(Math.floor(v.created_at / 86400) * 86400), id, value },
    { namespace: videosByAuthorNamespace(v.author), id, value },
    ...(v.address ? [{ namespace: revisionsNamespace(v.address), id, value }] : []),
  ]);
  return v;
}
