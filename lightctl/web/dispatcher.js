// The dispatcher's flow, put together from one module per thing the dispatcher does:
// compose.js (hazard, languages, details) → target.js (where, with the instant preview) →
// confirm.js (one confirmation) → follow.js (live progress, update, cancel, all-clear) and
// approvals.js (the four-eyes rule). Nothing the user entered is thrown away when the API
// refuses: the refusal is explained next to the step it concerns.

import { api, ApiError } from './api.js';
import { Approvals } from './approvals.js';
import { Composer } from './compose.js';
import { ConfirmDialog } from './confirm.js';
import { explainApiError, explainTarget } from './explain.js';
import { alertFields } from './extend.js';
import { Follower } from './follow.js';
import { onLanguageChange, t } from './i18n.js';
import { RunningList } from './running.js';
import { TargetPicker } from './target.js';

export { explainApiError, explainTarget } from './explain.js';

const $ = (id) => document.getElementById(id);

// After a send, the form's send button rests this long: the rest of a double click or a held
// Enter on "Send now" lands on it, and must not open a second confirmation.
const RESEND_REST_MS = 1200;
// A request that got no answer (network lost) is retried this often with the same
// Idempotency-Key: the server answers the alert the first try made, never a second one.
const NETWORK_RETRIES_MS = [500, 1500, 3000];

