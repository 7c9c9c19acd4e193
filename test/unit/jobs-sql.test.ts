import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAVED_QUERIES } from '../../lib/jobs/saved-queries.js';
import { userDailySql, userEngagementByHourSql, userEngagerSketchSql, userTopSql } from '../../lib/jobs/user-job-sql.js';
import { userMetricsSql } from '../../lib/jobs/metrics-sql.js';
import { DuckDbSqlEngine, factsRelation } from '../../lib/adapters/local/duckdb-sql-engine.js';
import { FsObjectStore } from '../../lib/adapters/local/fs-object-store.js';
import { encodeFacts } from '../../lib/facts/parquet.js';
import { partitionOf, partitionPrefix } from '../../lib/facts/partition.js';
import { normalise } from '../../lib/nostr/normalise.js';
import type { Fact } from '../../lib/facts/schema.js';
import { FIXTURE_FILES, loadFixture } from '../support/fixtures.js';

const PUBKEY = 'b866ce76be5b826695980248322b8df4c381608ffa5a5b47c4f3abe0d8f767a5';
const WINDOW = { startTs: 1_700_000_000, endTs: 1_790_000_000 };

describe('the Athena (Trino) form is pinned', () => {
  it('user job SQL', () => {
    expect(userDailySql('"funnel"."facts"', WINDOW, 'athena', PUBKEY)).toMatchSnapshot();
    expect(userEngagerSketchSql('"funnel"."facts"', WINDOW, 'athena', PUBKEY)).toMatchSnapshot();
    expect(userTopSql('"funnel"."facts"', WINDOW, 'athena', PUBKEY, 'top_tags', 10)).toMatchSnapshot();
    expect(userEngagementByHourSql('"funnel"."facts"', WINDOW, 'athena', PUBKEY, -300)).toMatchSnapshot();
    expect(userMetricsSql('"funnel"."facts"', WINDOW, 'athena')).toMatchSnapshot();
  });

  it('prunes partitions with string dt in Athena and DATE dt in DuckDB', () => {
    expect(userDailySql('f', WINDOW, 'athena', PUBKEY)).toContain("dt BETWEEN '2023-11-14' AND '2026-09-21'");
    expect(userDailySql('f', WINDOW, 'duckdb', PUBKEY)).toContain("dt BETWEEN DATE '2023-11-14' AND DATE '2026-09-21'");
  });

  it('saved queries', () => {
    for (const query of SAVED_QUERIES) expect(query.sql('"funnel"."facts"', 'athena', 30)).toMatchSnapshot(query.name);
  });

  it('prunes hours too when a job chunk lies inside one day', () => {
    const hours = { startTs: Date.UTC(2026, 0, 5, 6, 30) / 1000, endTs: Date.UTC(2026, 0, 5, 9) / 1000 };
    expect(userDailySql('f', hours, 'athena', PUBKEY)).toContain("dt BETWEEN '2026-01-05' AND '2026-01-05' AND hour BETWEEN '06' AND '08'");
    expect(userDailySql('f', WINDOW, 'athena', PUBKEY)).not.toContain('hour BETWEEN');
  });

  it('never lets a pubkey break out of its literal', () => {
    expect(userDailySql('f', WINDOW, 'athena', "x' OR 1=1 --")).not.toContain("OR 1=1");
  });
});

describe('saved queries on the fixture facts (DuckDB)', () => {
  let dir: string;
  const sql = new DuckDbSqlEngine();
  const facts: Fact[] = FIXTURE_FILES.flatMap(loadFixture).map((e) => normalise(e, { relay: null, ingestedAt: 1 }));
  const run = (name: string) => sql.query(SAVED_QUERIES.find((q) => q.name === name)!.sql(factsRelation(dir), 'duckdb', 20_000));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'funnel-saved-'));
    const objects = new FsObjectStore(dir);
    const byHour = new Map<number, Fact[]>();
    for (const fact of facts) {
      const start = partitionOf(fact.created_at).start;
      byHour.set(start, [...(byHour.get(start) ?? []), fact]);
    }
    for (const [start, hourFacts] of byHour) await objects.put(`${partitionPrefix(partitionOf(start))}f.parquet`, encodeFacts(hourFacts));
    // A duplicate copy of one hour, as before compaction: the queries must count each event once.
    const [start, hourFacts] = [...byHour][0]!;
    await objects.put(`${partitionPrefix(partitionOf(start))}dup.parquet`, encodeFacts(hourFacts));
  });
  afterAll(async () => {
    await sql.close();
    await rm(dir, { recursive: true, force: true });
  });

  const unique = <T>(xs: T[]) => new Set(xs).size;

  it('daily-active-authors', async () => {
    const rows = await run('daily-active-authors');
    expect(rows.reduce((n, r) => n + Number(r.events), 0)).toBe(unique(facts.map((f) => f.event_id)));
    const day = String(rows[0]!.dt);
    expect(Number(rows[0]!.active_authors)).toBe(unique(facts.filter((f) => new Date(f.created_at * 1000).toISOString().startsWith(day)).map((f) => f.author)));
  });

  it('zap-volume-by-day: 100 + 123 + 10 sats from bolt11', async () => {
    const rows = await run('zap-volume-by-day');
    expect(rows.reduce((n, r) => n + Number(r.zaps), 0)).toBe(3);
    expect(rows.reduce((n, r) => n + Number(r.sats), 0)).toBe(233);
  });

  it('top-creators ranks engagement received, self-engagement excluded', async () => {
    const rows = await run('top-creators');
    const received = (pk: string) => facts.filter((f) => f.target_pubkey === pk && ['reaction', 'repost', 'reply', 'comment', 'zap'].includes(f.type) && (f.type === 'zap' ? f.zap_sender : f.author) !== pk).length;
    expect(Number(rows[0]!.engagement)).toBe(received(String(rows[0]!.creator)));
    expect(Number(rows[0]!.engagement)).toBeGreaterThanOrEqual(Number(rows[1]!.engagement));
  });

  it('hashtag-trends unnests lower-cased hashtags', async () => {
    const rows = await run('hashtag-trends');
    const uses = facts.reduce((n, f) => n + f.hashtags.length, 0);
    expect(rows.reduce((n, r) => n + Number(r.uses), 0)).toBe(uses);
    expect(rows.every((r) => String(r.tag) === String(r.tag).toLowerCase())).toBe(true);
  });

  it('video-leaderboard lists both fixture videos by address', async () => {
    const rows = await run('video-leaderboard');
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => String(r.video).startsWith('34236:'))).toBe(true);
  });

  it('engagement-by-hour-of-day sums to the engagement facts', async () => {
    const rows = await run('engagement-by-hour-of-day');
    const engagement = facts.filter((f) => ['reaction', 'repost', 'reply', 'comment', 'zap'].includes(f.type)).length;
    expect(rows.reduce((n, r) => n + Number(r.engagement), 0)).toBe(engagement);
    expect(rows.every((r) => Number(r.hour_utc) >= 0 && Number(r.hour_utc) < 24)).toBe(true);
  });
});
