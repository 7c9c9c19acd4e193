// The network view: events and users over the window against the window before, events by type and
// kind, the video feed (trending or recent) with each video's stats, and the leaderboards.
import { getJson } from './api.js';
import { byId, fill, h, panel } from './dom.js';
import { changeOf, fmtChange, fmtDuration, fmtInt, fmtTime, shortKey, windowWords } from './format.js';
import { csvButton, csvName, dataTable } from './tables.js';
import { eventLink } from './nip19.js';

/** Cards: the two totals, then the types most people look for. */
export const NETWORK_CARDS = [
  { metric: 'totalEvents', label: 'Events', value: (d) => d.totalEvents },
  { metric: 'uniqueUsers', label: 'Unique users', value: (d) => d.uniqueUsers, sub: 'authors in settled hours (an estimate)' },
  { metric: 'note', label: 'Notes', value: (d) => d.eventsByType.note ?? 0 },
  { metric: 'reply', label: 'Replies', value: (d) => d.eventsByType.reply ?? 0 },
  { metric: 'reaction', label: 'Reactions', value: (d) => d.eventsByType.reaction ?? 0 },
  { metric: 'repost', label: 'Reposts', value: (d) => d.eventsByType.repost ?? 0 },
  { metric: 'zap', label: 'Zaps', value: (d) => d.eventsByType.zap ?? 0 },
  { metric: 'video', label: 'Videos', value: (d) => d.eventsByType.video ?? 0 },
];

const KIND_NAMES = { 0: 'profile', 1: 'note', 3: 'contacts', 5: 'deletion', 6: 'repost', 7: 'reaction', 16: 'generic repost', 17: 'website reaction', 21: 'video', 22: 'short video', 1111: 'comment', 9735: 'zap receipt', 34235: 'video (addressable)', 34236: 'short video (addressable)' };

/** The leaderboards rank videos published in a period of UTC days: the nearest to the window. */
export const periodOf = (state) => ({ '24h': 'day', '7d': 'week', '30d': 'month' })[state.interval] ?? 'all';
const PERIOD_WORDS = { day: 'the last UTC day', week: 'the last 7 UTC days', month: 'the last 30 UTC days', all: 'all time' };

const windowParams = (state) => (state.interval ? { interval: state.interval } : { startTs: state.startTs, endTs: state.endTs });
const windowTag = (state) => state.interval ?? `${state.startTs}-${state.endTs}`;
const link = (href, text, title) => (href ? h('a', { href, rel: 'noopener noreferrer', target: '_blank', text, title }) : h('span', { text, title }));

