import { createServer, type Server } from 'node:http';
import { listen } from '../../util/listen.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { NostrRelay } from '@nostr-relay/core';
import { EventRepository, EventUtils, type Event, type EventRepositoryUpsertResult, type Filter } from '@nostr-relay/common';
import { addressOf, isReplaceable, tagValues } from '../../nostr/tags.js';

/**
 * The embedded relay's storage: newest-first in memory, NIP-01 replaceable/addressable rules, and a
 * cap so a long simulation does not grow without bound.
 */
export class MemoryEventRepository extends EventRepository {
  private readonly events = new Map<string, Event>();
  private readonly latestByReplaceKey = new Map<string, string>();

  constructor(private readonly capacity = 100_000) {
    super();
  }

  isSearchSupported(): boolean {
    return false;
  }

  upsert(event: Event): EventRepositoryUpsertResult {
    if (this.events.has(event.id)) return { isDuplicate: true };
    const replaceKey = replaceKeyOf(event);
    if (replaceKey) {
      const previous = this.events.get(this.latestByReplaceKey.get(replaceKey) ?? '');
      if (previous && (previous.created_at > event.created_at || (previous.created_at === event.created_at && previous.id < event.id))) {
        return { isDuplicate: true };
      }
      if (previous) this.events.delete(previous.id);
      this.latestByReplaceKey.set(replaceKey, event.id);
    }
    this.events.set(event.id, event);
    if (this.events.size > this.capacity) this.events.delete(this.events.keys().next().value!);
    return { isDuplicate: false };
  }

  /** Called with each stored deletion request, so the relay can broadcast it (see startRelay). */
  onDeletion?: (event: Event) => Promise<void> | void;

  /**
   * NIP-09: removes the author's own events named by `e` tags (and `a` versions up to its time), then
   * keeps the deletion itself, as relays do, so subscribers (Funnel's listener) receive it.
   * @nostr-relay/core hands kind 5 only to this method and neither stores nor broadcasts it.
   */
  async deleteByDeletionRequest(event: Event): Promise<void> {
    if (this.events.has(event.id)) return;
    const ids = new Set(tagValues(event.tags, 'e'));
    const addresses = new Set(tagValues(event.tags, 'a'));
    for (const stored of [...this.events.values()]) {
      if (stored.pubkey !== event.pubkey || stored.created_at > event.created_at) continue;
      const address = addressOf(stored);
      if (ids.has(stored.id) || (address && addresses.has(address))) this.events.delete(stored.id);
    }
    this.events.set(event.id, event);
    await this.onDeletion?.(event);
  }

  find(filter: Filter): Event[] {
    const matches: Event[] = [];
    for (const event of this.events.values()) if (EventUtils.isMatchingFilter(event, filter)) matches.push(event);
    matches.sort((a, b) => b.created_at - a.created_at);
    return filter.limit !== undefined ? matches.slice(0, filter.limit) : matches;
  }

  async destroy(): Promise<void> {
    this.events.clear();
  }

  get size(): number {
    return this.events.size;
  }
}

function replaceKeyOf(event: Event): string | null {
  return isReplaceable(event.kind) ? `${event.kind}:${event.pubkey}` : addressOf(event);
}

export interface EmbeddedRelay {
  url: string;
  port: number;
  repository: MemoryEventRepository;
  close(): Promise<void>;
}

/**
 * A real NIP-01 relay (@nostr-relay/core) on a WebSocket port. Like public relays it refuses events
 * whose id or signature is wrong; Funnel verifies again at ingest, since not every relay does.
 */
export async function startRelay(port: number, host = '127.0.0.1'): Promise<EmbeddedRelay> {
  const repository = new MemoryEventRepository();
  const relay = new NostrRelay(repository, { filterResultCacheTtl: 0, logLevel: 3 });
  repository.onDeletion = (event) => relay.broadcast(event);
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/nostr+json' });
    res.end(JSON.stringify({ name: 'funnel-local', description: 'Funnel local stack relay', supported_nips: [1, 9, 11] }));
  });
  const wss = new WebSocketServer({ server, maxPayload: 2 * 1024 * 1024 });
  // The ws server re-emits its HTTP server's errors; listen errors are reported by the promise below.
  wss.on('error', () => {});
  wss.on('connection', (socket: WebSocket, req) => {
    relay.handleConnection(socket, req.socket.remoteAddress);
    socket.on('message', async (data) => {
      let message;
      try {
        message = JSON.parse(data.toString());
      } catch {
        socket.send(JSON.stringify(['NOTICE', 'invalid: message is not JSON']));
        return;
      }
      try {
        await relay.handleMessage(socket, message);
      } catch (error) {
        socket.send(JSON.stringify(['NOTICE', `error: ${(error as Error).message}`]));
      }
    });
    socket.on('close', () => relay.handleDisconnect(socket));
    socket.on('error', () => relay.handleDisconnect(socket));
  });
  const actualPort = await listen(server, port, host);
  return {
    url: `ws://${host}:${actualPort}`,
    port: actualPort,
    repository,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await relay.destroy();
    },
  };
}
