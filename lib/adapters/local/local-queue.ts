import { randomUUID } from 'node:crypto';
import type { QueueRecord, QueueSender } from '../../ports.js';

interface StoredMessage {
  messageId: string;
  body: string;
  receiveCount: number;
  visibleAt: number;
  sentAt: number;
}

export interface LocalQueueOptions {
  visibilityTimeoutMs: number;
  /** after this many receives a message goes to the dead-letter queue instead (SQS maxReceiveCount) */
  maxReceives: number;
  deadLetter?: LocalQueue;
  now?: () => number;
}

/** An in-process queue with SQS semantics: at-least-once, visibility timeout, redelivery, DLQ. */
export class LocalQueue implements QueueSender {
  private readonly messages = new Map<string, StoredMessage>();
  private readonly waiters: (() => void)[] = [];
  private readonly now: () => number;

  constructor(private readonly options: LocalQueueOptions) {
    this.now = options.now ?? Date.now;
  }

  async sendBatch(bodies: string[]): Promise<{ failed: string[] }> {
    for (const body of bodies) {
      const messageId = randomUUID();
      this.messages.set(messageId, { messageId, body, receiveCount: 0, visibleAt: 0, sentAt: this.now() });
    }
    this.waiters.splice(0).forEach((wake) => wake());
    return { failed: [] };
  }

  /** Receives up to `max` visible messages and hides them for the visibility timeout. */
  receive(max: number): QueueRecord[] {
    const now = this.now();
    const out: QueueRecord[] = [];
    for (const message of this.messages.values()) {
      if (out.length >= max) break;
      if (message.visibleAt > now) continue;
      if (message.receiveCount >= this.options.maxReceives) {
        this.messages.delete(message.messageId);
        void this.options.deadLetter?.sendBatch([message.body]);
        continue;
      }
      message.receiveCount++;
      message.visibleAt = now + this.options.visibilityTimeoutMs;
      out.push({ messageId: message.messageId, body: message.body, receiveCount: message.receiveCount });
    }
    return out;
  }

  delete(messageIds: string[]): void {
    for (const id of messageIds) this.messages.delete(id);
  }

  /** Resolves when a message is sent or after `ms`, whichever is first (long polling). */
  waitForMessages(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  get depth(): number {
    return this.messages.size;
  }

  get visibleDepth(): number {
    const now = this.now();
    let n = 0;
    for (const m of this.messages.values()) if (m.visibleAt <= now) n++;
    return n;
  }

  oldestAgeMs(): number {
    let oldest = Infinity;
    for (const m of this.messages.values()) oldest = Math.min(oldest, m.sentAt);
    return oldest === Infinity ? 0 : this.now() - oldest;
  }

  bodies(): string[] {
    return [...this.messages.values()].map((m) => m.body);
  }
}
