import { randomUUID } from 'node:crypto';
import { MIN_CREATED_AT } from '../facts/partition.js';
import type { ObjectStore } from '../ports.js';
import type { SqlDialect } from './metrics-sql.js';
import { partSql, partsOf, type PartName } from './parts.js';
import { athenaQueryCostUsd, formatBytes, listFactsByHour, prunedBytes, scanFraction } from './scan.js';
import type { JobRequest } from './jobs.js';
import { ARCHIVE_TIER_NAME, DEFAULT_ARCHIVE_POLICY, mayBeArchived, type ArchivePolicy } from '../facts/storage-tiers.js';

/**
 * How a job splits its window: into chunks sized from what the window's partitions hold, each scanned
 * by the job's queries in a step of its own (one message, one invocation of the jobs function).
 */

/** Days one chunk spans at most: bounds the partitions one query prunes to (744 hours) and a partial's rows. */
export const CHUNK_MAX_DAYS = 31;
/**
 * A chunk's queries together are planned at no more than this share of the per-query cutoff: the
 * column weights are typical, not measured per file, and facts that arrive after planning add to what
 * the chunk reads.
 */
export const CHUNK_CUTOFF_HEADROOM = 4;
/**
 * And at no more than this expected scan whatever the cutoff: a chunk's queries (at most five) run in
 * one invocation, and Athena reads a few GB (with the dedupe's shuffle) in seconds to a few minutes,
 * well inside the jobs function's 15 minutes.
 */
export const CHUNK_MAX_SCAN_BYTES = 4 * 1024 ** 3;
/** Chunks one job may have: bounds its plan in the job item and the merge's memory. */
export const MAX_JOB_CHUNKS = 500;
/** The Athena workgroup's default per-query cutoff (infra/lib/config.ts), for the local stack. */
export const DEFAULT_QUERY_CUTOFF_BYTES = 10 * 1024 ** 3;
/** What one job may be expected to scan in all by default: 1 TB, $5 at Athena's price. */
export const DEFAULT_JOB_MAX_SCAN_BYTES = 1e12;

export interface JobLimits {
  /** the per-query bytes-scanned cutoff (the Athena workgroup's): no step may be expected over it */
  cutoffBytes: number;
  /** the most one job may be expected to scan, all steps together */
  maxJobBytes: number;
}

/** A failure that is the job's own (over a limit): retrying would fail the same way. */
export class JobError extends Error {
  override readonly name = 'JobError';
}

export interface JobChunk {
  startTs: number;
  endTs: number;
  /** bytes of the partitions its queries read, at planning; null when the store cannot list sizes */
  bytes: number | null;
}

/** A stretch of a job's window whose hours with facts all hold archived objects: no chunk reads it. */
export interface ArchivedSpan {
  startTs: number;
  endTs: number;
  /** hours with facts in it */
  hours: number;
}

/** Archived spans a plan names one by one; past this the rest are one span (the job item stays small). */
export const MAX_ARCHIVED_SPANS = 20;

export interface JobPlan {
  /** names this run's partial objects, so a later run of the same job never reads them */
  id: string;
  parts: PartName[];
  /** step s scans chunk s with every part; step `chunks.length` merges */
  chunks: JobChunk[];
  /** the window's archived stretches, left out of every chunk (absent on plans from before the tiers) */
  archived?: ArchivedSpan[];
  /** what all steps are expected to scan; null without sizes */
  expectedBytes: number | null;
  cutoffBytes: number;
  plannedAt: number;
}

const DAY = 86400;
const dayOf = (ts: number) => new Date(ts * 1000).toISOString().slice(0, 10);
const hourOf = (ts: number) => new Date(ts * 1000).toISOString().slice(11, 13);

/** The share of a partition each part reads, from its statement's columns. */
export function partFractions(request: JobRequest, relation: string, dialect: SqlDialect): Map<PartName, number> {
  return new Map(partsOf(request).map((part) => [part, scanFraction(partSql(part, request, request.window, relation, dialect))]));
}

/**
 * The chunks of [startTs, endTs): runs of whole UTC days while the expected scan of all the job's
 * queries (`share.all` of the pruned bytes) stays under `targetBytes` and the run under CHUNK_MAX_DAYS;
 * a day that alone is over the target is split into runs of hours, and an hour whose largest query
 * (`share.largest`) is expected over the cutoff fails the job. A day holding an `archived` hour is
 * split into runs of hours too, none of which reads an archived hour. Without sizes, runs of
 * CHUNK_MAX_DAYS days. Chunks with nothing to read are left out.
 */
