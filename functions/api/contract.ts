import { z } from 'zod';

/**
 * The answers the API declares, as zod schemas: the OpenAPI document is generated from them
 * (lib/api/openapi.ts) and the contract tests hold every route's answers to them
 * (test/e2e/contract.test.ts). Strict objects: a key the contract does not declare fails the tests.
 */

const count = z.int().min(0);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const isoTime = z.iso.datetime();

const reactions = z.strictObject({ total: count, likes: count, dislikes: count, emoji: count }).meta({ id: 'Reactions', description: 'total = likes + dislikes + emoji (NIP-25: `+` or empty, `-`, anything else)' });

export const freshnessSchema = z
  .strictObject({
    snapshotAsOf: isoTime.nullable().describe('settled up to here (the watermark)'),
    deltaAsOf: isoTime.nullable().describe('the newest ingest the live part includes'),
    stalenessMs: z.int().min(0).nullable(),
    isPartial: z.boolean(),
  })
  .meta({ id: 'Freshness' });

export const windowSchema = z.strictObject({ type: z.enum(['rolling', 'custom']), interval: z.string().optional(), startTs: z.int(), endTs: z.int() }).meta({ id: 'Window', description: 'the window answered, aligned to the minute; [startTs, endTs) in unix seconds' });

export const metaSchema = z
  .strictObject({
    window: windowSchema,
    freshness: freshnessSchema,
    source: z.enum(['canonical', 'canonical+delta', 'fallback']),
    partialReason: z.string().nullable(),
    approximate: z.array(z.string()).optional().describe('a job\'s answer: the figures that are estimates (HyperLogLog) rather than exact'),
    plan: z.strictObject({
      maxItems: count,
      itemsRead: count,
      segments: z.array(z.strictObject({ granularity: z.string(), from: z.int(), to: z.int(), live: z.boolean(), weekToDate: z.boolean().optional().describe('one week item covering its days up to `to` (the week the watermark is in)') })),
    }),
  })
  .meta({ id: 'Meta', description: 'what the answer covers and how fresh it is (docs/metrics.md)' });

const totalsFields = {
  posts: count,
  replies: count,
  comments: count,
  videos: count,
  reactionsReceived: reactions,
  repostsReceived: count,
  repliesReceived: count,
  zapsReceived: count,
  zapSatsReceived: count,
};
const zapAmountsSchema = z
  .array(z.strictObject({ minSats: count, maxSats: count.nullable().describe('exclusive; null for the last bin'), zaps: count }))
  .describe('zaps received by amount, in decades of sats (the bins sum to zapsReceived)');
const distinctFields = {
  zapAmounts: zapAmountsSchema,
  uniqueEngagers: count.describe('distinct pubkeys that engaged (a HyperLogLog estimate on the counters, exact in jobs)'),
  uniqueZappers: count.describe('distinct zap senders (estimated like uniqueEngagers)'),
};
export const userTotalsSchema = z.strictObject({ ...totalsFields, ...distinctFields }).meta({ id: 'UserTotals' });
const topPost = z.strictObject({ id: z.string(), engagement: count });
const topHashtag = z.strictObject({ tag: z.string(), count });
const topZapper = z.strictObject({ pubkey: hex64, sats: count });

const summaryDrilldowns = z.strictObject({ topPosts: z.array(topPost), topHashtags: z.array(topHashtag), topZappers: z.array(topZapper) }).meta({ id: 'SummaryDrilldowns' });
export const summarySchema = z
  .strictObject({
    data: z.strictObject({
      pubkey: hex64,
      totals: userTotalsSchema,
      timeline: z.array(z.strictObject({ ts: z.int(), ...totalsFields })),
      drilldowns: summaryDrilldowns,
      previous: z
        .strictObject({
          window: z.strictObject({ startTs: z.int(), endTs: z.int() }),
          totals: userTotalsSchema,
          change: z.record(z.string(), z.strictObject({ previous: z.number(), delta: z.number(), percent: z.number().nullable() })),
          partialReason: z.string().nullable(),
        })
        .optional()
        .describe('with compare=previous: the window of the same length before, its totals, and each total\'s change (percent null when the previous total is 0)'),
    }),
    drilldowns: summaryDrilldowns.describe('alias of data.drilldowns, where the seed\'s v2 envelope had them'),
    meta: metaSchema,
  })
  .meta({ id: 'UserSummary' });

