// The page's controller: the state in the URL, the controls, the two views, the status lines and the
// live refresh. Every read goes to this page's own origin (the Funnel API that served it).
import { byId, fill, h } from './dom.js';
import { fmtDuration, fmtIso, fmtTime, parseTz, tzLabel } from './format.js';
import { PRESETS, localInputToUnix, readState, searchOf, unixToLocalInput } from './state.js';
import { creatorView } from './creator.js';
import { networkView } from './network.js';
import { POLL_WINDOWED_MS, startLive } from './live.js';

/** Newest data older than this, in an answer with a live part, is called stale (nothing ingested lately). */
const STALE_MS = 5 * 60_000;
/** Live refreshes: at most one a second, and one more after the API's 2 s cache of short windows has turned over. */
const MIN_REFRESH_GAP_MS = 1_000;
const SETTLE_REFRESH_MS = 2_600;

const state = readState(location.search);
const main = byId('main');
const tzMinutes = (s) => parseTz(s.tz) ?? 0;

// Each kind of read has its own generation: an answer that arrives after a newer read of its kind
// started (or after the reader navigated) is dropped.
const generations = new Map();
let navigation = 0;
function run(channel) {
  const generation = (generations.get(channel) ?? 0) + 1;
  generations.set(channel, generation);
  const at = navigation;
  return { current: () => generations.get(channel) === generation && navigation === at };
}

const jobs = new Map();
const ctx = {
  state: () => state,
  tzMinutes,
  run,
  navigate,
  info: (text) => fill(byId('info'), text ?? ''),
  alert: (text) => {
    const el = byId('alert');
    el.hidden = false;
    fill(el, text);
  },
  clearAlert: () => {
    byId('alert').hidden = true;
    fill(byId('alert'));
  },
  job(label, job) {
    if (job) jobs.set(label, job);
    else jobs.delete(label);
    fill(
      byId('jobs'),
      [...jobs].map(([name, j]) =>
        h(
          'p.job',
          {},
          `${name}: this window is answered by a job (${j.reason ?? 'past the synchronous budget'}) — ${j.status}${j.phase && j.phase !== j.status ? `, ${j.phase}` : ''}, ${Math.round(j.progressPercent)}% `,
          h('progress', { max: 100, value: Math.round(j.progressPercent), 'aria-label': `${name} job progress` }),
        ),
      ),
    );
  },
  freshness,
  /** A view has drawn its answer (or said why it has none): the first time is the page's first render. */
  rendered(answered = true) {
    if (main.dataset.state !== 'ready') {
      main.dataset.state = 'ready';
      performance.mark('funnel:first-render');
    }
    if (!answered) return;
    const now = new Date();
    fill(byId('updated'), `updated ${fmtTime(Math.floor(now.getTime() / 1000), tzMinutes(state), false)}:${String(now.getUTCSeconds()).padStart(2, '0')}`);
  },
};

const creator = creatorView(ctx);
const network = networkView(ctx);

function freshness(meta) {
  const el = byId('freshness');
  if (!meta) return fill(el, 'Freshness unknown: no answer arrived.');
  const f = meta.freshness;
  const tz = tzMinutes(state);
  const parts = [f.snapshotAsOf ? `Settled up to ${fmtIso(f.snapshotAsOf, tz)}` : 'Nothing settled yet (every number is from live counters)'];
  if (meta.source === 'canonical+delta') parts.push(`live part up to ${fmtIso(f.deltaAsOf, tz)}`);
  if (meta.source === 'fallback') parts.push('answered by a job from the facts');
  const stale = meta.source === 'canonical+delta' && f.stalenessMs !== null && f.stalenessMs > STALE_MS;
  if (stale) parts.push(`stale: nothing ingested for ${fmtDuration(f.stalenessMs)}`);
  if (f.isPartial || meta.partialReason) parts.push(`partial: ${meta.partialReason ?? 'some of the window could not be read'}`);
  if (meta.approximate?.length) parts.push(`estimates: ${meta.approximate.join(', ')}`);
  el.dataset.flag = stale ? 'stale' : f.isPartial ? 'partial' : 'ok';
  fill(el, `${parts.join(' · ')}.`);
}

function syncControls() {
  byId('pubkey').value = state.pubkey;
  for (const button of document.querySelectorAll('#presets button')) {
    const preset = button.dataset.interval;
    button.setAttribute('aria-pressed', String(preset === 'custom' ? !state.interval || !PRESETS.includes(state.interval) : preset === state.interval));
  }
  const custom = byId('custom-range');
  if (!state.interval) {
    byId('range-from').value = unixToLocalInput(state.startTs, tzMinutes(state));
    byId('range-to').value = unixToLocalInput(state.endTs, tzMinutes(state));
    custom.hidden = false;
  }
  fill(byId('range-tz'), `(UTC${tzLabel(tzMinutes(state))})`);
  for (const view of ['creator', 'network']) {
    const tab = byId(`tab-${view}`);
    if (view === state.view) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
    tab.href = searchOf({ ...state, view });
  }
  creator.root.hidden = state.view !== 'creator';
  network.root.hidden = state.view !== 'network';
  const who = state.view === 'creator' ? `Creator ${state.pubkey ? state.pubkey.slice(0, 12) : ''}` : 'Network';
  document.title = `Funnel · ${who} · ${state.interval ?? 'custom window'}`;
}

