import { describe, expect, it } from 'vitest';
import { eventNamespace, indexRecords, lookupEvent, videosByAuthorNamespace } from '../../lib/counters/event-index.js';
import { normalise } from '../../lib/nostr/normalise.js';
import { MemoryCounterStore } from '../../lib/adapters/memory/index.js';
import { loadFixture } from '../support/fixtures.js';

const TTL = 62 * 86400;
const facts = [...loadFixture('thread-and-reactions.jsonl'), ...loadFixture('zaps-and-videos.jsonl')].map((e) => normalise(e, { relay: 'wss://relay.example', ingestedAt: 0 }));

describe('the event index', () => {
  it("keeps a note, reply or comment as a short record (author, kind, type, time) that expires noteIndexSeconds after its created_at", () => {
    const notes = facts.filter((f) => ['note', 'reply', 'comment'].includes(f.type));
    expect(notes.length).toBeGreaterThan(10);
    const records = indexRecords(notes, new Map(), TTL);
    expect(records.length).toBe(new Set(notes.map((f) => f.event_id)).size);
    for (const fact of notes) {
      const record = records.find((r) => r.namespace === eventNamespace(fact.event_id))!;
      expect(record.value).toEqual({ author: fact.author, kind: fact.kind, type: fact.type, created_at: fact.created_at });
      expect(record.expiresAt).toBe(fact.created_at + TTL);
    }
  });

  it('keeps a video whole, by event, day, author and tag, without expiry', () => {
    const videos = facts.filter((f) => f.type === 'video');
    expect(videos.length).toBeGreaterThan(0);
    const records = indexRecords(videos, new Map(), TTL);
    expect(records.every((r) => r.expiresAt === undefined)).toBe(true);
    const video = videos[0]!;
    const own = records.filter((r) => r.value.id === video.event_id);
    expect(own.map((r) => r.namespace)).toEqual(expect.arrayContaining([eventNamespace(video.event_id), videosByAuthorNamespace(video.author)]));
    expect(own[0]!.value).toMatchObject({ media_url: video.media_url, title: video.title, hashtags: video.hashtags });
  });

  it('reads a short record back in the full shape, the card fields empty', async () => {
    const counters = new MemoryCounterStore();
    const note = facts.find((f) => f.type === 'note')!;
    await counters.putStates(indexRecords([note], new Map(), TTL));
    const { event, deleted } = await lookupEvent(counters, note.event_id);
    expect(deleted).toBe(false);
    expect(event).toEqual({ id: note.event_id, author: note.author, kind: note.kind, type: 'note', created_at: note.created_at, address: null, title: null, media_url: null, image_url: null, duration_s: null, published_at: null, hashtags: [] });
  });
});
