import { readFileSync } from 'node:fs';
import type { NostrEvent } from '../../lib/nostr/event.js';

export const FIXTURE_FILES = ['thread-and-reactions.jsonl', 'mixed-kinds.jsonl', 'reactions-small.jsonl', 'zaps-and-videos.jsonl'] as const;

export function fixturePath(name: string): string {
  return new URL(`../../../shared/fixtures/nostr/${name}`, import.meta.url).pathname;
}

export function loadFixture(name: string): NostrEvent[] {
  return readFileSync(fixturePath(name), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as NostrEvent);
}

/** A copy with one field changed: the id or signature no longer matches. */
export function tampered(event: NostrEvent, change: Partial<NostrEvent>): NostrEvent {
  return { ...event, ...change };
}
