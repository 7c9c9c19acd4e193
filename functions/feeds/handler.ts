import middy from '@middy/core';
import { awsPorts } from '../../lib/adapters/aws/index.js';
import { feedsConfig } from './env.js';
import { systemClock } from '../../lib/ports.js';
import { precomputeFeeds, readOnce } from '../../lib/query/feeds.js';
import { precomputeRankings } from '../../lib/query/rankings.js';
import type { QueryDeps } from '../../lib/query/window-read.js';
import { powertoolsLoggers } from '../../lib/adapters/aws/powertools.js';
import { createLogger, recordLogger, setLogBackend } from '../../lib/log.js';

/** Scheduled (EventBridge, every minute): recomputes the stored video feeds (GET /api/videos) and rankings (leaderboards, trending hashtags). */
export function createFeedsHandler(deps: QueryDeps & { log?: (record: Record<string, unknown>) => void }) {
  return middy(async () => {
    const started = Date.now();
    // One view of the store for the run: the feeds and the rankings read the same lists and index records.
    const once = { ...deps, counters: readOnce(deps.counters) };
    const run = await precomputeFeeds(once);
    const ranked = await precomputeRankings(once);
    const summary = {
      rankings: ranked.rankings,
      rankingStatsRead: ranked.statsRead,
      feeds: run.feeds.length,
      cards: run.feeds.reduce((n, f) => n + f.cards, 0),
      largestBytes: Math.max(0, ...run.feeds.map((f) => f.bytes)),
      truncated: run.feeds.reduce((n, f) => n + f.truncated, 0),
      statsRead: run.statsRead,
      durationMs: Date.now() - started,
    };
    (deps.log ?? recordLogger(createLogger({ component: 'feeds' })))({ level: summary.truncated ? 'warn' : 'info', component: 'feeds', msg: 'feeds computed', ...summary });
    return summary;
  });
}

let awsHandler: ReturnType<typeof createFeedsHandler> | undefined;

export const handler = (event: unknown, context: Parameters<ReturnType<typeof createFeedsHandler>>[1]) => {
  if (!awsHandler) {
    const config = feedsConfig();
    setLogBackend(powertoolsLoggers());
    awsHandler = createFeedsHandler({ counters: awsPorts(config.aws).counters(), clock: systemClock, retention: config.retention });
  }
  return awsHandler(event, context);
};
