// Every warning still on the street (GET /alerts?running=true), from whichever device sent it:
// its true state (sending, playing, light on until HH:MM, ending, ended), failures in red, and
// its controls. A warning leaves this list only when nothing of it is left on the street.

import { api } from './api.js';
import { explainApiError } from './explain.js';
import { describePhase, describeTarget, formatTime } from './format.js';
import { t } from './i18n.js';
import { escapeHtml } from './map.js';
import { setHtml, setText } from './pace.js';

const $ = (id) => document.getElementById(id);

// Statuses whose warning can still be cancelled or cleared.
const CHANGEABLE = new Set(['sending', 'completed']);

export class RunningList {
  /** ctx: {follower, templateTitle(id), canAlert(), refresh()}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.list = [];
    this.loaded = false;
  }

  init() {
    $('running-list').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-action]');
      if (!button) return;
      const { action, alert } = button.dataset;
      if (action === 'show') this.ctx.follower.followId(alert);
      else this.act(action, alert);
    });
  }

  async refresh() {
    try {
      this.list = await api.runningAlerts();
      this.loaded = true;
      this.render();
    } catch {
      // keep what is shown; the next refresh tries again
    }
    return this.list;
  }

  async act(action, id) {
    $('running-error').textContent = '';
    try {
      const result = action === 'cancel' ? await api.cancelAlert(id) : await api.allClear(id, {});
      this.ctx.follower.follow(result, true);
    } catch (error) {
      $('running-error').textContent = explainApiError(error);
    }
    this.ctx.refresh();
  }

  render() {
    const may = this.ctx.canAlert() !== false;
    setText($('running-count'), this.loaded ? String(this.list.length) : '');
    const current = this.ctx.follower.alert?.id;
    const rows = this.list.map((a) => {
      const title = this.ctx.templateTitle(a.template);
      const c = a.counts || {};
      const total = Object.values(c).reduce((n, v) => n + v, 0);
      const done = (c.done || 0) + (c.applied || 0);
      const bad = (c.failed || 0) + (c.rejected || 0) + (c.unreachable || 0) + (c.expired || 0);
      const exercise = a.exercise ? ` <span class="badge exercise">${escapeHtml(t('exercise.badge'))}</span>` : '';
      const changeable = CHANGEABLE.has(a.status) && may;
      const problems = bad ? ` · <span class="bad" data-bad="${bad}">${escapeHtml(t('running.failed', { n: bad }))}</span>` : '';
      const controls = a.status === 'awaiting_approval' ? '' : `
          <button type="button" data-action="cancel" data-alert="${escapeHtml(a.id)}"${changeable ? '' : ' disabled'} title="${escapeHtml(t('live.cancelHint'))}" aria-label="${escapeHtml(t('running.cancelLabel', { title }))}">${escapeHtml(t('live.cancel'))}</button>
          <button type="button" data-action="allclear" data-alert="${escapeHtml(a.id)}"${changeable ? '' : ' disabled'} title="${escapeHtml(t('live.allclearHint'))}" aria-label="${escapeHtml(t('running.allclearLabel', { title }))}">${escapeHtml(t('live.allclear'))}</button>`;
      return `<li class="alert-row running-row${a.exercise ? ' exercise' : ''}" data-alert="${escapeHtml(a.id)}" data-phase="${escapeHtml(a.phase)}"${a.id === current ? ' aria-current="true"' : ''}>
        <div class="alert-main">
          <strong>${escapeHtml(title)}</strong>${exercise}
          <span class="badge status-${escapeHtml(a.status)}${bad ? ' with-failures' : ''}">${escapeHtml(t(`status.${a.status}`))}</span>
          <span class="badge phase phase-${escapeHtml(a.phase)}" data-phase-text>${escapeHtml(describePhase(a))}</span>
          <div class="muted">${escapeHtml(formatTime(a.created_at))} · ${escapeHtml(describeTarget(a.target))}</div>
          <div class="counts-line">${escapeHtml(t('live.doneOf', { done, total }))}${problems}</div>
        </div>
        <div class="running-actions">
          <button type="button" data-action="show" data-alert="${escapeHtml(a.id)}" aria-label="${escapeHtml(t('history.showLabel', { title, time: formatTime(a.created_at) }))}">${escapeHtml(t('history.show'))}</button>${controls}
        </div>
      </li>`;
    });
    setHtml($('running-list'), rows.length ? rows.join('') : `<li class="muted">${escapeHtml(t('running.none'))}</li>`);
  }
}
