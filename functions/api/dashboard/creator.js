// The creator view: one pubkey over a window — cards with the change against the previous window,
// the timeline, top posts, hashtags and zappers, and the weekday × hour heat map.
import { ApiError, answer, getJson } from './api.js';
import { byId, fill, h, panel } from './dom.js';
import { fmtChange, fmtDay, fmtInt, fmtTime, shortKey, tzChoices, tzLabel, windowWords } from './format.js';
import { heatmapTable, lineChart } from './charts.js';
import { csvButton, csvName, dataTable } from './tables.js';
import { eventLink, npub, profileLink } from './nip19.js';

/** The cards, in order: the summary's totals (flattened) and the key of their change in data.previous.change. */
export const CREATOR_CARDS = [
  { metric: 'posts', label: 'Posts', value: (t) => t.posts, sub: (t) => `${fmtInt(t.videos)} videos · ${fmtInt(t.comments)} comments` },
  { metric: 'replies', label: 'Replies written', value: (t) => t.replies },
  { metric: 'reactionsReceived', label: 'Reactions received', value: (t) => t.reactionsReceived.total, sub: (t) => `${fmtInt(t.reactionsReceived.likes)} likes · ${fmtInt(t.reactionsReceived.dislikes)} dislikes · ${fmtInt(t.reactionsReceived.emoji)} emoji` },
  { metric: 'repostsReceived', label: 'Reposts received', value: (t) => t.repostsReceived },
  { metric: 'repliesReceived', label: 'Replies received', value: (t) => t.repliesReceived },
  { metric: 'zapsReceived', label: 'Zaps received', value: (t) => t.zapsReceived, sub: (t) => (t.uniqueZappers ? `from about ${fmtInt(t.uniqueZappers)} zappers` : null) },
  { metric: 'zapSatsReceived', label: 'Sats received', value: (t) => t.zapSatsReceived },
  { metric: 'uniqueEngagers', label: 'Unique engagers', value: (t) => t.uniqueEngagers, sub: () => 'an estimate (HyperLogLog)' },
];

/** The timeline's metrics (`chart=` in the URL). */
export const CHART_METRICS = {
  reactions: { label: 'Reactions received', value: (p) => p.reactionsReceived.total },
  posts: { label: 'Posts', value: (p) => p.posts },
  replies: { label: 'Replies written', value: (p) => p.replies },
  reposts: { label: 'Reposts received', value: (p) => p.repostsReceived },
  repliesReceived: { label: 'Replies received', value: (p) => p.repliesReceived },
  zaps: { label: 'Zaps received', value: (p) => p.zapsReceived },
  sats: { label: 'Sats received', value: (p) => p.zapSatsReceived },
};

const windowParams = (state) => (state.interval ? { interval: state.interval } : { startTs: state.startTs, endTs: state.endTs });
const windowTag = (state) => state.interval ?? `${state.startTs}-${state.endTs}`;