export function networkView(ctx) {
  const root = byId('network-view');
  const cards = h('div.cards', { id: 'network-cards', role: 'group', 'aria-label': 'Network totals over the window' });
  const totals = panel('network-totals', 'The network', { wide: true });
  const byType = panel('events-by-type', 'Events by type');
  const byKind = panel('events-by-kind', 'Events by kind');
  const feedTabs = h('div.tabs', { role: 'group', 'aria-label': 'Feed' }, ['trending', 'recent'].map((sort) => h('button', { type: 'button', dataset: { feed: sort }, 'aria-pressed': 'false', text: sort === 'trending' ? 'Trending' : 'Recent', on: { click: () => ctx.navigate({ feed: sort }, { feedsOnly: true }) } })));
  const feed = panel('video-feed', 'Videos', { wide: true, controls: feedTabs });
  const topVideos = panel('leaderboard-videos', 'Top videos');
  const topCreators = panel('leaderboard-creators', 'Top creators');
  const topTags = panel('trending-hashtags', 'Trending hashtags');
  fill(root, h('div.view-heading', {}, h('h2', { text: 'Network' }), h('p', { id: 'network-window' })), totals.el, h('div.columns.two', {}, byType.el, byKind.el), feed.el, h('div.columns', {}, topVideos.el, topCreators.el, topTags.el));
  const windowed = [totals, byType, byKind];
  /** whether the windowed panels show this state's answer (a failed live refresh then keeps it) */
  let showing = false;
  const feeds = [feed, topVideos, topCreators, topTags];

  function showTotals(state, current, previous) {
    const rows = NETWORK_CARDS.map((card) => {
      const value = card.value(current.data);
      return { metric: card.metric, label: card.label, value, change: changeOf(value, card.value(previous.data)), sub: card.sub };
    });
    fill(
      cards,
      rows.map((row) => {
        const shown = fmtChange(row.change);
        return h('article.card', { dataset: { metric: row.metric } }, h('h3', { text: row.label }), h('p.value', { text: fmtInt(row.value) }), h(`p.change.${shown.direction}`, { text: shown.text }), row.sub ? h('p.sub', { text: row.sub }) : null);
      }),
    );
    const pw = previous.meta.window;
    const columns = [
      { key: 'label', label: 'Metric' },
      { key: 'value', label: 'Value', numeric: true },
      { key: 'previous', label: 'Previous window', numeric: true, csv: (r) => r.change.previous },
      { key: 'delta', label: 'Change', numeric: true, csv: (r) => r.change.delta },
      { key: 'percent', label: 'Change %', numeric: true, csv: (r) => r.change.percent ?? '' },
    ];
    totals.show(cards, h('p.note', {}, `Compared with ${fmtTime(pw.startTs, ctx.tzMinutes(state))} to ${fmtTime(pw.endTs, ctx.tzMinutes(state))}. `, csvButton('the network totals', () => csvName('network-totals', windowTag(state)), columns, rows)));
  }

  function breakdown(target, id, caption, now, before, nameColumn) {
    const keys = [...new Set([...Object.keys(now), ...Object.keys(before)])];
    const rows = keys.map((key) => ({ key, events: now[key] ?? 0, change: changeOf(now[key] ?? 0, before[key] ?? 0) })).sort((a, b) => b.events - a.events || (a.key < b.key ? -1 : 1));
    if (!rows.length) return target.empty('No events in this window.');
    const max = Math.max(1, ...rows.map((r) => r.events));
    const bar = (r) => {
      const el = h('span.bar', { 'aria-hidden': 'true' });
      el.style.setProperty('--share', String(Math.round((100 * r.events) / max)));
      return h('span.bar-cell', {}, el, fmtInt(r.events));
    };
    target.show(
      dataTable({
        id,
        caption,
        fileName: () => csvName(id, windowTag(ctx.state())),
        rows,
        columns: [
          ...nameColumn,
          { key: 'events', label: 'Events', numeric: true, cell: bar },
          { key: 'previous', label: 'Previous window', numeric: true, cell: (r) => fmtInt(r.change.previous), csv: (r) => r.change.previous },
          { key: 'change', label: 'Change', cell: (r) => fmtChange(r.change).text.replace(/ vs .*/, ''), csv: (r) => r.change.delta },
        ],
      }),
    );
  }

  async function loadWindowed(state, run, quiet) {
    if (!quiet) {
      windowed.forEach((p) => p.loading());
      showing = false;
    }
    fill(byId('network-window'), `Over ${windowWords(state, ctx.tzMinutes(state))}`);
    try {
      const current = (await getJson('/api/analytics/summary', windowParams(state))).body;
      const w = current.meta.window;
      const previous = (await getJson('/api/analytics/summary', { startTs: w.startTs - (w.endTs - w.startTs), endTs: w.startTs })).body;
      if (!run.current()) return;
      ctx.clearAlert();
      showing = true;
      byId('network-window').dataset.window = `${w.startTs}-${w.endTs}`;
      showTotals(state, current, previous);
      breakdown(byType, 'events-by-type-table', 'Events by type', current.data.eventsByType, previous.data.eventsByType, [{ key: 'key', label: 'Type', rowHeader: true }]);
      breakdown(byKind, 'events-by-kind-table', 'Events by kind', current.data.eventsByKind, previous.data.eventsByKind, [
        { key: 'key', label: 'Kind', rowHeader: true },
        { key: 'name', label: 'What', cell: (r) => KIND_NAMES[r.key] ?? 'other', csv: (r) => KIND_NAMES[r.key] ?? 'other' },
      ]);
      ctx.info(current.data.totalEvents === 0 ? `No events counted in ${windowWords(state, ctx.tzMinutes(state))}.` : null);
      ctx.freshness(current.meta);
      ctx.rendered();
    } catch (error) {
      if (!run.current()) return;
      if (quiet && showing) return ctx.alert(`Live update failed, showing the last answer: ${error.message}`);
      ctx.alert(error.message);
      windowed.forEach((p) => p.error(`Not loaded: ${error.message}`));
      ctx.freshness(null);
      ctx.rendered(false);
    }
  }

  const stats = (v) => v.stats;
  const videoColumns = (withScore) => [
    { key: 'title', label: 'Video', cell: (v) => link(eventLink(v.address ?? v.id), v.title || '(untitled)', v.address ?? v.id), csv: (v) => v.title ?? '' },
    { key: 'author', label: 'Creator', cell: (v) => h('a', { href: `/?pubkey=${v.author}`, title: v.author, text: shortKey(v.author), on: { click: (e) => openCreator(e, v.author) } }) },
    { key: 'published', label: 'Published', cell: (v) => fmtTime(v.publishedAt ?? v.createdAt, ctx.tzMinutes(ctx.state())), csv: (v) => new Date((v.publishedAt ?? v.createdAt) * 1000).toISOString() },
    { key: 'duration', label: 'Length', cell: (v) => (v.durationSeconds ? fmtDuration(v.durationSeconds * 1000) : '–'), csv: (v) => v.durationSeconds ?? '' },
    { key: 'reactions', label: 'Reactions', numeric: true, cell: (v) => fmtInt(stats(v).reactions.total), csv: (v) => stats(v).reactions.total },
    { key: 'replies', label: 'Replies', numeric: true, cell: (v) => fmtInt(stats(v).replies), csv: (v) => stats(v).replies },
    { key: 'reposts', label: 'Reposts', numeric: true, cell: (v) => fmtInt(stats(v).reposts), csv: (v) => stats(v).reposts },
    { key: 'zaps', label: 'Zaps', numeric: true, cell: (v) => fmtInt(stats(v).zaps), csv: (v) => stats(v).zaps },
    { key: 'zapSats', label: 'Sats', numeric: true, cell: (v) => fmtInt(stats(v).zapSats), csv: (v) => stats(v).zapSats },
    { key: 'views', label: 'Views', numeric: true, cell: (v) => fmtInt(stats(v).views), csv: (v) => stats(v).views },
    ...(withScore ? [{ key: 'score', label: 'Score', numeric: true, cell: (v) => (v.score ?? 0).toFixed(2), csv: (v) => v.score ?? '' }] : []),
  ];

  function openCreator(event, pubkey) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    ctx.navigate({ view: 'creator', pubkey });
  }

  async function loadFeeds(state, run, quiet) {
    for (const button of feedTabs.querySelectorAll('button')) button.setAttribute('aria-pressed', String(button.dataset.feed === state.feed));
    if (!quiet) feeds.forEach((p) => p.loading());
    const period = periodOf(state);
    const reads = await Promise.allSettled([
      getJson('/api/videos', { sort: state.feed, limit: 10 }),
      getJson('/api/leaderboard/videos', { period, limit: 10 }),
      getJson('/api/leaderboard/creators', { period, limit: 10 }),
      getJson('/api/hashtags/trending', { period, limit: 10 }),
    ]);
    if (!run.current()) return;
    const [videos, lbVideos, lbCreators, lbTags] = reads;
    const show = (target, read, render) => {
      if (read.status === 'rejected') return quiet ? undefined : target.error(`Not loaded: ${read.reason.message}`);
      render(read.value.body);
    };
    show(feed, videos, (body) => {
      const note = h('p.note', { text: `${state.feed === 'trending' ? 'Trending: the newest 100 videos of the last 3 days ranked by engagement ÷ (hours + 2)^1.5' : 'Recent: newest first, the last 30 days'}; computed ${fmtTime(Math.floor(Date.parse(body.meta.freshness.generatedAt) / 1000), ctx.tzMinutes(state))}.` });
      if (!body.data.length) return feed.empty(`No videos in the ${state.feed} feed yet.`, note);
      feed.show(note, dataTable({ id: 'video-feed-table', caption: `${state.feed === 'trending' ? 'Trending' : 'Recent'} videos with their all-time stats`, fileName: () => csvName('videos', state.feed), rows: body.data, columns: videoColumns(state.feed === 'trending') }));
    });
    const periodNote = h('p.note', { text: `Videos published in ${PERIOD_WORDS[period]} (period=${period}).` });
    show(topVideos, lbVideos, (body) => {
      if (!body.data.length) return topVideos.empty(`No videos published in ${PERIOD_WORDS[period]}.`);
      topVideos.show(
        periodNote.cloneNode(true),
        dataTable({
          id: 'leaderboard-videos-table',
          caption: 'Videos by engagement',
          fileName: () => csvName('top-videos', period),
          rows: body.data,
          columns: [{ key: 'rank', label: '#', numeric: true }, videoColumns(false)[0], { key: 'engagement', label: 'Engagement', numeric: true }, { key: 'zapSats', label: 'Sats', numeric: true, cell: (v) => fmtInt(v.stats.zapSats), csv: (v) => v.stats.zapSats }],
        }),
      );
    });
    show(topCreators, lbCreators, (body) => {
      if (!body.data.length) return topCreators.empty(`No creators with videos in ${PERIOD_WORDS[period]}.`);
      topCreators.show(
        periodNote.cloneNode(true),
        dataTable({
          id: 'leaderboard-creators-table',
          caption: 'Creators by the engagement of their videos',
          fileName: () => csvName('top-creators', period),
          rows: body.data,
          columns: [
            { key: 'rank', label: '#', numeric: true },
            { key: 'pubkey', label: 'Creator', cell: (c) => h('a', { href: `/?pubkey=${c.pubkey}`, title: c.pubkey, text: shortKey(c.pubkey), on: { click: (e) => openCreator(e, c.pubkey) } }) },
            { key: 'engagement', label: 'Engagement', numeric: true },
            { key: 'videos', label: 'Videos', numeric: true },
            { key: 'zapSats', label: 'Sats', numeric: true },
          ],
        }),
      );
    });
    show(topTags, lbTags, (body) => {
      if (!body.data.length) return topTags.empty(`No hashtags on videos of ${PERIOD_WORDS[period]}.`);
      topTags.show(
        periodNote.cloneNode(true),
        dataTable({
          id: 'trending-hashtags-table',
          caption: 'Hashtags by the engagement of their videos',
          fileName: () => csvName('hashtags', period),
          rows: body.data,
          columns: [
            { key: 'rank', label: '#', numeric: true },
            { key: 'tag', label: 'Hashtag', cell: (t) => `#${t.tag}` },
            { key: 'engagement', label: 'Engagement', numeric: true },
            { key: 'videos', label: 'Videos', numeric: true },
          ],
        }),
      );
    });
  }

  return {
    root,
    async load(state, { quiet = false, windowedOnly = false, feedsOnly = false } = {}) {
      await Promise.all([feedsOnly ? null : loadWindowed(state, ctx.run('windowed'), quiet), windowedOnly ? null : loadFeeds(state, ctx.run('feeds'), quiet)]);
    },
  };
}