export const paginationSchema = z
  .strictObject({ cursor: z.string().nullable().describe('the cursor this page was asked with (null: the first page)'), nextCursor: z.string().nullable().describe('pass it as ?cursor= for the next page; null on the last'), limit: z.int().min(1).max(100) })
  .meta({ id: 'Pagination', description: 'keyset paging: a walk by nextCursor returns every item once' });

const drilldownMeta = metaSchema.extend({ tzOffsetMinutes: z.int().optional(), pagination: paginationSchema.optional().describe('on the top lists: one page, the top `limit`') });
export const drilldownSchema = z
  .strictObject({
    data: z.union([
      z.array(topPost),
      z.array(topHashtag),
      z.array(topZapper),
      z.strictObject({ hours: z.array(z.strictObject({ hour: z.int().min(0).max(23), engagement: count })).length(24), best: z.array(z.int()) }),
      z.strictObject({ days: z.array(z.strictObject({ day: z.string(), index: z.int().min(0).max(6), engagement: count })).length(7), best: z.array(z.string()) }),
      z.strictObject({ days: z.array(z.strictObject({ day: z.string(), index: z.int().min(0).max(6), hours: z.array(count).length(24), engagement: count })).length(7), best: z.array(z.strictObject({ day: z.string(), index: z.int().min(0).max(6), hour: z.int().min(0).max(23), engagement: count })).max(3) }).describe('heatmap: engagement per weekday (0 = Sunday) × hour, in the tz asked for'),
      z.array(z.strictObject({ ts: z.int(), ...totalsFields, ...distinctFields })),
    ]),
    meta: drilldownMeta,
  })
  .meta({ id: 'UserDrilldown', description: 'top-posts, top-hashtags, zappers (lists), best-hours, best-days, heatmap, timeline' });

export const jobAcceptedSchema = z
  .strictObject({
    data: z.strictObject({ jobId: z.string().regex(/^[0-9a-f]{32}$/), status: z.enum(['queued', 'running', 'complete', 'failed']), progressPercent: z.number().min(0).max(100), poll: z.string() }),
    meta: z.strictObject({ window: windowSchema, reason: z.string().describe('why the counters cannot answer this window at once') }),
  })
  .meta({ id: 'JobAccepted', description: 'the window is answered by a job: poll until it completes' });

const jobFields = z
  .strictObject({
    jobId: z.string(),
    status: z.enum(['queued', 'running', 'complete', 'failed']),
    progressPercent: z.number().min(0).max(100),
    phase: z.string().nullable().optional(),
    resultRef: z.string().nullable().optional(),
    progress: z.array(z.looseObject({ percent: z.number(), phase: z.string() })).optional(),
    scan: z.looseObject({}).nullable(),
    createdAt: isoTime,
    updatedAt: isoTime,
    error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
    result: z.unknown().optional().describe('the job\'s answer, in the shape of the synchronous route it stands for'),
  });
export const jobStatusSchema = z.strictObject({ data: jobFields, meta: z.strictObject({ poll: z.string(), done: z.boolean().describe('complete or failed: polling again changes nothing') }) }).meta({ id: 'JobStatus' });

export const engagementSchema = z.strictObject({ reactions, replies: count, reposts: count, zaps: count, zapSats: count, views: count }).meta({ id: 'EngagementStats' });

const eventRecord = z.strictObject({ id: hex64, author: hex64, kind: z.int(), type: z.string(), createdAt: z.int() }).meta({ id: 'EventRecord' });
export const eventStatsSchema = z
  .strictObject({ data: z.strictObject({ id: hex64, event: eventRecord.nullable(), stats: engagementSchema }), meta: metaSchema })
  .meta({ id: 'EventStats', description: 'all-time engagement of one event (its author\'s record when Funnel has seen it)' });

const videoCardFields = {
  id: hex64,
  address: z.string().nullable(),
  kind: z.int(),
  author: hex64,
  title: z.string().nullable(),
  mediaUrl: z.string().nullable(),
  imageUrl: z.string().nullable(),
  durationSeconds: z.number().nullable(),
  hashtags: z.array(z.string()),
  createdAt: z.int(),
  publishedAt: z.int().nullable(),
};
export const videoCardSchema = z.strictObject(videoCardFields).meta({ id: 'VideoCard' });