export function planChunks(
  startTs: number,
  endTs: number,
  bytesByHour: ReadonlyMap<number, number> | null,
  share: { all: number; largest: number },
  limits: { targetBytes: number; cutoffBytes: number },
  archived: ReadonlySet<number> = new Set(),
): JobChunk[] {
  const pieces: { startTs: number; endTs: number }[] = [];
  for (let start = startTs; start < endTs; ) {
    const end = Math.min(endTs, Math.floor(start / DAY) * DAY + DAY);
    pieces.push({ startTs: start, endTs: end });
    start = end;
  }
  if (!bytesByHour) {
    const chunks: JobChunk[] = [];
    for (let i = 0; i < pieces.length; i += CHUNK_MAX_DAYS) chunks.push({ startTs: pieces[i]!.startTs, endTs: pieces[Math.min(pieces.length, i + CHUNK_MAX_DAYS) - 1]!.endTs, bytes: null });
    return chunks;
  }
  const expected = (s: number, e: number) => prunedBytes(bytesByHour, s, e) * share.all;
  const chunks: JobChunk[] = [];
  const push = (s: number, e: number) => chunks.push({ startTs: s, endTs: e, bytes: prunedBytes(bytesByHour, s, e) });
  // A chunk of whole days reads every hour of its days (dt pruning), the window's or not.
  const dayHoldsArchived = (ts: number) => {
    const day = Math.floor(ts / DAY) * DAY;
    for (let hour = day; hour < day + DAY; hour += 3600) if (archived.has(hour)) return true;
    return false;
  };
  let open: { startTs: number; endTs: number; days: number } | null = null;
  for (const piece of pieces) {
    const holdsArchived = dayHoldsArchived(piece.startTs);
    if (!holdsArchived && open && open.days < CHUNK_MAX_DAYS && expected(open.startTs, piece.endTs) <= limits.targetBytes) {
      open = { startTs: open.startTs, endTs: piece.endTs, days: open.days + 1 };
      continue;
    }
    if (open) push(open.startTs, open.endTs);
    open = null;
    if (!holdsArchived && expected(piece.startTs, piece.endTs) <= limits.targetBytes) {
      open = { ...piece, days: 1 };
      continue;
    }
    // A day too big for one chunk, or holding archived hours: runs of its hours (a chunk inside one day
    // reads only its hours); an archived hour ends a run and is in none.
    let run: { startTs: number; endTs: number } | null = null;
    for (let start = piece.startTs; start < piece.endTs; ) {
      const end = Math.min(piece.endTs, Math.floor(start / 3600) * 3600 + 3600);
      if (archived.has(Math.floor(start / 3600) * 3600)) {
        if (run) push(run.startTs, run.endTs);
        run = null;
        start = end;
        continue;
      }
      const query = prunedBytes(bytesByHour, start, end) * share.largest;
      if (query > limits.cutoffBytes) {
        throw new JobError(
          `one hour of facts (dt=${dayOf(start)}, hour=${hourOf(start)}) is expected to scan ${formatBytes(query)} in one query, over the per-query cutoff of ${formatBytes(limits.cutoffBytes)}; raise the cutoff (athenaBytesScannedCutoff) to run this window`,
        );
      }
      if (run && expected(run.startTs, end) <= limits.targetBytes) run.endTs = end;
      else {
        if (run) push(run.startTs, run.endTs);
        run = { startTs: start, endTs: end };
      }
      start = end;
    }
    if (run) push(run.startTs, run.endTs);
  }
  if (open) push(open.startTs, open.endTs);
  return chunks.filter((chunk) => chunk.bytes !== 0);
}

/**
 * The archived stretches of [startTs, endTs): runs of the window's hours with facts that hold archived
 * objects, unbroken by an hour with readable facts; past MAX_ARCHIVED_SPANS the rest make one span.
 */
export function archivedSpans(startTs: number, endTs: number, readable: ReadonlyMap<number, number>, archived: ReadonlySet<number>): ArchivedSpan[] {
  const from = Math.floor(startTs / 3600) * 3600;
  const inWindow = (hour: number) => hour >= from && hour < endTs;
  const hours = [...[...archived].filter(inWindow).map((hour) => [hour, true] as const), ...[...readable.keys()].filter(inWindow).map((hour) => [hour, false] as const)].sort((a, b) => a[0] - b[0]);
  const spans: ArchivedSpan[] = [];
  let open: ArchivedSpan | null = null;
  for (const [hour, isArchived] of hours) {
    if (!isArchived) open = null;
    else if (open) Object.assign(open, { endTs: hour + 3600, hours: open.hours + 1 });
    else spans.push((open = { startTs: hour, endTs: hour + 3600, hours: 1 }));
  }
  if (spans.length <= MAX_ARCHIVED_SPANS) return spans;
  const rest = spans.slice(MAX_ARCHIVED_SPANS - 1);
  return [...spans.slice(0, MAX_ARCHIVED_SPANS - 1), { startTs: rest[0]!.startTs, endTs: rest[rest.length - 1]!.endTs, hours: rest.reduce((n, span) => n + span.hours, 0) }];
}

