// Refreshes the page in place every `data-refresh-seconds` (30 by default, never more than 60): fetches the same
// URL, swaps <main> and the "read at" time, keeps open <details> open. Pauses while the tab is hidden and catches up
// when it shows again; a failed refresh is shown in the header and retried. Without JavaScript a <noscript> meta
// refresh reloads the page instead.
//
//
// The live KPI section (#live, data-live-seconds, 5 s by default) refreshes on its own, faster timer from /live,
// which answers with that section alone: the live tiles follow the stream without re-reading the whole page.
//
// A classic script (no build step, no module loader): the arrow function keeps its names out of the page's globals.
(() => {
  const body = document.body;
  const seconds = Math.min(60, Number(body.getAttribute('data-refresh-seconds')) || 30);
  let timer = null;
  let busy = false;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, seconds * 1000);
  }

  function openState() {
    const state = {};
    for (const details of document.querySelectorAll('details[id]')) state[details.id] = details.open;
    return state;
  }

  function restoreOpenState(state) {
    for (const details of document.querySelectorAll('details[id]')) {
      if (Object.hasOwn(state, details.id)) details.open = state[details.id];
    }
  }

  async function fetchPage() {
    const response = await fetch(location.pathname + location.search, {
      cache: 'no-store',
      headers: { 'x-monitor-refresh': '1' },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return new DOMParser().parseFromString(await response.text(), 'text/html');
  }

  async function refresh() {
    if (busy) return;
    if (document.hidden) {
      schedule();
      return;
    }
    busy = true;
    const status = document.getElementById('refresh-state');
    try {
      const next = await fetchPage();
      const content = next.getElementById('content');
      const stamp = next.getElementById('refreshed-at');
      if (!content || !stamp) throw new Error('unexpected page');
      const state = openState();
      document.getElementById('content').replaceWith(document.adoptNode(content));
      document.getElementById('refreshed-at').replaceWith(document.adoptNode(stamp));
      restoreOpenState(state);
      if (status) status.textContent = '';
      body.classList.remove('stale');
    } catch (error) {
      if (status)
        status.textContent = ` · refresh failed (${error?.message ? error.message : error}), retrying`;
      body.classList.add('stale');
    } finally {
      busy = false;
      schedule();
    }
  }

  let liveTimer = null;
  let liveBusy = false;

  function liveSeconds() {
    const live = document.getElementById('live');
    return live ? Math.min(60, Number(live.getAttribute('data-live-seconds')) || 5) : 0;
  }

  function scheduleLive() {
    clearTimeout(liveTimer);
    const every = liveSeconds();
    if (every > 0) liveTimer = setTimeout(refreshLive, every * 1000);
  }

  async function refreshLive() {
    if (liveBusy || document.hidden || !document.getElementById('live')) {
      scheduleLive();
      return;
    }
    liveBusy = true;
    try {
      const response = await fetch('/live', { cache: 'no-store', headers: { 'x-monitor-refresh': '1' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const next = new DOMParser().parseFromString(await response.text(), 'text/html').getElementById('live');
      const current = document.getElementById('live');
      if (!next) throw new Error('unexpected live section');
      if (current) current.replaceWith(document.adoptNode(next));
      document.getElementById('live')?.classList.remove('stale');
    } catch (error) {
      const current = document.getElementById('live');
      if (current) {
        current.classList.add('stale');
        current.setAttribute('data-refresh-error', String(error?.message ? error.message : error));
      }
    } finally {
      liveBusy = false;
      scheduleLive();
    }
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) {
      refresh();
      refreshLive();
    }
  });
  schedule();
  scheduleLive();
})();