export const videoStatsSchema = z
  .strictObject({
    data: z.strictObject({ id: hex64, address: z.string().nullable(), video: videoCardSchema.nullable(), revisions: count, stats: engagementSchema }),
    meta: metaSchema,
  })
  .meta({ id: 'VideoStats', description: 'all-time engagement of a video, over every revision of an addressable one' });

export const feedSchema = z
  .strictObject({
    data: z.array(z.strictObject({ ...videoCardFields, stats: engagementSchema, score: z.number().optional() })),
    meta: z.strictObject({
      sort: z.enum(['recent', 'trending']),
      kind: z.int().nullable(),
      source: z.enum(['precomputed', 'live']),
      freshness: freshnessSchema.extend({ generatedAt: isoTime }),
      partialReason: z.string().nullable(),
      pagination: paginationSchema,
    }),
  })
  .meta({ id: 'VideoFeed' });

export const videoListSchema = z.strictObject({ data: z.array(videoCardSchema), meta: z.strictObject({ source: z.literal('live'), generatedAt: isoTime, pagination: paginationSchema }) }).meta({ id: 'VideoList' });

const engagerListMeta = z.strictObject({ source: z.literal('live'), generatedAt: isoTime, pagination: paginationSchema });
export const likersSchema = z
  .strictObject({ data: z.array(z.strictObject({ pubkey: hex64 })), meta: engagerListMeta })
  .meta({ id: 'VideoLikers', description: 'one row per pubkey that liked the video (NIP-25 + or empty; dislikes and emoji left out; retracted likes left out), in pubkey order' });
export const zappersSchema = z
  .strictObject({ data: z.array(z.strictObject({ pubkey: hex64, zaps: count, sats: count })), meta: engagerListMeta })
  .meta({ id: 'EventZappers', description: 'one row per zap sender, with their zaps of the event and total sats, in pubkey order' });

export const globalStatsSchema = z
  .strictObject({ data: z.strictObject({ totalEvents: count, eventsByKind: z.record(z.string(), count), rejectedByReason: z.record(z.string(), count) }), meta: metaSchema })
  .meta({ id: 'GlobalStats' });

export const seedSummarySchema = z
  .strictObject({
    data: z.strictObject({ totalEvents: count, uniqueUsers: count, eventsByType: z.record(z.string(), count), eventsByKind: z.record(z.string(), count) }),
    cached: z.boolean(),
    meta: metaSchema,
  })
  .meta({ id: 'NetworkSummary', description: 'the seed contract: {data: {totalEvents, uniqueUsers, eventsByType}, cached}' });

export const appMetricSchema = z
  .strictObject({ data: z.strictObject({ metric: z.string(), project: z.string(), total: count, series: z.array(z.strictObject({ day: z.string(), value: count })) }), meta: metaSchema })
  .meta({ id: 'AppMetric' });

const metricValue = z.number().nullable().describe('count, sum (exact to 0.001), avg (null where no event carried the property) or unique users (a HyperLogLog estimate)');
export const eventTypeMetricSchema = z
  .strictObject({
    data: z.strictObject({
      project: z.string(),
      eventType: z.string(),
      agg: z.enum(['count', 'sum', 'avg', 'unique']),
      property: z.string().nullable(),
      granularity: z.enum(['minute', 'hour', 'day']),
      groupBy: z.array(z.string()),
      groups: z
        .array(
          z.strictObject({
            group: z.record(z.string(), z.string().nullable()).describe('each groupBy dimension\'s value: null where events lacked it, "(other)" past its admitted values; {} without groupBy'),
            value: metricValue,
            series: z.array(z.strictObject({ start: isoTime.describe('the point\'s minute, hour or day (UTC)'), value: metricValue })),
          }),
        )
        .describe('one group without groupBy; else every group with events in the window, largest value first'),
    }),
    meta: metaSchema,
  })
  .meta({ id: 'EventTypeMetric' });