const hourIso = (ts: number) => `${new Date(ts * 1000).toISOString().slice(0, 13)}:00Z`;

/** What a job's meta.partialReason says of the stretches it could not read; null when there are none. */
export function archivedPartialReason(spans: readonly ArchivedSpan[], policy: ArchivePolicy): string | null {
  if (!spans.length) return null;
  const sorted = [...spans].sort((a, b) => a.startTs - b.startTs);
  const hours = sorted.reduce((n, span) => n + span.hours, 0);
  const where = `between ${hourIso(sorted[0]!.startTs)} and ${hourIso(Math.max(...sorted.map((span) => span.endTs)))}${sorted.length > 1 ? ` (${sorted.length} stretches)` : ''}`;
  return `archived: ${hours.toLocaleString('en-US')} hour${hours === 1 ? '' : 's'} of facts ${where} were not scanned; their objects were written more than ${Math.round(policy.archiveAfterSeconds / 86_400)} days ago and may be in ${ARCHIVE_TIER_NAME}, which Athena cannot read until they are restored (docs/athena.md, "Archived facts")`;
}

/**
 * Plans a job: sizes its window from the partitions' object sizes, sets apart the hours holding
 * objects old enough to be archived (no chunk reads them; the plan names them), chunks the rest, and
 * fails fast (JobError) when the expected scan is over the job budget or needs more than MAX_JOB_CHUNKS
 * chunks. A chunk still looks for deletions an hour before it (RETRACTION_SKEW_SECONDS), which may be
 * an archived hour: Athena skips it there, missing at most a retraction dated in that hour.
 */
export async function planJob(
  request: JobRequest,
  deps: { objects: ObjectStore; relation: string; dialect: SqlDialect; limits: JobLimits; now: number; archive?: ArchivePolicy },
): Promise<JobPlan> {
  const parts = partsOf(request);
  const fractions = partFractions(request, deps.relation, deps.dialect);
  // facts before MIN_CREATED_AT are never stored: nothing there to chunk or list
  const startTs = Math.max(request.window.startTs, MIN_CREATED_AT);
  const endTs = Math.max(startTs, request.window.endTs);
  const policy = deps.archive ?? DEFAULT_ARCHIVE_POLICY;
  const listing = startTs < endTs ? await listFactsByHour(deps.objects, startTs, endTs, (object) => mayBeArchived(object, deps.now, policy)) : { bytes: new Map<number, number>(), archived: new Set<number>() };
  const bytesByHour = listing?.bytes ?? null;
  const archived = listing?.archived ?? new Set<number>();
  const targetBytes = Math.min(CHUNK_MAX_SCAN_BYTES, deps.limits.cutoffBytes / CHUNK_CUTOFF_HEADROOM);
  const perByte = [...fractions.values()].reduce((a, b) => a + b, 0);
  const share = { all: perByte, largest: Math.max(...fractions.values()) };
  const chunks = planChunks(startTs, endTs, bytesByHour, share, { targetBytes, cutoffBytes: deps.limits.cutoffBytes }, archived);
  const expectedBytes = bytesByHour ? Math.ceil(chunks.reduce((sum, chunk) => sum + (chunk.bytes ?? 0), 0) * perByte) : null;
  if (expectedBytes !== null && expectedBytes > deps.limits.maxJobBytes) {
    throw new JobError(
      `the window is expected to scan ${formatBytes(expectedBytes)} (≈ $${(athenaQueryCostUsd(expectedBytes)).toFixed(2)} at Athena's price), over the job budget of ${formatBytes(deps.limits.maxJobBytes)} (JOB_MAX_SCAN_BYTES); ask for a shorter window`,
    );
  }
  if (chunks.length > MAX_JOB_CHUNKS) {
    throw new JobError(`the window needs ${chunks.length} chunks to keep each under ${formatBytes(targetBytes)} of scan, and a job runs at most ${MAX_JOB_CHUNKS}; ask for a shorter window`);
  }
  return { id: randomUUID().slice(0, 8), parts, chunks, archived: archivedSpans(startTs, endTs, bytesByHour ?? new Map(), archived), expectedBytes, cutoffBytes: deps.limits.cutoffBytes, plannedAt: deps.now };
}
