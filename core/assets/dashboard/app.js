// pgha dashboard: polls ./state, renders the cluster, and acts through the REST API with confirmation.
// Every value shown comes from the DCS or from members and is inserted as text, never as markup.
'use strict';
(function () {
  const POLL_MS = 2000;
  const AUTH_KEY = 'pgha-dashboard-auth';
  const COLORS = ['#4c8dff', '#f2b134', '#b07cff', '#2fd3c6', '#ef5b5b', '#9bd35a', '#ff8ad8', '#c9a66b'];
  const $ = (id) => document.getElementById(id);

  let state = null;
  let chart = null;
  let chartKey = '';
  let timer = null;

  /** el('div', {class: 'x', dataset: {member: 'a'}}, 'text', child) */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'onclick') e.addEventListener('click', v);
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function bytes(n) {
    if (typeof n !== 'number') return n === undefined || n === null ? '–' : String(n);
    if (n < 1024) return `${n} B`;
    const units = ['kB', 'MB', 'GB', 'TB'];
    let v = n / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
  }
  const seconds = (s) => (typeof s === 'number' ? (s === 0 ? '0' : s < 10 ? s.toFixed(1) : Math.round(s).toString()) : '–');
  const roleLabel = (r) => ({ leader: 'primary', standby_leader: 'standby leader', sync_standby: 'sync standby', quorum_standby: 'quorum standby' })[r] || r || 'unknown';
  /** A time today as 14:05:09, an older one with its date. */
  function when(ts) {
    const d = new Date(ts);
    if (Number.isNaN(d.getTime())) return String(ts);
    return Date.now() - d.getTime() < 86_400_000 ? d.toLocaleTimeString([], { hour12: false }) : d.toLocaleString([], { hour12: false });
  }
  const isLeaderRole = (r) => r === 'leader' || r === 'standby_leader';

  // ---- credentials (this tab only) ----
  const auth = () => sessionStorage.getItem(AUTH_KEY);
  function authHeaders() {
    const a = auth();
    return a ? { Authorization: `Basic ${a}` } : {};
  }
  function askCredentials() {
    return new Promise((resolve) => {
      const d = $('signin');
      $('signin-user').value = '';
      $('signin-password').value = '';
      const done = (ok) => {
        $('signin-ok').onclick = null;
        $('signin-cancel').onclick = null;
        d.onkeydown = null;
        if (ok) {
          const raw = `${$('signin-user').value}:${$('signin-password').value}`;
          sessionStorage.setItem(AUTH_KEY, btoa(unescape(encodeURIComponent(raw))));
        }
        d.close();
        renderHeader();
        resolve(ok);
      };
      $('signin-ok').onclick = () => done(true);
      $('signin-cancel').onclick = () => done(false);
      d.onkeydown = (e) => { if (e.key === 'Enter') { e.preventDefault(); done(true); } };
      d.showModal();
      $('signin-user').focus();
    });
  }

  // ---- talking to the API ----
  // Every action goes to ./action on the agent that served the page, which runs it through the
  // ordinary REST endpoint (or forwards it to the member it concerns) after its access control.
  async function act(body) {
    const headers = { ...authHeaders(), 'Content-Type': 'application/json' };
    const res = await fetch('action', { method: 'POST', headers, body: JSON.stringify(body), cache: 'no-store' });
    const text = await res.text();
    if (res.status === 401) sessionStorage.removeItem(AUTH_KEY);
    return { ok: res.ok, status: res.status, text: text.trim() };
  }

  function toast(message, kind) {
    const t = el('div', { class: `toast ${kind || ''}`, role: 'status' }, message);
    $('toasts').append(t);
    setTimeout(() => t.remove(), kind === 'bad' ? 12000 : 7000);
  }

  /**
   * Ask, then run. `extra` builds inputs inside the dialog and returns a function reading them.
   * The dialog stays open (busy) until the request finishes, and shows the API's refusal if any.
   */
  async function confirmAction({ title, text, confirm, danger, extra, run }) {
    if (state && state.authRequired && !auth() && !(await askCredentials())) return;
    const d = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    const box = $('confirm-extra');
    box.replaceChildren();
    const read = extra ? extra(box) : () => ({});
    const err = $('confirm-error');
    err.hidden = true;
    const ok = $('confirm-ok');
    ok.textContent = confirm;
    ok.className = danger ? 'danger' : 'primary';
    ok.disabled = false;
    const close = () => { d.close(); ok.onclick = null; };
    $('confirm-cancel').onclick = close;
    ok.onclick = async () => {
      ok.disabled = true;
      ok.textContent = 'Working…';
      let r;
      try {
        r = await run(read());
      } catch (e) {
        r = { ok: false, status: 0, text: String(e && e.message ? e.message : e) };
      }
      if (r.ok) {
        close();
        toast(r.text || `${title}: done`, 'ok');
        poll();
      } else {
        ok.disabled = false;
        ok.textContent = confirm;
        err.hidden = false;
        err.textContent = r.status === 401 ? 'Not authenticated: sign in with the REST API credentials and try again.' : `${r.status || 'error'}: ${r.text}`;
        renderHeader();
      }
    };
    d.showModal();
  }

  function memberAction(m, action) {
    const verbs = {
      restart: ['Restart PostgreSQL', `Restart PostgreSQL on ${m.name} now? Clients connected to it are disconnected.`, 'Restart', true],
      reload: ['Reload configuration', `Reload ${m.name}'s configuration file and PostgreSQL's settings (like SIGHUP)?`, 'Reload', false],
      reinitialize: ['Reinitialize replica', `Wipe ${m.name}'s data directory and clone it again from ${state.leader || 'the primary'}? This cannot be undone.`, 'Reinitialize', true],
    };
    const [title, text, confirm, danger] = verbs[action];
    confirmAction({
      title: `${title}: ${m.name}`, text, confirm, danger,
      extra: action === 'reinitialize' ? (box) => {
        const force = el('input', { type: 'checkbox', id: 'reinit-force' });
        box.append(el('label', { class: 'check' }, force, 'Force: cancel a restart or clone already running there'));
        return () => ({ force: force.checked });
      } : null,
      run: ({ force }) => act({ action, member: m.name, ...(force ? { force: true } : {}) }),
    });
  }

  function switchover() {
    const candidates = state.members.filter((m) => m.name !== state.leader);
    if (!state.leader || !candidates.length) return toast('A switchover needs a primary and at least one replica.', 'bad');
    confirmAction({
      title: 'Switchover',
      text: `${state.leader} hands the primary role to the chosen replica. Writes pause for a few seconds while it switches.`,
      confirm: 'Switch over',
      extra: (box) => {
        const sel = el('select', { id: 'switchover-candidate' },
          candidates.map((m) => el('option', { value: m.name }, `${m.name} (${roleLabel(m.role)}, ${m.state || 'unknown'}, lag ${bytes(m.lag)})`)));
        box.append(el('label', {}, 'New primary', sel));
        return () => ({ candidate: sel.value });
      },
      run: ({ candidate }) => act({ action: 'switchover', leader: state.leader, candidate }),
    });
  }

  function togglePause() {
    const pausing = !state.paused;
    confirmAction({
      title: pausing ? 'Pause automatic failover' : 'Resume automatic failover',
      text: pausing
        ? 'In maintenance mode pgha stops managing PostgreSQL: no failover, no restarts. The primary keeps running.'
        : 'pgha takes charge of PostgreSQL again and fails over automatically.',
      confirm: pausing ? 'Pause' : 'Resume',
      danger: pausing,
      run: () => act({ action: pausing ? 'pause' : 'resume' }),
    });
  }

  // ---- rendering ----
  function renderHeader() {
    const s = state;
    $('scope').textContent = s ? s.scope : '…';
    const signin = $('btn-signin');
    signin.textContent = auth() ? 'Sign out' : 'Sign in';
    signin.hidden = !(s && s.authRequired) && !auth();
    if (!s) return;
    document.title = `${s.scope} · pgha`;
    const pills = [];
    const leader = s.members ? s.members.find((m) => m.name === s.leader) : null;
    pills.push(el('span', { class: `pill ${s.leader ? 'ok' : 'bad'}` }, leader && leader.role === 'standby_leader' ? 'standby leader ' : 'primary ',
      el('strong', { id: 'primary-name' }, s.leader || 'none')));
    const replicas = (s.members || []).filter((m) => m.name !== s.leader);
    const streaming = replicas.filter((m) => m.state === 'streaming').length;
    pills.push(el('span', { class: `pill ${streaming === replicas.length ? '' : 'warn'}` }, el('strong', {}, `${streaming}/${replicas.length}`), ' replicas streaming'));
    const tl = leader && typeof leader.timeline === 'number' ? leader.timeline : null;
    if (tl !== null) pills.push(el('span', { class: 'pill' }, 'timeline ', el('strong', {}, tl)));
    const last = s.history && s.history[0];
    if (last && last.timestamp) {
      pills.push(el('span', { class: 'pill', title: last.reason || '' }, 'last switch ',
        el('strong', {}, when(last.timestamp)), last.newLeader ? ` → ${last.newLeader}` : ''));
    }
    if (s.paused) pills.push(el('span', { class: 'pill warn', id: 'paused-pill' }, 'maintenance mode (paused)'));
    if (s.synchronousMode) pills.push(el('span', { class: 'pill' }, 'synchronous mode'));
    if (s.failsafeMode) pills.push(el('span', { class: 'pill' }, 'failsafe mode'));
    if (s.scheduledSwitchover) pills.push(el('span', { class: 'pill warn' }, `switchover scheduled at ${s.scheduledSwitchover.at}`));
    $('pills').replaceChildren(...pills);
    $('btn-pause').textContent = s.paused ? 'Resume' : 'Pause';
    $('btn-switchover').disabled = !s.leader || replicas.length === 0;
    const banner = $('banner');
    const problem = s.dcsError || (s.clusterUnlocked ? 'The cluster has no leader lock right now: a leader race or failover is in progress.' : null);
    banner.hidden = !problem;
    banner.className = s.dcsError ? 'banner' : 'banner warn';
    banner.textContent = problem || '';
  }

  /** Members as a tree: each under the member it streams from (the primary when unknown). */
  function renderTopology() {
    const box = $('topology');
    const members = state.members || [];
    if (!members.length) return box.replaceChildren(el('p', { class: 'empty' }, 'No members registered in the DCS.'));
    const byName = new Map(members.map((m) => [m.name, m]));
    const children = new Map();
    const roots = [];
    for (const m of members) {
      const up = m.upstream && byName.has(m.upstream) && m.upstream !== m.name ? m.upstream : null;
      if (up && m.name !== state.leader) {
        if (!children.has(up)) children.set(up, []);
        children.get(up).push(m);
      } else roots.push(m);
    }
    const seen = new Set();
    const item = (m) => {
      seen.add(m.name);
      const kids = (children.get(m.name) || []).filter((k) => !seen.has(k.name));
      return el('li', {}, nodeCard(m), kids.length ? el('ul', {}, kids.map(item)) : null);
    };
    const leaderRoot = roots.find((m) => m.name === state.leader);
    if (leaderRoot) {
      const others = roots.filter((m) => m !== leaderRoot);
      box.replaceChildren(el('ul', {}, item(leaderRoot)), ...(others.length ? [el('div', { class: 'flat' }, others.map(nodeCard))] : []));
    } else {
      box.replaceChildren(el('div', { class: 'flat' }, members.map(nodeCard)));
    }
  }

  function nodeCard(m) {
    const leader = m.name === state.leader;
    const why = m.decision && m.decision.reason && !leader ? m.decision.reason : null;
    return el('div', { class: `node ${m.role}${m.reachable ? '' : ' unreachable'}`, dataset: { member: m.name, role: m.role } },
      el('div', { class: 'name' }, el('span', {}, m.name), el('span', { class: `badge ${m.role}` }, roleLabel(m.role))),
      el('div', { class: 'line' }, el('b', {}, m.state || 'unknown'), typeof m.timeline === 'number' ? ` · TL ${m.timeline}` : ''),
      leader ? el('div', { class: 'line' }, m.host ? `${m.host}:${m.port || ''}` : '')
        : el('div', { class: 'line' }, 'lag ', el('b', {}, bytes(m.lag)), ' · ', el('b', {}, `${seconds(m.lagSeconds)} s`)),
      why ? el('div', { class: 'why', title: why }, why) : null,
      m.reachable ? null : el('div', { class: 'why' }, 'REST API not reachable'));
  }

  function renderMembers() {
    const rows = (state.members || []).map((m) => {
      const leader = isLeaderRole(m.role);
      const tags = Object.entries(m.tags || {}).map(([k, v]) => el('span', { class: 'tag' }, v === true ? k : `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`));
      const badges = [];
      if (m.pendingRestart) badges.push(el('span', { class: 'badge muted', title: JSON.stringify(m.pending_restart_reason || {}) }, 'pending restart'));
      if (m.scheduled_restart) badges.push(el('span', { class: 'badge muted' }, 'restart scheduled'));
      if (m.fenceArmed) badges.push(el('span', { class: 'badge muted', title: 'The software fence / watchdog is armed' }, 'fence armed'));
      if (!m.reachable) badges.push(el('span', { class: 'badge bad' }, 'API unreachable'));
      const d = m.decision;
      return el('tr', { dataset: { member: m.name, role: m.role } },
        el('td', {}, el('strong', {}, m.name), m.name === state.self ? el('div', { class: 'sub' }, 'this node') : null,
          badges.length ? el('div', { class: 'sub' }, badges) : null),
        el('td', {}, el('span', { class: `badge ${m.role}` }, roleLabel(m.role))),
        el('td', { class: 'state' }, m.state || 'unknown', m.pgState && m.pgState !== 'running' && m.pgState !== m.state ? el('div', { class: 'sub' }, `postgres ${m.pgState}`) : null),
        el('td', {}, m.host ? `${m.host}:${m.port || ''}` : '–', m.version ? el('div', { class: 'sub' }, `v${m.version}`) : null),
        el('td', { class: 'num' }, typeof m.timeline === 'number' ? m.timeline : '–'),
        el('td', { class: 'num lag' }, leader ? '' : bytes(m.lag)),
        el('td', { class: 'num' }, leader ? '' : seconds(m.lagSeconds)),
        el('td', { class: 'decision' }, d && d.message ? d.message : '', d && d.reason ? el('div', { class: 'sub reason' }, d.reason) : null),
        el('td', {}, tags.length ? tags : '–'),
        el('td', { class: 'actions' },
          el('button', { type: 'button', class: 'small', dataset: { action: 'restart' }, onclick: () => memberAction(m, 'restart') }, 'Restart'),
          el('button', { type: 'button', class: 'small', dataset: { action: 'reload' }, onclick: () => memberAction(m, 'reload') }, 'Reload'),
          el('button', { type: 'button', class: 'small', dataset: { action: 'reinitialize' }, disabled: leader, onclick: () => memberAction(m, 'reinitialize') }, 'Reinit')));
    });
    $('members').tBodies[0].replaceChildren(...rows);
  }

  function renderHistory() {
    const rows = (state.history || []).map((h) => el('tr', {},
      el('td', { class: 'num' }, h.timeline === null ? '–' : h.timeline + 1),
      el('td', {}, el('code', {}, typeof h.lsn === 'number' ? lsnText(h.lsn) : '–')),
      el('td', {}, h.reason || ''),
      el('td', {}, h.timestamp ? new Date(h.timestamp).toLocaleString([], { hour12: false }) : '–'),
      el('td', {}, h.newLeader || '–')));
    $('history').tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 5, class: 'empty' }, 'No failover or switchover yet: the cluster is on its first timeline.'))]));
  }

  function lsnText(n) {
    const hi = Math.floor(n / 2 ** 32);
    return `${hi.toString(16).toUpperCase()}/${(n - hi * 2 ** 32).toString(16).toUpperCase()}`;
  }

  function renderChart() {
    const box = $('lag-chart');
    const samples = state.lag || [];
    const names = [...new Set(samples.flatMap((s) => Object.keys(s.lag)))].sort();
    if (samples.length < 2 || !names.length || typeof uPlot === 'undefined') {
      if (chart) { chart.destroy(); chart = null; chartKey = ''; }
      box.replaceChildren(el('p', { class: 'empty' }, names.length ? 'Collecting samples…' : 'No replicas to chart.'));
      return;
    }
    const data = [samples.map((s) => s.t / 1000), ...names.map((n) => samples.map((s) => (typeof s.lag[n] === 'number' ? s.lag[n] : null)))];
    const width = Math.max(280, box.clientWidth);
    const key = `${names.join(',')}|${width}`;
    if (chart && key === chartKey) return chart.setData(data);
    if (chart) chart.destroy();
    box.replaceChildren();
    chartKey = key;
    const axis = { stroke: '#8c98ad', grid: { stroke: 'rgba(255,255,255,0.06)' }, ticks: { stroke: 'rgba(255,255,255,0.1)' } };
    const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    chart = new uPlot({
      width, height: 220,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1024, max * 1.15)] } },
      axes: [{ ...axis, values: (u, vals) => vals.map(clock) }, { ...axis, size: 64, values: (u, vals) => vals.map(bytes) }],
      series: [{ value: (u, v) => (v === null ? '–' : clock(v)) }, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, value: (u, v) => bytes(v) }))],
      legend: { live: false },
    }, data, box);
  }

  function render() {
    renderHeader();
    if (!state) return;
    renderTopology();
    renderMembers();
    renderHistory();
    renderChart();
    $('footer').textContent = `Served by ${state.self} · pgha ${state.version} · ttl ${state.settings ? state.settings.ttl : '?'} s, loop_wait ${state.settings ? state.settings.loopWait : '?'} s · refreshes every ${POLL_MS / 1000} s`;
  }

  function setLive(ok, text) {
    const live = $('live');
    live.className = `live ${ok ? 'on' : 'off'}`;
    live.lastElementChild.textContent = text;
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const res = await fetch('state', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      state = await res.json();
      render();
      setLive(true, `live · ${new Date(state.generatedAt).toLocaleTimeString()}`);
    } catch (e) {
      setLive(false, `offline (${e && e.message ? e.message : e}): retrying`);
    }
    timer = setTimeout(poll, POLL_MS);
  }

  $('btn-switchover').addEventListener('click', () => state && switchover());
  $('btn-pause').addEventListener('click', () => state && togglePause());
  $('btn-signin').addEventListener('click', () => {
    if (auth()) {
      sessionStorage.removeItem(AUTH_KEY);
      renderHeader();
    } else askCredentials();
  });
  window.addEventListener('resize', () => { chartKey = ''; if (state) renderChart(); });
  poll();
})();