export const appEventsAcceptedSchema = z
  .strictObject({
    data: z.strictObject({
      accepted: count,
      rejected: z.array(
        z.strictObject({
          index: z.int().min(0),
          reason: z.enum(['invalid_shape', 'schema_invalid', 'unregistered_type', 'unknown_schema_version']).describe('counted under this name (docs/metrics.md)'),
          message: z.string().describe('what is wrong, with the path of the failing value'),
        }),
      ),
    }),
    meta: z.strictObject({ project: z.string() }),
  })
  .meta({ id: 'AppEventsAccepted', description: 'accepted events are on the ingest queue; each rejected one says why' });

const schemaVersionSchema = z
  .strictObject({
    eventType: z.string(),
    version: z.int().min(1),
    schema: z.record(z.string(), z.unknown()).describe('JSON Schema (draft 2020-12) for the events\' properties'),
    dimensions: z.array(z.string()).describe('properties metrics group by'),
    measures: z.array(z.string()).describe('numeric properties metrics sum and average'),
    registeredAt: isoTime,
  })
  .meta({ id: 'SchemaVersion', description: 'one immutable version of an event type\'s schema' });
const projectMeta = z.strictObject({ project: z.string() });
export const schemaVersionAnswerSchema = z.strictObject({ data: schemaVersionSchema, meta: projectMeta }).meta({ id: 'SchemaVersionAnswer' });
export const schemaListSchema = z.strictObject({ data: z.array(schemaVersionSchema).describe('each event type\'s newest version'), meta: projectMeta }).meta({ id: 'SchemaList' });
export const projectSettingsSchema = z
  .strictObject({ unregisteredEvents: z.enum(['accept', 'reject']).describe('events of a type with no schema: stored (accept, the default) or refused (reject)') })
  .meta({ id: 'ProjectSettings' });
export const projectSettingsAnswerSchema = z.strictObject({ data: projectSettingsSchema, meta: projectMeta }).meta({ id: 'ProjectSettingsAnswer' });

export const healthSchema = z
  .strictObject({ status: z.enum(['ok', 'degraded']), time: isoTime, checks: z.record(z.string(), z.looseObject({ ok: z.boolean() })) })
  .meta({ id: 'Health' });

const bulkError = z.strictObject({ id: z.string(), error: z.strictObject({ code: z.string(), message: z.string() }) });
export const eventStatsBulkSchema = z
  .strictObject({ data: z.array(z.union([eventStatsSchema.shape.data, bulkError])), meta: metaSchema.nullable().describe('the freshness of the stalest item') })
  .meta({ id: 'EventStatsBulk' });
export const videoStatsBulkSchema = z
  .strictObject({ data: z.array(z.union([videoStatsSchema.shape.data, bulkError])), meta: metaSchema.nullable().describe('the freshness of the stalest item') })
  .meta({ id: 'VideoStatsBulk' });

const rankingMeta = z.strictObject({
  list: z.enum(['videos', 'creators', 'hashtags']),
  period: z.enum(['day', 'week', 'month', 'all']),
  source: z.enum(['precomputed', 'live']),
  freshness: freshnessSchema.extend({ generatedAt: isoTime }),
  partialReason: z.string().nullable(),
  pagination: paginationSchema,
});
const rank = z.int().min(1);
export const videoLeaderboardSchema = z
  .strictObject({ data: z.array(z.strictObject({ rank, ...videoCardFields, stats: engagementSchema, engagement: count })), meta: rankingMeta })
  .meta({ id: 'VideoLeaderboard' });
export const creatorLeaderboardSchema = z
  .strictObject({ data: z.array(z.strictObject({ rank, pubkey: hex64, engagement: count, videos: count, zapSats: count })), meta: rankingMeta })
  .meta({ id: 'CreatorLeaderboard' });
export const hashtagRankingSchema = z
  .strictObject({ data: z.array(z.strictObject({ rank, tag: z.string(), engagement: count, videos: count })), meta: rankingMeta })
  .meta({ id: 'HashtagRanking' });

/** GET /api/analytics/top-authors: the most active authors (events published) over the settled part of a window. */
export const topAuthorsSchema = z
  .strictObject({ data: z.array(z.strictObject({ rank, pubkey: hex64, events: count })), meta: metaSchema })
  .meta({ id: 'TopAuthors', description: 'ranked from the settled hours\' bounded top lists (docs/metrics.md); meta.partialReason says when a live tail is not ranked' });
