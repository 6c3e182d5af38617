// Following a sent warning: its counts and every lantern's delivery state on the map as the
// progress stream reports them, update, cancel and all-clear, and the list of recent warnings.

import { api, followAlertEvents } from './api.js';
import { explainApiError, explainTarget } from './explain.js';
import { describePhase, describeReach, formatTime, releaseProgress, sleep } from './format.js';
import { getLang, t } from './i18n.js';
import { intern } from './live.js';
import { escapeHtml } from './map.js';
import { Paced, setClass, setHtml, setText } from './pace.js';

const $ = (id) => document.getElementById(id);

const DELIVERY_REFRESH_MS = 1000; // per-lantern states at most this often while events stream in
const ANNOUNCE_EVERY_MS = 5000; // screen readers hear the progress this often, not every event
const RENDER_GAP_MS = 250; // the counts change 4 times a second at most while events stream in
// Statuses in which the alert can still change (a held one waits for a second dispatcher).
const ACTIVE = new Set(['sending', 'completed', 'awaiting_approval']);
// Delivery states a dispatcher must see named: the lantern did not take the warning.
const PROBLEM_STATES = new Set(['failed', 'rejected', 'unreachable', 'expired']);
const PROBLEMS_LISTED = 50;

export class Follower {
  /** ctx: {cmap, templateTitle(id), snapshot(), sent: Map, canAlert(), canApprove(),
   * refresh(), onFollow(alert|null)}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.cmap = ctx.cmap;
    this.alert = null;
    this.stream = null;
    this.lastAnnounce = 0;
    this.history = [];
    this.paced = new Paced(() => this.renderLive(), RENDER_GAP_MS);
  }

  init() {
    $('btn-update').addEventListener('click', () => this.updateAlert());
    $('btn-cancel').addEventListener('click', () => this.act('cancel'));
    $('btn-allclear').addEventListener('click', () => this.act('allclear'));
    $('btn-close-live').addEventListener('click', () => this.unfollow());
    $('live-problem-list').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-lantern]');
      if (button) this.showLantern(button.dataset.lantern);
    });
    $('alert-list').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-follow]');
      if (button) this.followId(button.dataset.follow);
    });
  }

  /** Whether a lantern clicked on the dispatcher's map has a story to show: it missed the alert. */
  isProblem(id) {
    return Boolean(this.alert && PROBLEM_STATES.has(this.deliveries?.get(id)));
  }