/** A fresh Idempotency-Key for one confirmed request. */
function newKey() {
  if (window.crypto?.randomUUID) return `console-${window.crypto.randomUUID()}`;
  return `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export class Dispatcher {
  /** events: the console's Events hub (extend.js); 'preview' and 'follow' are emitted on it. */
  constructor(consoleMap, events = null) {
    this.cmap = consoleMap;
    this.events = events;
    this.sent = new Map(); // alert id -> what the form held when it was sent or last updated
    this.canAlert = true;
    this.picker = new TargetPicker(consoleMap, {
      onPreview: (preview) => {
        this.composer.renderParams();
        this.events?.emit('preview', { target: this.picker.target(), preview });
      },
    });
    this.composer = new Composer(this.picker);
    this.confirm = new ConfirmDialog({
      onSend: (draft) => this.send(draft),
      onBack: () => {
        this.picker.locked = false;
        $('btn-send').focus();
      },
    });
    this.sending = false;
    this.restUntil = 0;
    this.unanswered = null; // a confirmed draft whose POST got no answer: resent with its key
    const templateTitle = (id) => this.composer.templateTitle(id);
    const refresh = () => this.refreshHistory();
    this.follower = new Follower({
      cmap: consoleMap,
      templateTitle,
      snapshot: () => this._snapshot(),
      sent: this.sent,
      canAlert: () => this.canAlert,
      canApprove: () => this.approvals.canApprove,
      refresh,
      onFollow: (alert) => {
        this.renderHistory(this.history || []);
        this.events?.emit('follow', { alert });
      },
    });
    this.running = new RunningList({
      follower: this.follower,
      templateTitle,
      canAlert: () => this.canAlert,
      refresh,
    });
    this.approvals = new Approvals({
      follower: this.follower,
      templateTitle,
      sentByMe: (id) => this.sent.has(id),
      refresh,
    });
  }

  /** The followed alert (the browser tests read it). */
  get alert() {
    return this.follower.alert;
  }

  get draw() {
    return this.picker.draw;
  }

  init(data) {
    this.composer.init(data);
    this.picker.init(data);
    this.confirm.init();
    this.follower.init();
    this.approvals.init();
    this.running.init();
    // A key held down repeats: only its first press acts on a button (never a second send).
    document.addEventListener(
      'keydown',
      (e) => {
        if (e.repeat && (e.key === 'Enter' || e.key === ' ') && e.target.closest?.('button, form')) {
          e.preventDefault();
          e.stopPropagation();
        }
      },
      true
    );
    $('btn-area-allclear').addEventListener('click', () => this.submitAreaAllClear());
    $('alert-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.render();
    onLanguageChange(() => this.render());
  }

  render() {
    this.composer.render();
    this.picker.render();
    if (this.follower.alert) this.follower.renderLive();
    this.renderHistory(this.history || []);
  }

  toggleStreet(name) {
    this.picker.toggleStreet(name);
  }

  follow(alert, focus = false) {
    this.follower.follow(alert, focus);
  }

  /** What an update would send: target, hazard, languages and details as the form has them. */
  _snapshot() {
    return {
      target: this.picker.target(),
      template: this.composer.form.template,
      languages: this.composer.orderedLanguages(),
      params: this.composer.params(),
    };
  }

  /** Check what the page can check itself; returns the first field to fix, or null. */
  _check() {
    for (const id of ['err-template', 'err-languages', 'form-error']) $(id).textContent = '';
    let first = null;
    const problem = (errorId, text, focusEl) => {
      $(errorId).textContent = text;
      first = first || focusEl;
    };
    this.composer.check(problem);
    if (!this.picker.target()) problem('err-target', t('err.noTarget'), $('street-input'));
    this.composer.checkDetails(problem);
    return first;
  }

  /** The form's send button: check, then open the one confirmation with a frozen draft. */
  async submit() {
    if (this.sending || this.confirm.isOpen || this.opening || performance.now() < this.restUntil) return;
    this.opening = true;
    try {
      await this._openConfirm(null);
    } finally {
      this.opening = false;
    }
  }

  /** The all-clear for the area chosen in step 2, as its own alert (for a warning that came
   * from elsewhere): the same one confirmation, with the all-clear template. */
  async submitAreaAllClear() {
    const tpl = this.composer.templates.find((x) => x.signal === 'all_clear');
    $('area-allclear-error').textContent = '';
    if (!tpl) return;
    this.composer.chooseTemplate(tpl.id);
    this.composer.renderParams();
    await this.submit();
    if (!this.confirm.isOpen && $('form-error').textContent) {
      $('area-allclear-error').textContent = $('form-error').textContent;
    }
  }

  async _openConfirm(changed) {
    const first = this._check();
    if (first) {
      $('form-error').textContent = t('err.fixAbove');
      first.focus();
      return;
    }
    if (this.picker.previewPending) await this.picker.previewPending;
    if (this.picker.previewError) {
      $('form-error').textContent = t('err.fixTarget');
      $('street-input').focus();
      return;
    }
    const preview = this.picker.preview;
    if (!preview || !this.picker.previewTarget) {
      $('form-error').textContent = t('err.fixTarget');
      return;
    }
    const template = this.composer.form.template;
    const params = this.composer.params();
    const languages = this.composer.orderedLanguages();
    let texts;
    try {
      // The exact words, rendered by the server as the alert will be: what is read is sent.
      texts = await api.renderTemplate(template, { params, languages });
    } catch (error) {
      this._showSendError(error);
      return;
    }
    // Frozen here: the target the preview resolved and its preview_id, the words just shown.
    const body = JSON.parse(
      JSON.stringify({
        target: this.picker.previewTarget,
        template,
        params,
        languages: texts.languages,
        exercise: this.composer.form.exercise,
        preview_id: preview.preview_id,
        ...alertFields(), // what features add (evacuation arrows, issue 18)
      })
    );
    // The same request again after a lost answer keeps its key: the server never sends twice.
    const same = this.unanswered && JSON.stringify(this.unanswered.body) === JSON.stringify(body);
    const draft = {
      body,
      key: same ? this.unanswered.key : newKey(),
      title: this.composer.templateTitle(template),
      preview,
      texts,
      params: Object.entries(params).map(([k, v]) => [this.composer.paramLabel(k), v]),
      exercise: body.exercise,
      changed,
    };
    this.picker.locked = true; // the map shows the confirmed set; clicks change nothing now
    this.cmap.setPreview(preview.lantern_ids);
    this.cmap.showLanterns(preview.lantern_ids);
    this.confirm.open(draft);
  }

  /** Send one confirmed draft, exactly as confirmed. */
  async send(draft) {
    if (this.sending) return;
    this.sending = true;
    const button = $('btn-send');
    button.disabled = true;
    button.textContent = t('send.sending');
    $('form-error').textContent = '';
    let reopen = null;
    let sent = false;
    try {
      const alert = await this._post(draft);
      sent = true;
      this.unanswered = null;
      const { target, template, languages, params } = draft.body;
      this.sent.set(alert.id, { target, template, languages, params });
      this.follower.follow(alert, true);
      this.refreshHistory();
    } catch (error) {
      if (error.status === 0) {
        this.unanswered = draft;
        $('form-error').textContent = t('err.sendUnanswered');
      } else if (error.code === 'target_changed') {
        this.unanswered = null;
        reopen = describeChange(error.problem);
        $('err-target').textContent = reopen;
      } else {
        this.unanswered = null;
        this._showSendError(error);
      }
    } finally {
      this.sending = false;
      // A hammered click that outlasts a send must not open a second warning; after a refusal
      // or a lost answer the dispatcher's next press is meant, and is never swallowed.
      if (sent) this.restUntil = performance.now() + RESEND_REST_MS;
      this.picker.locked = false;
      button.disabled = this.canAlert === false;
      this.composer.renderSend();
    }
    if (reopen) {
      // The set changed under the dispatcher: show the new one and ask again.
      await this.picker.refreshPreview();
      await this._openConfirm(reopen);
    }
  }

  async _post(draft) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await api.createAlert(draft.body, draft.key);
      } catch (error) {
        if (error.status !== 0 || attempt >= NETWORK_RETRIES_MS.length) throw error;
        await new Promise((resolve) => setTimeout(resolve, NETWORK_RETRIES_MS[attempt]));
      }
    }
  }

  _showSendError(error) {
    if (error.status !== 422) {
      $('form-error').textContent = explainApiError(error);
      return;
    }
    let focus = null;
    const rest = [];
    for (const problem of error.errors.length ? error.errors : [{ loc: [], msg: error.message }]) {
      const loc = problem.loc || [];
      if (loc[0] === 'target') {
        $('err-target').textContent = explainTarget(new ApiError(422, { errors: [problem] })).text;
        focus = focus || $('street-input');
      } else if (loc[0] === 'params' && loc[1] && $(`param-${loc[1]}`)) {
        $(`err-param-${loc[1]}`).textContent = t('err.paramMissing');
        focus = focus || $(`param-${loc[1]}`);
      } else if (loc[0] === 'languages' || loc[0] === 'messages') {
        $('err-languages').textContent = t('err.languageRefused', { detail: problem.msg });
        focus = focus || $('languages').querySelector('input');
      } else {
        rest.push(problem.msg);
      }
    }
    $('form-error').textContent = rest.length
      ? t('err.sendRefused', { detail: rest.join('; ') })
      : t('err.fixAbove');
    (focus || $('btn-send')).focus();
  }

  /** Whoever may not alert (viewer, operator, city app) watches but cannot send; what the caller
   * may do comes from the API (me.capabilities, from its permissions table). */
  setAccess(me) {
    const caps = me && Array.isArray(me.capabilities) ? me.capabilities : null;
    const may = !caps || caps.includes('alert');
    this.approvals.canApprove = !caps || caps.includes('approve');
    this.canAlert = may;
    $('btn-send').disabled = !may;
    $('form-error').textContent = may ? '' : t('err.noAlertRole');
  }

  async refreshHistory() {
    try {
      [this.history] = await Promise.all([api.alerts(15), this.running.refresh()]);
      this.renderHistory(this.history);
    } catch {
      // keep the list shown; the next refresh tries again
    }
  }

  renderHistory(list) {
    this.approvals.render(list);
    this.follower.renderHistory(list);
    if (this.running.loaded) this.running.render();
  }
}

/** A 409 target_changed in the dispatcher's words: counts, and what changed on which street. */
export function describeChange(problem) {
  const streets = (problem.streets || []).map((s) => {
    const parts = [];
    if (s.added) parts.push(`+${s.added}`);
    if (s.removed) parts.push(`−${s.removed}`);
    return `${s.name || t('preview.noStreetName')} ${parts.join(' ')}`;
  });
  if (problem.confirmed_count == null) return t('err.previewUnknown', { now: problem.lantern_count });
  return t('err.targetChanged', {
    confirmed: problem.confirmed_count,
    now: problem.lantern_count,
    changes: streets.join(', ') || '–',
  });
}
