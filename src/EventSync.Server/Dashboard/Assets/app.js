// EventSync dashboard: a small single-page front end over the admin API. No framework, no build step.
// Everything shown is built with DOM nodes and text nodes, never parsed as markup, because payloads and headers are untrusted.
'use strict';
(() => {
  const view = document.getElementById('view');
  const banner = document.getElementById('banner');
  const SVG = 'http://www.w3.org/2000/svg';
  let timers = [];
  let generation = 0;
  // Queue depth and lag samples per flow, taken by this page from each activity poll (the store keeps no history).
  const samples = new Map();

  // ------------------------------------------------------------ helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    add(el, children);
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    setAttrs(el, attrs);
    add(el, children);
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }

  function add(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, method) {
    const res = await fetch(path, { method: method || 'GET', credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (res.status === 401) {
      // The session ended (token changed or logged out elsewhere): the shell shows the login form again.
      location.reload();
      throw new ApiError(401, 'Not logged in');
    }
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = text; }
    if (!res.ok) throw new ApiError(res.status, (body && body.message) || `${res.status} ${res.statusText}`);
    return body;
  }

  function showError(err) {
    banner.textContent = err && err.message ? err.message : String(err);
    banner.className = 'error';
  }

  function clearError() {
    banner.textContent = '';
    banner.className = '';
  }

  function every(ms, fn) {
    const gen = generation;
    timers.push(setInterval(() => {
      if (gen === generation) fn().then(clearError, showError);
    }, ms));
  }

  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  function fmtSeconds(sec) {
    if (!sec) return '0 s';
    if (sec < 120) return `${Math.round(sec * 10) / 10} s`;
    if (sec < 7200) return `${Math.round(sec / 60)} min`;
    return `${Math.round(sec / 360) / 10} h`;
  }

  function duration(run) {
    return `${Math.max(0, new Date(run.finishedAt) - new Date(run.startedAt))} ms`;
  }

  function query() {
    const i = location.hash.indexOf('?');
    return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
  }

  function qs(params) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') p.set(k, v);
    const t = p.toString();
    return t ? `?${t}` : '';
  }

  function table(headers, rows, attrs) {
    return h('table', attrs || {}, h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))), h('tbody', {}, rows));
  }

  function badge(text, kind) {
    return h('span', { class: `badge ${kind || text}` }, text);
  }

  function dl(pairs) {
    return h('dl', { class: 'kv' }, pairs.filter((p) => p[1] !== null && p[1] !== undefined && p[1] !== '').map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }

  function pre(value, cls) {
    return h('pre', { class: cls || 'code' }, value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  }

  function section(title, ...children) {
    return h('section', {}, h('h2', {}, title), children);
  }

  function runRow(r) {
    return h('tr', { 'data-run': r.id },
      h('td', {}, h('a', { href: `#/runs/${r.id}` }, `#${r.id}`)), h('td', {}, r.flow), h('td', {}, r.entityKey), h('td', {}, r.attempt),
      h('td', {}, badge(r.outcome)), h('td', {}, fmtTime(r.startedAt)), h('td', {}, duration(r)), h('td', { class: 'err' }, r.error || ''));
  }
  const runHeaders = ['Run', 'Flow', 'Entity', 'Attempt', 'Outcome', 'Started', 'Took', 'Error'];

  function jobRow(j) {
    return h('tr', { 'data-job': j.id }, h('td', {}, `#${j.id}`), h('td', {}, j.flow), h('td', {}, j.entityKey), h('td', {}, badge(j.status)), h('td', {}, j.attempts),
      h('td', {}, j.mergedInto ? `continued as job #${j.mergedInto}` : ''), h('td', { class: 'err' }, j.lastError || ''));
  }
  const jobHeaders = ['Job', 'Flow', 'Entity', 'Status', 'Attempts', 'Next', 'Last error'];

  // ------------------------------------------------------------ charts (inline SVG)

  const PAD = { l: 34, r: 8, t: 8, b: 18 };

  /** series: [{label, cls, values: [number], kind: 'bar'|'line'}] over equal x steps; xLabels: [left, middle, right]. */
  function chart(title, series, xLabels, W = 600, H = 130) {
    const n = Math.max(1, ...series.map((x) => x.values.length));
    const max = Math.max(1, ...series.flatMap((x) => x.values.filter((v) => v !== null)));
    const iw = W - PAD.l - PAD.r;
    const ih = H - PAD.t - PAD.b;
    const x = (i) => PAD.l + (n === 1 ? iw : (i * iw) / (n - 1));
    const y = (v) => PAD.t + ih - (v / max) * ih;
    const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title }, s('title', {}, title));
    for (const f of [0, 0.5, 1]) {
      svg.append(s('line', { class: 'grid', x1: PAD.l, x2: W - PAD.r, y1: y(max * f), y2: y(max * f) }));
      svg.append(s('text', { class: 'axis', x: PAD.l - 4, y: y(max * f) + 4, 'text-anchor': 'end' }, formatAxis(max * f)));
    }
    xLabels.forEach((label, i) => svg.append(s('text', { class: 'axis', x: PAD.l + (i * iw) / 2, y: H - 4, 'text-anchor': ['start', 'middle', 'end'][i] }, label)));
    for (const ser of series) {
      if (ser.kind === 'bar') {
        const bw = Math.max(1, iw / n - 1);
        ser.values.forEach((v, i) => {
          if (v > 0) svg.append(s('rect', { class: `bar ${ser.cls}`, x: PAD.l + (i * iw) / n, y: y(v), width: bw, height: PAD.t + ih - y(v) }, s('title', {}, `${ser.label}: ${v}`)));
        });
      } else {
        // A null is a minute with no sample: left out rather than drawn as zero.
        const known = ser.values.map((v, i) => [i, v]).filter(([, v]) => v !== null);
        svg.append(s('polyline', { class: `line ${ser.cls}`, points: known.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ') }, s('title', {}, ser.label)));
        const lastPoint = known[known.length - 1];
        if (lastPoint) svg.append(s('circle', { class: `dot ${ser.cls}`, cx: x(lastPoint[0]), cy: y(lastPoint[1]), r: 2.5 }, s('title', {}, `${ser.label}: ${formatAxis(lastPoint[1])}`)));
      }
    }
    const legend = h('div', { class: 'legend' }, series.map((ser) => h('span', { class: `key ${ser.cls}` }, ser.label)));
    return h('figure', { class: 'chart-box' }, h('figcaption', {}, title), svg, legend);
  }

  function formatAxis(v) {
    return v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
  }

  /** Resamples page-side samples ({t, value}) onto 60 one-minute slots ending now (last value in each slot). */
  function slots(list, key, now) {
    const out = new Array(60).fill(null);
    for (const p of list) {
      const i = 59 - Math.floor((now - p.t) / 60000);
      if (i >= 0 && i < 60) out[i] = p[key];
    }
    return out;
  }

  // ------------------------------------------------------------ pages

  async function overview() {
    const grid = h('div', { class: 'flows' });
    view.append(h('h1', {}, 'Overview'), h('p', { class: 'muted' }, 'Each flow as source → sink, refreshed every 5 s. Queue depth and lag are sampled by this page while it is open.'), grid);
    const refresh = async () => {
      const a = await api('/api/activity?minutes=60');
      const now = Date.now();
      for (const f of a.flows) {
        const list = samples.get(f.name) || [];
        list.push({ t: now, depth: f.pending + f.running, lag: f.oldestPendingSeconds });
        while (list.length && now - list[0].t > 3600000) list.shift();
        samples.set(f.name, list);
      }
      if (a.flows.length === 0) {
        grid.replaceChildren(h('p', { class: 'empty' }, 'No flows are configured. Add sources, sinks and flows to eventsync.yaml (see docs/configuration.md) and restart.'));
        return;
      }
      grid.replaceChildren(...a.flows.map((f) => flowCard(f, now)));
    };
    await refresh();
    every(5000, refresh);
  }

  function flowCard(f, now) {
    const list = samples.get(f.name) || [];
    const minutes = ['-60 min', '-30 min', 'now'];
    return h('article', { class: 'flow', 'data-flow': f.name, 'data-state': f.state },
      h('header', {}, h('h2', {}, f.from, ' → ', f.to), badge(f.state)),
      h('p', { class: 'muted' }, 'flow ', h('strong', {}, f.name), f.sinkPausedUntil ? ` · sink paused by a rate limit until ${fmtTime(f.sinkPausedUntil)}` : ''),
      h('div', { class: 'stats' },
        stat('Queue', f.pending + f.running), stat('Running', f.running), stat('Retrying', f.retrying), stat('Dead', f.parked, f.parked ? '#/dead' : null),
        stat('Lag', fmtSeconds(f.oldestPendingSeconds)),
        stat('Events/min', f.events[f.events.length - 1] || 0), stat('Runs/min', f.runs[f.runs.length - 1] || 0)),
      chart('Events and runs per minute, last hour', [
        { label: 'events', cls: 's-events', values: f.events, kind: 'bar' },
        { label: 'runs', cls: 's-runs', values: f.runs, kind: 'line' },
        { label: 'failed runs', cls: 's-failed', values: f.failedRuns, kind: 'line' },
      ], minutes),
      h('div', { class: 'pair' },
        chart('Queue depth', [{ label: 'pending + running', cls: 's-depth', values: slots(list, 'depth', now), kind: 'line' }], minutes, 300, 110),
        chart('Freshness lag (s)', [{ label: 'oldest pending age', cls: 's-lag', values: slots(list, 'lag', now), kind: 'line' }], minutes, 300, 110)));
  }

  function stat(label, value, href) {
    return h('div', { class: 'stat' }, h('span', { class: 'label' }, label), href ? h('a', { class: 'value', href }, value) : h('span', { class: 'value' }, value));
  }

  async function events() {
    const q = query();
    const filter = { source: q.get('source') || '', type: q.get('type') || '', entity: q.get('entity') || '' };
    const sources = await api('/api/sources');
    const source = h('select', { name: 'source' }, h('option', { value: '' }, 'all sources'), sources.map((x) => h('option', { value: x.name }, x.name)), h('option', { value: 'manual' }, 'manual'));
    source.value = filter.source;
    const type = h('input', { name: 'type', placeholder: 'type', value: filter.type });
    const entity = h('input', { name: 'entity', placeholder: 'entity', value: filter.entity });
    const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); location.hash = `#/events${qs({ source: source.value, type: type.value.trim(), entity: entity.value.trim() })}`; } },
      source, type, entity, h('button', { type: 'submit' }, 'Filter'));
    const body = h('tbody', { id: 'feed' });
    const live = h('span', { class: 'live' }, 'live');
    view.append(h('h1', {}, 'Events ', live), form, h('table', { class: 'events' }, h('thead', {}, h('tr', {}, ['Event', 'Received', 'Source', 'Type', 'Entity', 'Delivery'].map((x) => h('th', {}, x)))), body));
    const row = (e) => h('tr', { 'data-event': e.id },
      h('td', {}, h('a', { href: `#/events/${e.id}` }, `#${e.id}`)), h('td', {}, fmtTime(e.receivedAt)), h('td', {}, e.source), h('td', {}, e.type), h('td', {}, e.entity || ''), h('td', { class: 'mono' }, e.deliveryId));
    const first = await api(`/api/events${qs({ source: filter.source, type: filter.type, entity: filter.entity, limit: 100 })}`);
    let last = first.reduce((m, e) => Math.max(m, e.id), 0);
    body.append(...first.map(row));
    if (first.length === 0) body.append(h('tr', { class: 'empty' }, h('td', { colspan: 6 }, 'No events yet. They appear here as they arrive.')));
    // Polling with the last id seen: new events arrive in order and none is missed or shown twice.
    every(2000, async () => {
      const next = await api(`/api/feed${qs({ after: last, source: filter.source, type: filter.type, entity: filter.entity, limit: 200 })}`);
      if (next.length === 0) return;
      body.querySelector('tr.empty')?.remove();
      for (const e of next) {
        last = Math.max(last, e.id);
        const tr = row(e);
        tr.classList.add('new');
        body.prepend(tr);
      }
      while (body.rows.length > 500) body.lastElementChild.remove();
    });
  }

  async function eventPage(id) {
    const d = await api(`/api/events/${encodeURIComponent(id)}`);
    const e = d.event;
    view.append(
      h('h1', {}, `Event #${e.id}`),
      dl([['Source', e.source], ['Type', e.type], ['Entity', e.entity || '—'], ['Delivery', e.deliveryId], ['Received', fmtTime(e.receivedAt)], ['Payload size', `${e.payloadBytes} bytes`]]),
      section('Headers', table(['Header', 'Value'], Object.entries(e.headers || {}).map(([k, v]) => h('tr', {}, h('td', { class: 'mono' }, k), h('td', { class: 'mono' }, typeof v === 'string' ? v : JSON.stringify(v)))), { class: 'headers' })),
      section('Payload', pre(e.payload, 'code payload')),
      section('Jobs it caused', d.jobs.length ? table(jobHeaders, d.jobs.map(jobRow)) : h('p', { class: 'muted' }, 'No flow took this event.')),
      section('Runs', d.runs.length ? table(runHeaders, d.runs.map(runRow)) : h('p', { class: 'muted' }, 'No run yet.')));
  }

  const outcomes = ['succeeded', 'failed', 'throttled', 'parked', 'abandoned', 'lease-lost'];

  async function runs() {
    const q = query();
    const status = await api('/api/status');
    const flow = h('select', { name: 'flow' }, h('option', { value: '' }, 'all flows'), status.flows.map((f) => h('option', { value: f.name }, f.name)));
    flow.value = q.get('flow') || '';
    const outcome = h('select', { name: 'status' }, h('option', { value: '' }, 'any outcome'), outcomes.map((o) => h('option', { value: o }, o)));
    outcome.value = q.get('status') || '';
    const since = h('select', { name: 'since' }, [['', 'any time'], ['15', 'last 15 min'], ['60', 'last hour'], ['1440', 'last day']].map(([v, t]) => h('option', { value: v }, t)));
    since.value = q.get('since') || '';
    const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); location.hash = `#/runs${qs({ flow: flow.value, status: outcome.value, since: since.value })}`; } },
      flow, outcome, since, h('button', { type: 'submit' }, 'Filter'));
    const body = h('tbody', {});
    const more = h('button', { type: 'button', class: 'more' }, 'Older runs');
    view.append(h('h1', {}, 'Runs'), form, h('table', { class: 'runs' }, h('thead', {}, h('tr', {}, runHeaders.map((x) => h('th', {}, x)))), body), more);
    const sinceIso = since.value ? new Date(Date.now() - Number(since.value) * 60000).toISOString() : '';
    let before = '';
    const load = async () => {
      const list = await api(`/api/runs${qs({ flow: flow.value, status: outcome.value, since: sinceIso, before, limit: 100 })}`);
      body.append(...list.map(runRow));
      if (list.length) before = list[list.length - 1].id;
      more.hidden = list.length < 100;
      if (!body.rows.length) body.append(h('tr', { class: 'empty' }, h('td', { colspan: runHeaders.length }, 'No runs match.')));
    };
    more.addEventListener('click', () => load().catch(showError));
    await load();
  }

  async function runPage(id) {
    const d = await api(`/api/runs/${encodeURIComponent(id)}`);
    const r = d.run;
    const t = d.trigger || {};
    const kinds = [...new Set((t.events || []).map((e) => `${e.type} from ${e.source}`))];
    const meta = Object.entries(t.metadata || {});
    view.append(
      h('h1', {}, `Run #${r.id} `, badge(r.outcome)),
      dl([['Flow', r.flow], ['Entity', r.entityKey], ['Sink', r.sink], ['Attempt', r.attempt], ['Worker', r.worker], ['Started', fmtTime(r.startedAt)], ['Finished', fmtTime(r.finishedAt)], ['Took', duration(r)], ['Error', r.error]]),
      section('Trigger',
        dl([['Trigger type', kinds.join(', ') || '—'], ['Events', t.eventCount ?? (t.events || []).length]]),
        meta.length ? table(['Event metadata', 'Value'], meta.map(([k, v]) => h('tr', {}, h('td', { class: 'mono' }, k), h('td', { class: 'mono' }, String(v)))), { class: 'metadata' }) : h('p', { class: 'muted' }, 'No metadata in the newest event.'),
        table(['Event', 'Source', 'Type', 'Delivery', 'Received'], (t.events || []).map((e) => h('tr', {}, h('td', {}, h('a', { href: `#/events/${e.id}` }, `#${e.id}`)), h('td', {}, e.source), h('td', {}, e.type), h('td', { class: 'mono' }, e.deliveryId), h('td', {}, fmtTime(e.receivedAt)))))),
      section('Resources synced', (d.resources || []).length ? h('ul', { class: 'resources' }, d.resources.map((x) => h('li', { class: 'mono' }, typeof x === 'string' ? x : JSON.stringify(x)))) : h('p', { class: 'muted' }, 'Nothing was written.')),
      section('Attempts', table(runHeaders, (d.attempts || []).map(runRow), { class: 'attempts' })),
      d.job ? section('Job', table(jobHeaders, [jobRow(d.job)])) : null);
  }

  async function dead() {
    const list = await api('/api/dead?limit=1000');
    const progress = h('progress', { max: Math.max(1, list.length), value: 0, hidden: true });
    const progressText = h('span', { class: 'progress-text' });
    const all = h('button', { type: 'button', class: 'replay-all', disabled: list.length === 0 }, `Replay all (${list.length})`);
    const body = h('tbody', {});
    view.append(h('h1', {}, 'Dead letters'), h('p', { class: 'muted' }, 'Jobs parked after their last attempt or a permanent failure. Replay queues one again with fresh attempts.'),
      h('div', { class: 'toolbar' }, all, progress, progressText),
      h('table', { class: 'dead' }, h('thead', {}, h('tr', {}, ['Job', 'Flow', 'Entity', 'Attempts', 'Reason', 'Parked', 'State', ''].map((x) => h('th', {}, x)))), body));
    if (list.length === 0) body.append(h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'No dead letters.')));
    const rows = list.map((j) => deadRow(j));
    body.append(...rows.flatMap((x) => [x.tr, x.detail]));
    all.addEventListener('click', async () => {
      all.disabled = true;
      progress.hidden = false;
      const todo = rows.filter((x) => x.tr.dataset.state === 'parked');
      progress.max = Math.max(1, todo.length);
      let done = 0;
      let failed = 0;
      for (const x of todo) {
        try { await x.replay(); done++; } catch (err) { failed++; showError(err); }
        progress.value = done + failed;
        progressText.textContent = `${done} of ${todo.length} replayed${failed ? `, ${failed} failed` : ''}`;
      }
    });
  }

  function deadRow(j) {
    const state = h('td', { class: 'state-cell' }, badge('parked'));
    const replay = h('button', { type: 'button', class: 'replay' }, 'Replay');
    const del = h('button', { type: 'button', class: 'delete danger' }, 'Delete');
    const toggle = h('button', { type: 'button', class: 'attempts-toggle link' }, 'attempts');
    const tr = h('tr', { 'data-job': j.id, 'data-state': 'parked' },
      h('td', {}, `#${j.id}`), h('td', {}, j.flow), h('td', {}, j.entityKey), h('td', {}, j.attempts, ' ', toggle), h('td', { class: 'err' }, j.lastError || ''), h('td', {}, fmtTime(j.updatedAt)),
      state, h('td', { class: 'actions' }, replay, del));
    const detail = h('tr', { class: 'detail', hidden: true }, h('td', { colspan: 8 }));
    const setState = (name, text) => {
      tr.dataset.state = name;
      state.replaceChildren(badge(name), text ? ` ${text}` : '');
    };
    toggle.addEventListener('click', async () => {
      detail.hidden = !detail.hidden;
      if (detail.hidden) return;
      try {
        const d = await api(`/api/jobs/${j.id}`);
        detail.firstChild.replaceChildren(d.runs.length ? table(runHeaders, d.runs.map(runRow)) : h('p', { class: 'muted' }, 'No runs recorded.'));
      } catch (err) { showError(err); }
    });
    const replayOne = async () => {
      replay.disabled = del.disabled = true;
      try {
        const r = await api(`/api/dead/${j.id}/replay`, 'POST');
        setState('replayed', `as job #${r.pendingJob}`);
        follow(r.pendingJob);
      } catch (err) {
        replay.disabled = del.disabled = false;
        throw err;
      }
    };
    // After a replay, follow the job through its retries until it settles, so the row shows how it ended.
    const follow = (jobId) => {
      const gen = generation;
      let polls = 0;
      const tick = async () => {
        if (gen !== generation || ++polls > 300) return;
        try {
          const d = await api(`/api/jobs/${jobId}`);
          const c = d.current;
          if (c.status === 'done') return setState('done', `job #${c.id}`);
          if (c.status === 'parked') return setState('parked', `again as job #${c.id}: ${c.lastError || ''}`);
          setState(c.status === 'running' ? 'running' : 'replayed', `job #${c.id}${c.attempts ? `, attempt ${c.attempts}` : ''}`);
        } catch (err) { showError(err); }
        setTimeout(tick, 1000);
      };
      setTimeout(tick, 500);
    };
    replay.addEventListener('click', () => replayOne().catch(showError));
    del.addEventListener('click', async () => {
      // Two clicks: the first arms the button, so a stray click discards nothing.
      if (!del.classList.contains('armed')) {
        del.classList.add('armed');
        del.textContent = 'Confirm delete';
        return;
      }
      replay.disabled = del.disabled = true;
      try {
        await api(`/api/dead/${j.id}`, 'DELETE');
        setState('deleted');
      } catch (err) { showError(err); replay.disabled = del.disabled = false; }
    });
    return { tr, detail, replay: replayOne };
  }

  async function conflicts() {
    const q = query();
    const status = q.get('status') || 'open';
    const pick = h('select', { name: 'status', onchange: () => { location.hash = `#/conflicts${qs({ status: pick.value })}`; } },
      ['open', 'resolved', 'all'].map((x) => h('option', { value: x }, x)));
    pick.value = status;
    const list = await api(`/api/conflicts${qs({ status, limit: 200 })}`);
    view.append(h('h1', {}, 'Conflicts'), h('p', { class: 'muted' }, 'Fields two systems both changed since they last agreed. The winner (per the flow\'s prefer) was written; the other version is kept here.'),
      h('form', { class: 'filters' }, pick),
      list.length ? h('div', { class: 'conflicts' }, list.map(conflictCard)) : h('p', { class: 'empty' }, `No ${status === 'all' ? '' : `${status} `}conflicts.`));
  }

  function conflictCard(c) {
    const loser = c.winner === c.sourceSystem ? c.targetSystem : c.sourceSystem;
    const side = (system, value, role) => h('div', { class: `side ${system === c.winner ? 'winner' : 'loser'}` },
      h('h3', {}, system, ` (${role}) `, system === c.winner ? badge('winner') : badge('kept', 'loser')), pre(value));
    const stateEl = h('span', {}, badge(c.status));
    const result = h('p', { class: 'resolution' }, c.resolution ? `Resolved: ${c.resolution}` : '');
    const value = h('textarea', { rows: 3, placeholder: 'or write a new value' });
    const card = h('article', { class: 'conflict', 'data-conflict': c.id, 'data-status': c.status },
      h('header', {}, h('h2', {}, c.documentId, ' · ', h('code', {}, c.field)), stateEl),
      h('p', { class: 'muted' }, `flow ${c.flow} · job #${c.jobId} · policy ${c.policy} · ${fmtTime(c.createdAt)}`),
      h('details', {}, h('summary', {}, 'Base (last agreed version)'), pre(c.baseValue)),
      h('div', { class: 'sides' }, side(c.sourceSystem, c.sourceValue, 'source'), side(c.targetSystem, c.targetValue, 'target')),
      result);
    if (c.status === 'open') {
      const buttons = [];
      const act = async (params) => {
        buttons.forEach((b) => { b.disabled = true; });
        try {
          const r = await api(`/api/conflicts/${c.id}/resolve${qs(params)}`, 'POST');
          card.dataset.status = 'resolved';
          stateEl.replaceChildren(badge('resolved'));
          result.textContent = `Resolved: ${r.resolution}`;
          actions.remove();
        } catch (err) {
          result.textContent = err.message;
          result.classList.add('error');
          buttons.forEach((b) => { b.disabled = false; });
        }
      };
      buttons.push(
        h('button', { type: 'button', class: 'keep-winner', onclick: () => act({ keep: 'winner' }) }, `Keep ${c.winner}'s version`),
        h('button', { type: 'button', class: 'keep-loser', onclick: () => act({ keep: 'loser' }) }, `Write ${loser}'s version back`),
        h('button', { type: 'button', class: 'set-value', onclick: () => (value.value ? act({ value: value.value }) : value.focus()) }, 'Write this value'));
      const actions = h('div', { class: 'actions' }, buttons.slice(0, 2), value, buttons[2]);
      card.append(actions);
    }
    return card;
  }

  async function vectors() {
    const list = await api('/api/vectors');
    view.append(h('h1', {}, 'Vector indexes'));
    if (list.length === 0) {
      view.append(h('p', { class: 'empty' }, 'No vector flows are configured (a flow whose sink has kind: vectors; see samples/vector-sync/).'));
      return;
    }
    for (const f of list) {
      view.append(h('section', { class: 'vector-flow', 'data-flow': f.flow },
        h('h2', {}, f.flow, ' ', f.building ? badge('building', 'retrying') : badge('ready', 'healthy'), f.settingsChanged ? badge('reindex needed', 'failing') : null),
        dl([['Model', f.model ? `${f.model} (${f.dimensions} dims)` : '—'], ['Pending changes', f.pending], ['Oldest pending', fmtSeconds(f.oldestPendingSeconds)], ['Last error', f.lastError]]),
        table(['Tenant', 'Rows', 'Vectors', 'Pending', 'Oldest pending', 'Last update'], f.tenants.map((t) => h('tr', { 'data-tenant': t.tenant },
          h('td', {}, t.tenant), h('td', {}, t.rows), h('td', {}, t.vectors), h('td', {}, t.pending), h('td', {}, fmtSeconds(t.oldestPendingSeconds)), h('td', {}, fmtTime(t.lastUpdate)))))));
    }
  }

  // ------------------------------------------------------------ routing

  const pages = { overview, events, event: eventPage, runs, run: runPage, dead, conflicts, vectors };

  function route() {
    timers.forEach(clearInterval);
    timers = [];
    generation++;
    const gen = generation;
    const path = location.hash.replace(/^#\/?/, '').split('?')[0] || 'overview';
    const [name, id] = path.split('/');
    const page = id && name === 'events' ? 'event' : id && name === 'runs' ? 'run' : name;
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === name);
    view.replaceChildren();
    view.dataset.page = page;
    delete view.dataset.ready;
    const render = pages[page];
    if (!render) {
      view.append(h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/overview' }, 'Back to the overview')));
      return;
    }
    render(decodeURIComponent(id || '')).then(() => {
      if (gen !== generation) return;
      clearError();
      view.dataset.ready = page;
    }, (err) => {
      if (gen !== generation) return;
      showError(err);
      if (!view.childElementCount) view.append(h('p', { class: 'error' }, err.message));
    });
  }

  window.addEventListener('hashchange', route);
  route();
})();