export function creatorView(ctx) {
  const root = byId('creator-view');
  const heading = h('div.view-heading');
  const cards = h('div.cards', { id: 'creator-cards', role: 'group', 'aria-label': 'Totals over the window' });
  const cardsBlock = panel('totals', 'Totals', { wide: true });
  const metricSelect = h('select', { id: 'chart-metric', on: { change: () => ctx.navigate({ chart: metricSelect.value }, { redrawOnly: true }) } }, Object.entries(CHART_METRICS).map(([key, m]) => h('option', { value: key, text: m.label })));
  const timeline = panel('timeline', 'Timeline', { wide: true, controls: h('label.inline', {}, 'Metric ', metricSelect) });
  const posts = panel('top-posts', 'Top posts');
  const hashtags = panel('top-hashtags', 'Top hashtags');
  const zappers = panel('top-zappers', 'Top zappers');
  const tzSelect = h('select', { id: 'tz', on: { change: () => ctx.navigate({ tz: tzSelect.value }, { heatmapOnly: true }) } });
  const heat = panel('heatmap', 'Best hours × weekday', { wide: true, controls: h('label.inline', {}, 'Time zone ', tzSelect) });
  fill(root, heading, cardsBlock.el, timeline.el, h('div.columns', {}, posts.el, hashtags.el, zappers.el), heat.el);
  const all = [cardsBlock, timeline, posts, hashtags, zappers, heat];
  let lastSummary = null;
  /** whether the summary on screen is this state's (a failed live refresh then keeps it) */
  let showing = false;
  /** the API refused the request (a bad pubkey or window): a live refresh would only be refused again */
  let refused = false;
  /** the pubkey picked for a link without one when no author could be ranked yet (the top video creator) */
  let standIn = null;

  function showHeading(state) {
    const link = profileLink(state.pubkeyHex ?? '');
    fill(
      heading,
      h('h2', {}, 'Creator ', h('code', { text: shortKey(state.pubkeyHex ?? state.pubkey), title: state.pubkeyHex ?? state.pubkey })),
      h('p', {}, `Over ${windowWords(state, ctx.tzMinutes(state))}`, link ? [' · ', h('a', { href: link, rel: 'noopener noreferrer', target: '_blank', text: `${npub(state.pubkeyHex).slice(0, 16)}… on njump` })] : null),
    );
  }

  function showCards(state, summary) {
    const totals = summary.data.totals;
    const change = summary.data.previous?.change;
    const rows = CREATOR_CARDS.map((card) => ({ metric: card.metric, label: card.label, value: card.value(totals), change: change?.[card.metric] ?? null }));
    fill(
      cards,
      rows.map((row, i) => {
        const shown = fmtChange(row.change);
        const sub = CREATOR_CARDS[i].sub?.(totals);
        return h(
          'article.card',
          { dataset: { metric: row.metric } },
          h('h3', { text: row.label }),
          h('p.value', { text: fmtInt(row.value) }),
          h(`p.change.${shown.direction}`, { text: change ? shown.text : summary.data.previous === undefined && summary.meta.source === 'fallback' ? 'no comparison for a job window' : shown.text }),
          sub ? h('p.sub', { text: sub }) : null,
        );
      }),
    );
    const columns = [
      { key: 'label', label: 'Metric' },
      { key: 'value', label: 'Value', numeric: true },
      { key: 'previous', label: 'Previous window', numeric: true, csv: (r) => r.change?.previous ?? '' },
      { key: 'delta', label: 'Change', numeric: true, csv: (r) => r.change?.delta ?? '' },
      { key: 'percent', label: 'Change %', numeric: true, csv: (r) => r.change?.percent ?? '' },
    ];
    const prev = summary.data.previous?.window;
    cardsBlock.show(cards, h('p.note', {}, prev ? `Compared with the window before: ${fmtTime(prev.startTs, ctx.tzMinutes(state))} to ${fmtTime(prev.endTs, ctx.tzMinutes(state))}. ` : '', csvButton('the totals', () => csvName('totals', (state.pubkeyHex ?? state.pubkey).slice(0, 8), windowTag(state)), columns, rows)));
  }

  function showTimeline(state, summary) {
    const metric = CHART_METRICS[state.chart] ?? CHART_METRICS.reactions;
    metricSelect.value = state.chart;
    const points = summary.data.timeline;
    const hourly = points.length > 1 && points[1].ts - points[0].ts === 3600;
    const tz = hourly ? ctx.tzMinutes(state) : 0;
    const when = (ts) => (hourly ? fmtTime(ts, tz) : `${fmtDay(ts)} (UTC day)`);
    const chartPoints = points.map((p) => ({ y: metric.value(p), label: when(p.ts), tick: hourly ? fmtTime(p.ts, tz, false) : fmtDay(p.ts).slice(5) }));
    const total = chartPoints.reduce((sum, p) => sum + p.y, 0);
    const peak = chartPoints.reduce((best, p) => (p.y > (best?.y ?? -1) ? p : best), null);
    const chart = lineChart({
      points: chartPoints,
      title: `${metric.label} per ${hourly ? 'hour' : 'day'}`,
      description: total ? `${fmtInt(total)} in all; the most, ${fmtInt(peak.y)}, at ${peak.label}. The numbers are in the table below the chart.` : 'None in this window.',
    });
    const columns = [
      { key: 'ts', label: hourly ? `Hour (UTC${tzLabel(tz)})` : 'Day (UTC)', rowHeader: true, cell: (p) => when(p.ts), csv: (p) => (hourly ? fmtTime(p.ts, tz) : fmtDay(p.ts)) },
      { key: 'posts', label: 'Posts', numeric: true },
      { key: 'replies', label: 'Replies', numeric: true },
      { key: 'comments', label: 'Comments', numeric: true },
      { key: 'videos', label: 'Videos', numeric: true },
      { key: 'reactions', label: 'Reactions received', numeric: true, cell: (p) => fmtInt(p.reactionsReceived.total), csv: (p) => p.reactionsReceived.total },
      { key: 'repostsReceived', label: 'Reposts received', numeric: true },
      { key: 'repliesReceived', label: 'Replies received', numeric: true },
      { key: 'zapsReceived', label: 'Zaps received', numeric: true },
      { key: 'zapSatsReceived', label: 'Sats received', numeric: true },
    ];
    const table = dataTable({ id: 'timeline-table', caption: `Timeline per ${hourly ? 'hour' : 'day'}`, columns, rows: points, fileName: () => csvName('timeline', (state.pubkeyHex ?? state.pubkey).slice(0, 8), windowTag(state)) });
    const details = h('details', { id: 'timeline-details' }, h('summary', { text: 'The timeline as a table' }), table);
    timeline.show(total ? null : h('p.state.empty', { text: `No ${metric.label.toLowerCase()} in this window.` }), chart, details);
  }

  function showTops(state, summary) {
    const { topPosts, topHashtags, topZappers } = summary.data.drilldowns;
    const tag = [(state.pubkeyHex ?? state.pubkey).slice(0, 8), windowTag(state)];
    const ranked = (list) => list.map((item, i) => ({ rank: i + 1, ...item }));
    const link = (href, text, title) => (href ? h('a', { href, rel: 'noopener noreferrer', target: '_blank', title, text }) : h('code', { text, title }));
    if (topPosts.length) {
      posts.show(
        dataTable({
          id: 'top-posts-table',
          caption: 'Top posts by engagement received',
          fileName: () => csvName('top-posts', ...tag),
          rows: ranked(topPosts),
          columns: [
            { key: 'rank', label: '#', numeric: true },
            { key: 'id', label: 'Post', cell: (r) => link(eventLink(r.id), shortKey(r.id), r.id) },
            { key: 'engagement', label: 'Engagement', numeric: true },
          ],
        }),
      );
    } else posts.empty('No engagement on this creator\'s posts in this window.');
    if (topHashtags.length) {
      hashtags.show(
        dataTable({
          id: 'top-hashtags-table',
          caption: 'Hashtags the creator used most',
          fileName: () => csvName('top-hashtags', ...tag),
          rows: ranked(topHashtags),
          columns: [
            { key: 'rank', label: '#', numeric: true },
            { key: 'tag', label: 'Hashtag', cell: (r) => `#${r.tag}` },
            { key: 'count', label: 'Posts', numeric: true },
          ],
        }),
      );
    } else hashtags.empty('No hashtags in this window.');
    if (topZappers.length) {
      zappers.show(
        dataTable({
          id: 'top-zappers-table',
          caption: 'Who zapped the creator most',
          fileName: () => csvName('top-zappers', ...tag),
          rows: ranked(topZappers),
          columns: [
            { key: 'rank', label: '#', numeric: true },
            { key: 'pubkey', label: 'Zapper', cell: (r) => link(profileLink(r.pubkey), shortKey(r.pubkey), r.pubkey) },
            { key: 'sats', label: 'Sats', numeric: true },
          ],
        }),
      );
    } else zappers.empty('No zaps in this window.');
  }

  function showHeatmap(state, body) {
    const tz = ctx.tzMinutes(state);
    const data = body.data;
    const busiest = data.best.map((b) => `${b.day} ${String(b.hour).padStart(2, '0')}:00 (${fmtInt(b.engagement)})`).join(', ');
    const columns = [{ key: 'day', label: 'Day' }, ...Array.from({ length: 24 }, (_, hour) => ({ key: `h${hour}`, label: `${String(hour).padStart(2, '0')}:00`, numeric: true, csv: (d) => d.hours[hour] })), { key: 'engagement', label: 'Total', numeric: true }];
    const csv = csvButton('the heat map', () => csvName('heatmap', (state.pubkeyHex ?? state.pubkey).slice(0, 8), windowTag(state), `utc${tzLabel(tz)}`), columns, data.days);
    if (!data.best.length) return heat.empty(`No engagement received in this window, so no best hours yet (UTC${tzLabel(tz)}).`, heatmapTable(data, tz), csv);
    heat.show(h('p.note', { text: `Busiest hours (UTC${tzLabel(tz)}): ${busiest}.` }), heatmapTable(data, tz), csv);
  }

  function syncTz(state) {
    const current = ctx.tzMinutes(state);
    const choices = tzChoices(current);
    if (tzSelect.options.length !== choices.length) fill(tzSelect, choices.map((m) => h('option', { value: tzLabel(m), text: `UTC${tzLabel(m)}` })));
    tzSelect.value = tzLabel(current);
  }

  const failText = (error) => (error.kind === 'http' ? `The API answered ${error.status}${error.code ? ` (${error.code})` : ''}: ${error.message}` : error.message);
  const isRefusal = (error) => error.kind === 'http' && error.status >= 400 && error.status < 500 && error.status !== 429;

  async function loadHeatmap(state, run, quiet) {
    if (!quiet) heat.loading('Loading the heat map…');
    try {
      const { body } = await answer(`/api/v2/analytics/user/${encodeURIComponent(state.pubkey)}/drilldown/heatmap`, { ...windowParams(state), tz: tzLabel(ctx.tzMinutes(state)) }, { onJob: (job) => ctx.job('heat map', job), isCurrent: run.current });
      if (!run.current()) return;
      ctx.job('heat map', null);
      showHeatmap(state, body);
    } catch (error) {
      if (!run.current() || error.kind === 'superseded') return;
      ctx.job('heat map', null);
      if (!quiet) heat.error(`Not loaded: ${error.message}`);
    }
  }

  return {
    root,
    /** Reads the window's summary and heat map and shows them; `quiet` (a live refresh) keeps what is shown until new answers arrive. */
    async load(state, { quiet = false, heatmapOnly = false } = {}) {
      syncTz(state);
      if (quiet && refused) return;
      if (!quiet) {
        refused = false;
        showing = false;
      }
      if (!state.pubkey) return this.pickDefault(state, ctx.run('summary'));
      showHeading(state);
      const heatmapLoad = loadHeatmap(state, ctx.run('heatmap'), quiet);
      if (heatmapOnly) return heatmapLoad;
      const run = ctx.run('summary');
      if (!quiet) {
        for (const p of all.slice(0, -1)) p.loading();
        cardsBlock.loading(`Loading ${windowWords(state, ctx.tzMinutes(state))}…`);
      }
      try {
        const { body } = await answer(`/api/v2/analytics/user/${encodeURIComponent(state.pubkey)}/summary`, { ...windowParams(state), compare: 'previous' }, { onJob: (job) => ctx.job('summary', job), isCurrent: run.current });
        if (!run.current()) return;
        ctx.job('summary', null);
        ctx.clearAlert();
        lastSummary = body;
        showing = true;
        state.pubkeyHex = body.data.pubkey;
        showHeading(state);
        // the exact window answered (rolling windows move by the minute): for a reader's "as of" and the tests
        heading.dataset.window = `${body.meta.window.startTs}-${body.meta.window.endTs}`;
        showCards(state, body);
        showTimeline(state, body);
        showTops(state, body);
        const t = body.data.totals;
        const idle = CREATOR_CARDS.every((c) => c.value(t) === 0);
        ctx.info(idle ? `No activity for this creator in ${windowWords(state, ctx.tzMinutes(state))}: nothing published, nothing received. Try a longer window.` : null);
        ctx.freshness(body.meta);
        ctx.rendered();
      } catch (error) {
        if (!run.current() || error.kind === 'superseded') return;
        ctx.job('summary', null);
        refused = isRefusal(error);
        if (quiet && showing) return ctx.alert(`Live update failed, showing the last answer: ${error.message}`);
        ctx.alert(failText(error));
        for (const p of all.slice(0, -1)) p.error(`Not loaded: ${error.message}`);
        ctx.freshness(null);
        ctx.rendered(false);
      }
      await heatmapLoad;
    },
    /** Whether the creator shown is a stand-in picked before any author could be ranked. */
    isStandIn: (state) => standIn !== null && state.pubkey === standIn,
    /** The chart's metric changed: redraw from the answer we have. */
    redraw(state) {
      if (lastSummary) showTimeline(state, lastSummary);
    },
    /** No pubkey in the URL: open on the network's most active author (settled hours), else the top video creator. */
    async pickDefault(state, run) {
      for (const p of all) p.loading('Finding the most active author…');
      fill(heading, h('h2', { text: 'Creator' }));
      const interval = state.interval ?? '7d';
      try {
        const top = await getJson('/api/analytics/top-authors', { interval: ['24h', '7d', '30d', '90d'].includes(interval) ? interval : '7d', limit: 1 });
        let pick = top.body.data[0] ? { pubkey: top.body.data[0].pubkey, why: `the most active author of ${windowWords({ interval }, 0)} (${fmtInt(top.body.data[0].events)} events in settled hours)` } : null;
        if (!pick) {
          const creators = await getJson('/api/leaderboard/creators', { period: 'week', limit: 1 });
          if (creators.body.data[0]) pick = { pubkey: creators.body.data[0].pubkey, why: 'the top video creator of the week until the first hours settle (then the most active author)', standIn: true };
        }
        if (!run.current()) return;
        if (!pick) {
          for (const p of all) p.empty('Nothing counted yet, so there is no one to show. Enter a pubkey above, or see the network view.');
          ctx.info('No activity counted yet. Publish to a relay the listener follows, or enter a pubkey above.');
          ctx.rendered();
          return;
        }
        standIn = pick.standIn ? pick.pubkey : null;
        ctx.navigate({ pubkey: pick.pubkey }, { replace: true, note: `No pubkey in the link: showing ${pick.why}. Enter another above.` });
      } catch (error) {
        if (!run.current()) return;
        ctx.alert(error instanceof ApiError ? error.message : String(error));
        for (const p of all) p.error(`Not loaded: ${error.message}`);
        ctx.rendered(false);
      }
    },
  };
}