/** The reader's last full load while it runs: a live refresh waits for it rather than racing it. */
let fullLoad = null;
function render(options = {}) {
  // a live refresh leaves the controls alone (the reader may be typing in them)
  if (!options.quiet) syncControls();
  const load = state.view === 'creator' ? creator.load(state, options) : network.load(state, options);
  if (!options.quiet) {
    fullLoad = load;
    load.catch(() => {}).then(() => {
      if (fullLoad === load) fullLoad = null;
    });
  }
  return load;
}

/** Changes the state, writes it to the URL, and shows it (all of it, or only the part that moved). */
function navigate(patch, { replace = false, note, redrawOnly = false, heatmapOnly = false, feedsOnly = false } = {}) {
  const pubkeyChanged = 'pubkey' in patch && patch.pubkey !== state.pubkey;
  Object.assign(state, patch);
  if (pubkeyChanged) state.pubkeyHex = /^[0-9a-f]{64}$/.test(state.pubkey) ? state.pubkey : null;
  if (note !== undefined) fill(byId('note'), note);
  else if (pubkeyChanged) fill(byId('note'));
  history[replace ? 'replaceState' : 'pushState'](null, '', searchOf(state));
  if (redrawOnly) return creator.redraw(state);
  if (!heatmapOnly && !feedsOnly) newNavigation();
  return render({ heatmapOnly, feedsOnly });
}

/** A new view: answers still coming for the old one are dropped, and its messages go with it. */
function newNavigation() {
  navigation++;
  ctx.clearAlert();
  jobs.clear();
  fill(byId('jobs'));
}

window.addEventListener('popstate', () => {
  Object.assign(state, readState(location.search));
  newNavigation();
  render();
});

byId('controls').addEventListener('submit', (event) => {
  event.preventDefault();
  navigate({ view: 'creator', pubkey: byId('pubkey').value.trim() });
});
for (const button of document.querySelectorAll('#presets button')) {
  button.addEventListener('click', () => {
    const preset = button.dataset.interval;
    if (preset === 'custom') {
      const custom = byId('custom-range');
      custom.hidden = false;
      if (!byId('range-from').value) {
        const now = Math.floor(Date.now() / 60_000) * 60;
        byId('range-from').value = unixToLocalInput(now - 14 * 86400, tzMinutes(state));
        byId('range-to').value = unixToLocalInput(now, tzMinutes(state));
      }
      byId('range-from').focus();
      return;
    }
    byId('custom-range').hidden = true;
    navigate({ interval: preset, startTs: null, endTs: null });
  });
}
byId('range-apply').addEventListener('click', () => {
  const startTs = localInputToUnix(byId('range-from').value, tzMinutes(state));
  const endTs = localInputToUnix(byId('range-to').value, tzMinutes(state));
  const problem = startTs === null || endTs === null ? 'Give both a start and an end.' : endTs <= startTs ? 'The end must be after the start.' : null;
  fill(byId('range-error'), problem ?? '');
  if (!problem) navigate({ interval: null, startTs, endTs });
});

// Live: a notice (or a poll) asks for a quiet refresh of what the view shows. A notice of counted data
// also schedules one more refresh once the API's cache of short windows has turned over; a poll does not.
const pending = new Set();
let refreshTimer = null;
let settleTimer = null;
let refreshing = false;
let lastRefresh = 0;
function requestRefresh(kind) {
  if (kind === 'feeds' && state.view !== 'network') return;
  pending.add(kind);
  if (kind === 'windowed') {
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => requestRefresh('settle'), SETTLE_REFRESH_MS);
  }
  scheduleRefresh();
}
function scheduleRefresh() {
  if (refreshTimer || refreshing || document.hidden) return;
  refreshTimer = setTimeout(refresh, Math.max(0, lastRefresh + MIN_REFRESH_GAP_MS - Date.now()));
}
async function refresh() {
  refreshTimer = null;
  const kinds = new Set(pending);
  pending.clear();
  const windowed = kinds.has('windowed') || kinds.has('settle') || kinds.has('poll');
  if (!windowed && !kinds.has('feeds')) return;
  refreshing = true;
  try {
    if (fullLoad) await fullLoad.catch(() => {});
    lastRefresh = Date.now();
    await render({ quiet: true, windowedOnly: !kinds.has('feeds'), feedsOnly: !windowed });
  } finally {
    refreshing = false;
    if (pending.size) scheduleRefresh();
  }
}
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && pending.size) scheduleRefresh();
});

const liveLabel = byId('live-mode');
startLive({
  onMode(mode, reason) {
    liveLabel.dataset.mode = mode;
    const text = { connecting: 'Connecting…', stream: 'Live: stream', polling: `Live: polling every ${POLL_WINDOWED_MS / 1000} s`, reconnecting: 'Reconnecting…' }[mode];
    fill(liveLabel, text);
    liveLabel.title = mode === 'polling' ? `Polling with If-None-Match: ${reason}` : mode === 'stream' ? 'Server-Sent Events from /api/analytics/stream' : '';
  },
  onNotice(topic) {
    // opened on a stand-in (nothing was settled yet to rank authors by): the first settle names the most active one
    if (topic === 'settled' && state.view === 'creator' && creator.isStandIn(state)) return navigate({ pubkey: '' }, { replace: true });
    if (topic === 'reconnected') {
      requestRefresh('windowed');
      requestRefresh('feeds');
    } else if (topic === 'poll') requestRefresh('poll');
    else requestRefresh(topic === 'feeds' ? 'feeds' : 'windowed');
  },
});

byId('custom-range').hidden = Boolean(state.interval);
render();
