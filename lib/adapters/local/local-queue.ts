import { randomUUID } from 'node:crypto';
import { closeSync, createReadStream, fsync, fsyncSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { QueueRecord, QueueSender } from '../../ports.js';

const fsyncAsync = promisify(fsync);

/** Default cap on messages held (sent, not yet deleted): past it `sendBatch` refuses bodies. */
export const LOCAL_QUEUE_MAX_MESSAGES = 10_000;
/** Default cap on the bytes of message bodies held: 32 MiB keeps a flood from growing the process. */
export const LOCAL_QUEUE_MAX_BYTES = 32 * 1024 * 1024;
/** The journal is rewritten with only live messages once it is this big and mostly dead entries. */
export const JOURNAL_COMPACT_MIN_BYTES = 4 * 1024 * 1024;

interface StoredMessage {
  messageId: string;
  body: string;
  bytes: number;
  receiveCount: number;
  /** Infinity until the send is fsync'd: nothing is handed out before it is durable */
  visibleAt: number;
  sentAt: number;
}

export interface LocalQueueOptions {
  visibilityTimeoutMs: number;
  /** after this many receives a message goes to the dead-letter queue instead (SQS maxReceiveCount) */
  maxReceives: number;
  deadLetter?: LocalQueue;
  now?: () => number;
  maxMessages?: number;
  maxBytes?: number;
  /** called for each journal write or fsync that failed (disk full, I/O error) */
  onFault?: (error: unknown) => void;
}

/**
 * Journal records, one JSON object a line:
 *   {"s":id,"b":body,"t":sentAt,"n":receiveCount}  sent (n only in a compacted journal)
 *   {"r":[ids]}                                     received once more
 *   {"d":[ids]}                                     deleted
 */
type JournalRecord = { s: string; b: string; t: number; n?: number } | { r: string[] } | { d: string[] };

/** What opening a journal found. */
export interface JournalReplay {
  restored: number;
  /** lines that did not parse (a write torn by a crash or a full disk): skipped */
  tornLines: number;
}

/**
 * A queue with SQS semantics: at-least-once, visibility timeout, redelivery, DLQ. Opened with a
 * journal (`LocalQueue.open`) it is durable: `sendBatch` resolves only once the bodies are appended
 * and fsync'd, so an acknowledged message survives a SIGKILL or a power cut; receives and deletes are
 * appended too, and the next open restores every live message with its id and receive count. Without a
 * journal (`new LocalQueue`) it lives in memory (tests). Bounded by `maxMessages` and `maxBytes`: when
 * full, `sendBatch` returns the bodies it did not take in `failed`, and the caller retries them later.
 */
export class LocalQueue implements QueueSender {
  private readonly messages = new Map<string, StoredMessage>();
  private readonly waiters: (() => void)[] = [];
  private readonly now: () => number;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private heldBytes = 0;
  private fd: number | undefined;
  private journalBytes = 0;
  /** a write failed part-way: start the next append on a fresh line so the torn one stays alone */
  private tornTail = false;
  private syncRunning: Promise<void> | null = null;
  private syncQueued: Promise<void> | null = null;
  /** the last journal fault, cleared by the next successful fsync (health reads it) */
  lastFault: { at: number; message: string } | null = null;
  /** when an fsync last succeeded: a fault before it has cleared (health reads it) */
  lastSyncOkAt: number | null = null;
  replay: JournalReplay = { restored: 0, tornLines: 0 };

  constructor(
    private readonly options: LocalQueueOptions,
    private readonly journalPath?: string,
  ) {
    this.now = options.now ?? Date.now;
    this.maxMessages = options.maxMessages ?? LOCAL_QUEUE_MAX_MESSAGES;
    this.maxBytes = options.maxBytes ?? LOCAL_QUEUE_MAX_BYTES;
  }

  /** Opens (or creates) a durable queue on `journalPath`, restoring what the journal holds. */
  static async open(journalPath: string, options: LocalQueueOptions): Promise<LocalQueue> {
    const queue = new LocalQueue(options, journalPath);
    await queue.restore();
    return queue;
  }

  get capacity(): { maxMessages: number; maxBytes: number } {
    return { maxMessages: this.maxMessages, maxBytes: this.maxBytes };
  }

  get bytes(): number {
    return this.heldBytes;
  }

  async sendBatch(bodies: string[]): Promise<{ failed: string[] }> {
    const accepted: StoredMessage[] = [];
    let i = 0;
    for (; i < bodies.length; i++) {
      const body = bodies[i]!;
      const bytes = Buffer.byteLength(body);
      if (this.messages.size + 1 > this.maxMessages || this.heldBytes + bytes > this.maxBytes) break;
      const message = { messageId: randomUUID(), body, bytes, receiveCount: 0, visibleAt: this.fd === undefined ? 0 : Infinity, sentAt: this.now() };
      this.messages.set(message.messageId, message);
      this.heldBytes += bytes;
      accepted.push(message);
    }
    const refused = bodies.slice(i);
    if (!accepted.length) return { failed: refused };
    if (this.fd !== undefined) {
      try {
        this.append(accepted.map((m) => ({ s: m.messageId, b: m.body, t: m.sentAt })));
        await this.sync();
      } catch (error) {
        // Not durable, so not accepted: the caller keeps the bodies and retries them.
        for (const m of accepted) this.forget(m.messageId);
        this.appendQuietly({ d: accepted.map((m) => m.messageId) });
        return { failed: [...accepted.map((m) => m.body), ...refused] };
      }
      for (const m of accepted) if (this.messages.get(m.messageId) === m) m.visibleAt = 0;
    }
    this.waiters.splice(0).forEach((wake) => wake());
    return { failed: refused };
  }

  /** Receives up to `max` visible messages and hides them for the visibility timeout. */
  receive(max: number): QueueRecord[] {
    const now = this.now();
    const out: QueueRecord[] = [];
    for (const message of this.messages.values()) {
      if (out.length >= max) break;
      if (message.visibleAt > now) continue;
      if (message.receiveCount >= this.options.maxReceives) {
        this.moveToDeadLetter(message);
        continue;
      }
      message.receiveCount++;
      message.visibleAt = now + this.options.visibilityTimeoutMs;
      out.push({ messageId: message.messageId, body: message.body, receiveCount: message.receiveCount });
    }
    // Written before the records are handed out, so a message that crashes the process still counts
    // its receives and is dead-lettered after maxReceives starts.
    if (out.length) this.appendQuietly({ r: out.map((r) => r.messageId) });
    return out;
  }

  delete(messageIds: string[]): void {
    const deleted = messageIds.filter((id) => this.forget(id));
    if (deleted.length) this.appendQuietly({ d: deleted });
    this.maybeCompact();
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

  /** Flushes the journal to disk and closes it; what is still queued is restored by the next open. */
  async close(): Promise<void> {
    if (this.fd === undefined) return;
    await this.syncRunning?.catch(() => {});
    await this.syncQueued?.catch(() => {});
    try {
      fsyncSync(this.fd);
    } catch (error) {
      this.fault(error);
    }
    closeSync(this.fd);
    this.fd = undefined;
  }

  private moveToDeadLetter(message: StoredMessage): void {
    // Hidden while the DLQ stores it; deleted here only once the DLQ has it durably.
    message.visibleAt = Infinity;
    const deadLetter = this.options.deadLetter;
    if (!deadLetter) {
      this.delete([message.messageId]);
      return;
    }
    void deadLetter.sendBatch([message.body]).then(
      ({ failed }) => {
        if (failed.length) message.visibleAt = this.now() + this.options.visibilityTimeoutMs;
        else this.delete([message.messageId]);
      },
      () => {
        message.visibleAt = this.now() + this.options.visibilityTimeoutMs;
      },
    );
  }

  private forget(id: string): boolean {
    const message = this.messages.get(id);
    if (!message) return false;
    this.messages.delete(id);
    this.heldBytes -= message.bytes;
    return true;
  }

  private async restore(): Promise<void> {
    const path = this.journalPath!;
    mkdirSync(dirname(path), { recursive: true });
    const size = journalSize(path);
    const tornLines = size ? await this.replayJournal(path) : 0;
    this.replay = { restored: this.messages.size, tornLines };
    if (tornLines) {
      // Rewritten without the torn lines, which would otherwise be skipped and counted at every open.
      this.compact();
      return;
    }
    this.fd = openSync(path, 'a+');
    // A new journal: its directory entry is made durable once, as compact() does for its rename.
    if (!size) fsyncDirectory(dirname(path));
    this.journalBytes = size;
    this.tornTail = size > 0 && lastByte(this.fd, size) !== 0x0a;
    this.maybeCompact();
  }

  /** Applies the journal's records to the (empty) queue; returns how many lines did not parse. */
  private async replayJournal(path: string): Promise<number> {
    let tornLines = 0;
    for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
      if (!line) continue;
      let record: JournalRecord;
      try {
        record = JSON.parse(line) as JournalRecord;
      } catch {
        tornLines++;
        continue;
      }
      if ('s' in record && typeof record.s === 'string' && typeof record.b === 'string') {
        const bytes = Buffer.byteLength(record.b);
        if (!this.messages.has(record.s)) this.heldBytes += bytes;
        this.messages.set(record.s, { messageId: record.s, body: record.b, bytes, receiveCount: record.n ?? 0, visibleAt: 0, sentAt: record.t ?? this.now() });
      } else if ('r' in record && Array.isArray(record.r)) {
        for (const id of record.r) {
          const message = this.messages.get(id);
          if (message) message.receiveCount++;
        }
      } else if ('d' in record && Array.isArray(record.d)) {
        for (const id of record.d) this.forget(id);
      } else tornLines++;
    }
    return tornLines;
  }

  /** Writes the live messages to a new journal (temp, fsync, rename, fsync the directory) and switches to it. */
  private compact(): void {
    const path = this.journalPath!;
    const temp = `${path}.compact.tmp`;
    const fd = openSync(temp, 'w');
    let bytes = 0;
    try {
      const records = [...this.messages.values()].map((m) => JSON.stringify({ s: m.messageId, b: m.body, t: m.sentAt, n: m.receiveCount }));
      for (let i = 0; i < records.length; i += 500) {
        const chunk = records.slice(i, i + 500).join('\n') + '\n';
        bytes += writeAll(fd, chunk);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    fsyncDirectory(dirname(path));
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = openSync(path, 'a');
    this.journalBytes = bytes;
    this.tornTail = false;
  }

  private maybeCompact(): void {
    if (this.fd === undefined || this.syncRunning || this.syncQueued) return;
    if (this.journalBytes < JOURNAL_COMPACT_MIN_BYTES || this.journalBytes < 4 * (this.heldBytes + 64 * this.messages.size)) return;
    try {
      this.compact();
    } catch (error) {
      // The old journal is still whole and in use; compaction is retried on a later delete.
      this.fault(error);
    }
  }

  private append(records: JournalRecord[]): void {
    if (this.fd === undefined) return;
    const text = (this.tornTail ? '\n' : '') + records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    try {
      this.journalBytes += writeAll(this.fd, text);
      this.tornTail = false;
    } catch (error) {
      this.tornTail = true;
      this.fault(error);
      throw error;
    }
  }

  /** Receive counts and deletes: a lost one costs a redelivery at most, so a fault is counted, not thrown. */
  private appendQuietly(record: JournalRecord): void {
    try {
      this.append([record]);
    } catch {
      // counted by append
    }
  }

  /** Group commit: appends made while an fsync runs share the next one. */
  private sync(): Promise<void> {
    if (this.syncQueued) return this.syncQueued;
    const previous = this.syncRunning ?? Promise.resolve();
    const next: Promise<void> = previous
      .catch(() => {})
      .then(async () => {
        this.syncQueued = null;
        this.syncRunning = next;
        if (this.fd === undefined) return;
        try {
          await fsyncAsync(this.fd);
          this.lastFault = null;
          this.lastSyncOkAt = this.now();
        } catch (error) {
          this.fault(error);
          throw error;
        }
      })
      .finally(() => {
        if (this.syncRunning === next) this.syncRunning = null;
      });
    this.syncQueued = next;
    return next;
  }

  private fault(error: unknown): void {
    this.lastFault = { at: this.now(), message: (error as Error)?.message ?? String(error) };
    this.options.onFault?.(error);
  }
}

function writeAll(fd: number, text: string): number {
  const buffer = Buffer.from(text);
  let written = 0;
  while (written < buffer.length) written += writeSync(fd, buffer, written, buffer.length - written);
  return buffer.length;
}

/** The journal's size in bytes, 0 when there is none yet. */
function journalSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

function lastByte(fd: number, size: number): number {
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, size - 1);
  return byte[0]!;
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
