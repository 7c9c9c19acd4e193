// Live updates, chosen by what the deployment offers: the local stack's Server-Sent Events stream
// (GET /api/analytics/stream) when it answers, else polling (AWS: API Gateway + Lambda cannot hold a
// stream; the reads answer 304 to If-None-Match while nothing moved, so polling costs little).

export const POLL_WINDOWED_MS = 5_000;
export const POLL_FEEDS_MS = 30_000;
/** Without a `ready` from the stream this soon, poll meanwhile (a proxy may be buffering it). */
const STREAM_READY_TIMEOUT_MS = 4_000;

/**
 * onNotice(topic): 'counted' | 'settled' (windowed reads may have moved), 'feeds' (the feeds and
 * leaderboards did, or their poll is due), 'poll' (the windowed reads' poll is due), 'reconnected'
 * (notices may have been missed: re-read everything).
 * onMode(mode, detail): 'connecting' | 'stream' | 'polling' | 'reconnecting'.
 */
export function startLive({ onNotice, onMode, streamUrl = '/api/analytics/stream' }) {
  let pollers = [];
  let source = null;
  const poll = (reason) => {
    if (pollers.length) return;
    onMode('polling', reason);
    pollers = [setInterval(() => onNotice('poll'), POLL_WINDOWED_MS), setInterval(() => onNotice('feeds'), POLL_FEEDS_MS)];
  };
  const stopPolling = () => {
    pollers.forEach(clearInterval);
    pollers = [];
  };
  if (typeof EventSource === 'undefined') {
    poll('this browser has no EventSource');
    return;
  }
  onMode('connecting');
  let everOpen = false;
  source = new EventSource(streamUrl);
  const readyTimer = setTimeout(() => poll('the stream did not open'), STREAM_READY_TIMEOUT_MS);
  source.addEventListener('ready', () => {
    clearTimeout(readyTimer);
    stopPolling();
    onMode('stream');
    if (everOpen) onNotice('reconnected');
    everOpen = true;
  });
  source.addEventListener('update', (event) => {
    try {
      onNotice(JSON.parse(event.data).topic);
    } catch {
      onNotice('counted');
    }
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      // refused (404 in AWS, or an error status): the browser will not retry it; poll instead
      clearTimeout(readyTimer);
      poll(everOpen ? 'the stream was closed' : 'no stream on this deployment');
    } else {
      onMode('reconnecting');
    }
  });
}
