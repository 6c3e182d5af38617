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
import { Follower } from './follow.js';
import { onLanguageChange, t } from './i18n.js';
import { TargetPicker } from './target.js';

export { explainApiError, explainTarget } from './explain.js';

const $ = (id) => document.getElementById(id);

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
      onSend: () => this.send(),
      onBack: () => $('btn-send').focus(),
    });
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

  async submit() {
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
    this.confirm.open({
      title: this.composer.templateTitle(this.composer.form.template),
      preview: this.picker.preview,
      languages: this.composer.orderedLanguages(),
      params: Object.entries(this.composer.params()).map(([k, v]) => [this.composer.paramLabel(k), v]),
      exercise: this.composer.form.exercise,
    });
  }

  async send() {
    const body = {
      target: this.picker.target(),
      template: this.composer.form.template,
      params: this.composer.params(),
      languages: this.composer.orderedLanguages(),
      exercise: this.composer.form.exercise,
    };
    const button = $('btn-send');
    button.disabled = true;
    button.textContent = t('send.sending');
    try {
      const alert = await api.createAlert(body);
      this.sent.set(alert.id, this._snapshot());
      this.follower.follow(alert, true);
      this.refreshHistory();
    } catch (error) {
      this._showSendError(error);
    } finally {
      button.disabled = this.canAlert === false;
      this.composer.renderSend();
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

  /** Roles without the right to alert (viewer, operator, city app) watch but cannot send. */
  setRoles(roles) {
    const may = !roles || roles.some((r) => ['admin', 'dispatcher', 'feed'].includes(r));
    this.approvals.canApprove = !roles || roles.some((r) => ['admin', 'dispatcher'].includes(r));
    this.canAlert = may;
    $('btn-send').disabled = !may;
    $('form-error').textContent = may ? '' : t('err.noAlertRole');
  }

  async refreshHistory() {
    try {
      this.history = await api.alerts(15);
      this.renderHistory(this.history);
    } catch {
      // keep the list shown; the next refresh tries again
    }
  }

  renderHistory(list) {
    this.approvals.render(list);
    this.follower.renderHistory(list);
  }
}