  /** One lantern's part in the followed alert: its state, why, how often it was tried, since
   * when, and whether its ack was signed; the map shows where it stands. */
  async showLantern(id) {
    const alertId = this.alert?.id;
    if (!alertId) return;
    this.cmap.setFocus(id);
    this.cmap.showLanterns([id]);
    const box = $('live-lantern');
    try {
      const full = await api.alert(alertId, true);
      if (this.alert?.id !== alertId) return;
      const row = (full.lanterns || []).find((r) => r.lantern === id);
      if (!row) return;
      const facts = [
        [t('lantern.state'), t(`state.${row.state}`)],
        [t('history.reason'), row.reason || '–'],
        [t('history.attempts'), String(row.attempts)],
        [t('history.since'), formatTime(row.updated_at)],
      ];
      box.innerHTML = `<h4>${escapeHtml(t('history.lantern', { id }))}</h4><dl>${facts
        .map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`)
        .join('')}</dl><p class="muted">${escapeHtml(row.signed_by ? t('history.signed') : t('history.unsigned'))}</p>`;
      box.dataset.lantern = id;
      box.hidden = false;
    } catch (error) {
      box.textContent = explainApiError(error);
      box.hidden = false;
    }
  }

  async followId(id) {
    try {
      this.follow(await api.alert(id), true);
    } catch (error) {
      $('form-error').textContent = explainApiError(error);
    }
  }

  follow(alert, focus = false) {
    this._stopStream();
    this.alert = alert;
    this.deliveries = new Map();
    this.problems = new Set(); // lantern ids in a PROBLEM_STATES state
    this.deliveryReasons = {};
    $('live-lantern').hidden = true;
    this.cmap.setDelivery(this.deliveries);
    this.renderLive();
    $('live').hidden = false;
    if (focus) {
      $('live').focus();
      $('live').scrollIntoView({ block: 'start' });
    }
    // The stream's first event names every lantern's state, later ones only the changes.
    this._startStream();
    this.ctx.onFollow(alert);
  }

  unfollow() {
    this._stopStream();
    this.alert = null;
    $('live').hidden = true;
    this.cmap.setDelivery(null);
    $('btn-send').focus();
    this.ctx.onFollow(null);
  }

  _startStream() {
    const controller = new AbortController();
    this.stream = controller;
    const id = this.alert.id;
    let perLantern = false; // the server's events carry the lanterns whose delivery changed
    followAlertEvents(
      id,
      (alert, changes) => {
        if (this.alert?.id !== id) return;
        if (changes) {
          perLantern = true;
          const { ids, states, reasons } = changes;
          for (let i = 0; i < ids.length; i += 1) this._setDelivery(ids[i], states[i], reasons[i]);
          this._showDeliveries(id, ids);
        } else {
          this._scheduleDeliveries(); // a server whose events carry counts only: fetch the states
        }
        this.alert = alert;
        this._renderSoon();
      },
      controller.signal
    )
      .catch(() => this._pollUntilFinished(id, controller))
      .finally(() => {
        if (this.alert?.id === id && !controller.signal.aborted && !perLantern) this._loadDeliveries();
      });
  }

  /** Render soon, at most every RENDER_GAP_MS however many progress events arrive. */
  _renderSoon() {
    this.paced.request();
  }

  /** One lantern's delivery state; the problems (failed, unreachable ...) are kept apart, so
   * the list of them never walks every lantern of a city-wide warning. */
  _setDelivery(lantern, state, reason) {
    this.deliveries.set(lantern, intern(state)); // one string per state, not one per event
    if (PROBLEM_STATES.has(state)) {
      this.problems.add(lantern);
      if (reason) this.deliveryReasons[lantern] = reason;
    } else {
      this.problems.delete(lantern);
    }
  }

  /** changed: the lantern ids whose state changed (none given: look at every one). */
  _showDeliveries(id, changed = null) {
    this.cmap.setDelivery(this.deliveries, changed);
    if (this.shownAlert !== id && this.deliveries.size) {
      this.shownAlert = id; // once per alert: after that the map is the dispatcher's to move
      this.cmap.showLanterns([...this.deliveries.keys()]);
    }
  }

  async _pollUntilFinished(id, controller) {
    // The stream broke (proxy, network): poll instead until the alert has finished.
    while (!controller.signal.aborted && this.alert?.id === id) {
      await sleep(2000);
      try {
        this.alert = await api.alert(id, false, { signal: controller.signal });
        this.renderLive();
        await this._loadDeliveries();
        if (this.alert.status !== 'sending' && this.alert.phase !== 'ending') return;
      } catch (error) {
        if (error.name === 'AbortError') return;
      }
    }
  }

  _stopStream() {
    this.stream?.abort();
    this.stream = null;
  }

  _scheduleDeliveries() {
    if (this.deliveryTimer) {
      this.deliveryDirty = true;
      return;
    }
    this._loadDeliveries();
    this.deliveryTimer = setTimeout(() => {
      this.deliveryTimer = null;
      if (this.deliveryDirty) {
        this.deliveryDirty = false;
        this._scheduleDeliveries();
      }
    }, DELIVERY_REFRESH_MS);
  }

  async _loadDeliveries() {
    const id = this.alert?.id;
    if (!id) return;
    try {
      // The map needs each lantern's state only: grouped ids, not the full delivery rows.
      const [full, grouped] = await Promise.all([api.alert(id), api.alertLanternStates(id)]);
      if (this.alert?.id !== id) return;
      this.deliveries = new Map();
      this.problems = new Set();
      this.deliveryReasons = {};
      for (const [state, ids] of Object.entries(grouped.states)) {
        for (const lantern of ids) this._setDelivery(lantern, state, grouped.reasons[lantern]);
      }
      this._showDeliveries(id);
      this.alert = { ...full, lanterns: null };
      this.renderLive();
    } catch {
      // The next event or poll tries again; the counts above stay as they were.
    }
  }

  renderLive() {
    const a = this.alert;
    if (!a) return;
    const c = a.counts || {};
    const sum = (...keys) => keys.reduce((n, k) => n + (c[k] || 0), 0);
    const total = Object.values(c).reduce((n, v) => n + v, 0);
    const shown = {
      received: sum('received'),
      playing: sum('playing'),
      done: sum('done', 'applied'),
      failed: sum('failed', 'rejected'),
      unreachable: sum('unreachable', 'expired'),
    };
    for (const [k, v] of Object.entries(shown)) setText($(`count-${k}`), v);
    // Failed and unreachable lanterns in red: a warning that missed someone never looks green.
    $('count-failed').parentElement.classList.toggle('bad', shown.failed > 0);
    $('count-unreachable').parentElement.classList.toggle('bad', shown.unreachable > 0);
    const ending = a.phase === 'ending';
    const release = releaseProgress(a);
    // While a cancelled warning ends, the bar is the releases the lanterns confirmed.
    const finished = ending && release.total
      ? release.done
      : total - sum('held', 'planned', 'published', 'received', 'playing');
    const of = ending && release.total ? release.total : total;
    const width = of ? `${(100 * finished) / of}%` : '0%';
    if ($('live-bar').style.width !== width) $('live-bar').style.width = width;
    $('live-bar').classList.toggle('ending', ending);
    $('live-release').hidden = !release.total || a.status === 'sending' || a.status === 'completed';
    setText($('live-release'), t('live.released', { done: release.done, total: release.total }));
    const phase = $('live-phase');
    setText(phase, describePhase(a));
    setClass(phase, `badge phase phase-${a.phase}`);
    this._renderProblems();
    $('live').classList.toggle('exercise', a.exercise);
    $('live-exercise').hidden = !a.exercise;
    const status = $('live-status');
    setText(status, t(`status.${a.status}`));
    setClass(status, `badge status-${a.status}${shown.failed + shown.unreachable ? ' with-failures' : ''}`);
    setText($('live-summary'), [
      this.ctx.templateTitle(a.template),
      describeReach(a.target, a.lantern_count),
      (a.languages || []).join(', '),
      formatTime(a.created_at),
    ].join(' · '));
    const other = Object.entries(c)
      .filter(([k, v]) => v && !['received', 'playing', 'done', 'applied', 'failed', 'unreachable'].includes(k))
      .map(([k, v]) => `${t(`state.${k}`)} ${v}`);
    setText($('live-other'), [t('live.doneOf', { done: shown.done, total }), ...other].join(' · '));
    const active = ACTIVE.has(a.status);
    const held = a.status === 'awaiting_approval';
    for (const id of ['btn-update', 'btn-cancel', 'btn-allclear']) $(id).disabled = !active || this.ctx.canAlert() === false;
    // A held alert has played nothing: it can be approved or dropped, not given an all-clear.
    $('btn-allclear').disabled = $('btn-allclear').disabled || held;
    $('live-held').hidden = !held;
    $('btn-approve').hidden = !held || this.ctx.sent.has(a.id);
    $('btn-approve').disabled = this.ctx.canApprove() === false;
    this._announce(a, shown, total);
  }

  _renderProblems() {
    const problems = [];
    for (const id of this.problems || []) {
      if (problems.length === PROBLEMS_LISTED) break;
      problems.push([id, this.deliveries.get(id)]);
    }
    const count = this.problems ? this.problems.size : 0;
    $('live-problems').hidden = count === 0;
    // The list is rebuilt only when it changes (a rebuilt list costs a layout pass).
    const key = `${this.alert?.id}|${count}|${problems.map(([id, state]) => `${id}:${state}:${this.deliveryReasons?.[id] || ''}`).join(',')}|${getLang()}`;
    if (key === this.problemsKey) return;
    this.problemsKey = key;
    const items = problems.map(([id, state]) => {
      const reason = this.deliveryReasons?.[id];
      const label = `${t(`state.${state}`)}${reason ? `: ${reason}` : ''}`;
      return `<li data-problem="${escapeHtml(id)}"><button type="button" data-lantern="${escapeHtml(id)}">${escapeHtml(id)}</button> – ${escapeHtml(label)}</li>`;
    });
    if (count > PROBLEMS_LISTED) items.push(`<li>${escapeHtml(t('preview.more', { n: count - PROBLEMS_LISTED }))}</li>`);
    $('live-problem-list').innerHTML = items.join('');
  }

  _announce(a, shown, total) {
    const now = Date.now();
    const text = t('live.announce', {
      status: t(`status.${a.status}`),
      done: shown.done,
      total,
      failed: shown.failed + shown.unreachable,
    });
    // Said at once when the status, the phase or the totals change; otherwise every few seconds,
    // and a text held back is said when its turn comes, so what is heard last is what is shown
    // (it once said "0 of 22 done" while the screen showed 22 of 22).
    const key = `${a.id}|${a.status}|${a.phase}|${shown.done === total}|${shown.failed + shown.unreachable}`;
    const wait = ANNOUNCE_EVERY_MS - (now - this.lastAnnounce);
    if (key === this.announcedKey && wait > 0) {
      if (!this.announceTimer && text !== $('live-announce').textContent) {
        this.announceTimer = setTimeout(() => {
          this.announceTimer = null;
          if (this.alert) this.renderLive();
        }, wait);
      }
      return;
    }
    this.announcedKey = key;
    this.lastAnnounce = now;
    setText($('live-announce'), text);
  }

  async act(action) {
    const a = this.alert;
    if (!a) return;
    $('live-error').textContent = '';
    try {
      const result = action === 'cancel' ? await api.cancelAlert(a.id) : await api.allClear(a.id, {});
      this.follow(result);
      this.ctx.refresh();
    } catch (error) {
      this._showLiveError(error);
    }
  }

  async updateAlert() {
    const a = this.alert;
    if (!a) return;
    $('live-error').textContent = '';
    const now = this.ctx.snapshot();
    // Compare with what this page sent; for an alert sent elsewhere, with what the alert reports.
    const before = this.ctx.sent.get(a.id) || {
      target: a.target,
      template: a.template,
      languages: a.languages,
      params: null,
    };
    const change = {};
    const differs = (x, y) => JSON.stringify(x) !== JSON.stringify(y);
    if (now.target && differs(now.target, before.target)) change.target = now.target;
    if (now.template && now.template !== before.template) change.template = now.template;
    if (now.template && now.languages.length && differs(now.languages, before.languages)) {
      change.languages = now.languages;
    }
    // Params of an alert sent elsewhere are unknown: send the form's, if the template has any.
    const paramsChanged = before.params
      ? differs(now.params, before.params)
      : Object.keys(now.params).length > 0;
    if (now.template && (change.template || paramsChanged)) change.params = now.params;
    if (!Object.keys(change).length) {
      $('live-error').textContent = t('err.nothingChanged');
      return;
    }
    try {
      const updated = await api.updateAlert(a.id, change);
      this.ctx.sent.set(a.id, now);
      this.follow(updated);
      this.ctx.refresh();
    } catch (error) {
      this._showLiveError(error);
    }
  }

  _showLiveError(error) {
    const onTarget = error.status === 422 && error.errors.some((e) => (e.loc || [])[0] === 'target');
    $('live-error').textContent = onTarget ? explainTarget(error).text : explainApiError(error);
  }

  renderHistory(list) {
    const items = list.map((a) => {
      const exercise = a.exercise ? `<span class="badge exercise">${escapeHtml(t('exercise.badge'))}</span>` : '';
      const current = this.alert && this.alert.id === a.id ? ' aria-current="true"' : '';
      const title = this.ctx.templateTitle(a.template);
      return `<li class="alert-row${a.exercise ? ' exercise' : ''}"${current}>
        <div class="alert-main">
          <strong>${escapeHtml(title)}</strong> ${exercise}
          <span class="badge status-${a.status}">${escapeHtml(t(`status.${a.status}`))}</span>
          <div class="muted">${escapeHtml(formatTime(a.created_at))} · ${escapeHtml(describeReach(a.target, a.lantern_count))}</div>
        </div>
        <button type="button" data-follow="${escapeHtml(a.id)}" aria-label="${escapeHtml(t('history.showLabel', { title, time: formatTime(a.created_at) }))}">${escapeHtml(t('history.show'))}</button>
      </li>`;
    });
    setHtml($('alert-list'), items.length ? items.join('') : `<li class="muted">${escapeHtml(t('history.empty'))}</li>`);
  }
}
