// The four-eyes rule in the console: warnings held for a second dispatcher, approved or dropped
// from the list (the one who asked sees them as theirs and cannot approve them).

import { api } from './api.js';
import { explainApproval } from './explain.js';
import { describeReach, formatTime } from './format.js';
import { t } from './i18n.js';
import { escapeHtml } from './map.js';
import { setHtml } from './pace.js';

const $ = (id) => document.getElementById(id);

export class Approvals {
  /** ctx: {follower, templateTitle(id), sentByMe(id), refresh()}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.canApprove = true;
  }

  init() {
    $('btn-approve').addEventListener('click', () => this.approve(this.ctx.follower.alert?.id));
    $('approval-list').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-approve], button[data-reject], button[data-follow]');
      if (!button) return;
      if (button.dataset.approve) this.approve(button.dataset.approve);
      else if (button.dataset.reject) this.reject(button.dataset.reject);
      else this.ctx.follower.followId(button.dataset.follow);
    });
  }

  /** A second dispatcher releases a held alert; the one who asked for it is refused by the API. */
  async approve(id) {
    if (!id) return;
    $('approval-error').textContent = '';
    $('live-error').textContent = '';
    try {
      const alert = await api.approveAlert(id);
      this.ctx.follower.follow(alert, true);
      this.ctx.refresh();
    } catch (error) {
      const text = explainApproval(error);
      if (this.ctx.follower.alert?.id === id) $('live-error').textContent = text;
      else $('approval-error').textContent = text;
      this.ctx.refresh();
    }
  }

  /** Drop a held alert: nothing was ever sent. */
  async reject(id) {
    $('approval-error').textContent = '';
    try {
      await api.cancelAlert(id);
      this.ctx.refresh();
    } catch (error) {
      $('approval-error').textContent = explainApproval(error);
    }
  }

  render(list) {
    const pending = list.filter((a) => a.status === 'awaiting_approval');
    $('approvals').hidden = pending.length === 0;
    setHtml($('approval-list'), pending
      .map((a) => {
        const title = this.ctx.templateTitle(a.template);
        const mine = this.ctx.sentByMe(a.id);
        const exercise = a.exercise ? ` <span class="badge exercise">${escapeHtml(t('exercise.badge'))}</span>` : '';
        const approve = mine
          ? `<p class="muted">${escapeHtml(t('approvals.yours'))}</p>`
          : `<button type="button" class="primary" data-approve="${escapeHtml(a.id)}"${this.canApprove === false ? ' disabled' : ''} aria-label="${escapeHtml(t('approvals.approveLabel', { title }))}">${escapeHtml(t('approvals.approve'))}</button>`;
        return `<li class="alert-row approval-row${a.exercise ? ' exercise' : ''}" data-alert="${escapeHtml(a.id)}">
          <div class="alert-main">
            <strong>${escapeHtml(title)}</strong>${exercise}
            <div class="muted">${escapeHtml(formatTime(a.created_at))} · ${escapeHtml(describeReach(a.target, a.lantern_count))} · ${escapeHtml((a.languages || []).join(', '))}</div>
          </div>
          <div class="approval-actions">
            ${approve}
            <button type="button" data-follow="${escapeHtml(a.id)}">${escapeHtml(t('history.show'))}</button>
            <button type="button" class="quiet" data-reject="${escapeHtml(a.id)}"${this.canApprove === false ? ' disabled' : ''}>${escapeHtml(t('approvals.reject'))}</button>
          </div>
        </li>`;
      })
      .join(''));
  }
}
