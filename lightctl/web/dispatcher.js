// The dispatcher's flow: hazard → where → preview → languages and details → send (one
// confirmation) → live progress with update, cancel and all-clear. Nothing the user entered is
// thrown away when the API refuses: the refusal is explained next to the step it concerns.

import { api, ApiError, followAlertEvents } from './api.js';
import { DrawTool } from './draw.js';
import { getLang, languageName, onLanguageChange, t } from './i18n.js';
import { escapeHtml, streetKey } from './map.js';

const $ = (id) => document.getElementById(id);

const PREVIEW_DELAY_MS = 200; // coalesce quick clicks on several streets into one preview
const DELIVERY_REFRESH_MS = 1000; // per-lantern states at most this often while events stream in
const ANNOUNCE_EVERY_MS = 5000; // screen readers hear the progress this often, not every event
// Statuses in which the alert can still change (a held one waits for a second dispatcher).
const ACTIVE = new Set(['sending', 'completed', 'awaiting_approval']);
const SEVERITY_COLORS = { extreme: '#7f1d1d', severe: '#dc2626', moderate: '#d97706', minor: '#15803d' };

export class Dispatcher {
  constructor(consoleMap) {
    this.cmap = consoleMap;
    this.templates = [];
    this.groups = [];
    this.form = {
      template: null,
      streets: [],
      groups: [],
      area: null,
      circle: null,
      repair: false,
      confirmLarge: false,
      languages: new Set(),
      params: {},
      edited: new Set(),
      exercise: false,
    };
    this.preview = null;
    this.previewError = null;
    this.previewSeq = 0;
    this.previewPending = null;
    this.alert = null;
    this.stream = null;
    this.lastAnnounce = 0;
    this.sent = new Map(); // alert id -> what the form held when it was sent or last updated
    this.draw = new DrawTool(consoleMap, {
      onDone: (kind, shape) => this._drawn(kind, shape),
      onCancel: () => this._drawEnded(),
      onStatus: (text) => {
        $('draw-text').textContent = text;
      },
    });
  }

  // ---- set-up ---------------------------------------------------------------------------------

  init({ templates, groups, streets }) {
    this.templates = templates;
    this.groups = groups;
    $('street-list').innerHTML = streets
      .map((s) => `<option value="${escapeHtml(s.name)}">${escapeHtml(s.name)} (${s.lantern_count})</option>`)
      .join('');
    this._bind();
    this.render();
    onLanguageChange(() => this.render());
  }

  _bind() {
    $('alert-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    $('templates').addEventListener('change', (e) => {
      if (e.target.name === 'template') this.chooseTemplate(e.target.value);
    });
    $('languages').addEventListener('change', (e) => {
      if (e.target.type !== 'checkbox') return;
      if (e.target.checked) this.form.languages.add(e.target.value);
      else this.form.languages.delete(e.target.value);
      $('err-languages').textContent = '';
    });
    $('params').addEventListener('input', (e) => {
      const name = e.target.dataset.param;
      if (!name) return;
      this.form.params[name] = e.target.value;
      this.form.edited.add(name);
      $(`hint-param-${name}`).textContent = '';
      e.target.classList.remove('example', 'invalid');
      e.target.removeAttribute('aria-invalid');
      $(`err-param-${name}`).textContent = '';
    });
    $('exercise').addEventListener('change', (e) => {
      this.form.exercise = e.target.checked;
      this._renderSend();
    });
    $('street-add').addEventListener('click', () => this._addTypedStreet());
    $('street-input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this._addTypedStreet();
      }
    });
    $('group-add').addEventListener('click', () => {
      const name = $('group-select').value;
      if (name && !this.form.groups.includes(name)) {
        this.form.groups.push(name);
        this.targetChanged();
      }
    });
    $('tool-polygon').addEventListener('click', () => this._startDraw('polygon'));
    $('tool-circle').addEventListener('click', () => this._startDraw('circle'));
    $('draw-undo').addEventListener('click', () => this.draw.undo());
    $('draw-finish').addEventListener('click', () => this.draw.finish());
    $('draw-cancel').addEventListener('click', () => this.draw.cancel());
    $('btn-repair').addEventListener('click', () => {
      this.form.repair = true;
      this.targetChanged();
    });
    $('btn-redraw').addEventListener('click', () => {
      this.form.area = null;
      this._startDraw('polygon');
    });
    $('target-chips').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-remove]');
      if (!button) return;
      this._remove(button.dataset.remove, button.dataset.value);
    });
    $('target-chips').addEventListener('change', (e) => {
      if (e.target.id === 'circle-radius' && this.form.circle) {
        const radius = Number(e.target.value);
        if (radius > 0) {
          this.form.circle = { ...this.form.circle, radius_m: radius };
          this.targetChanged();
        }
      }
    });
    $('confirm').addEventListener('close', () => {
      if ($('confirm').returnValue === 'send') this.send();
      else $('btn-send').focus();
    });
    $('btn-approve').addEventListener('click', () => this.approve(this.alert?.id));
    $('approval-list').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-approve], button[data-reject], button[data-follow]');
      if (!button) return;
      if (button.dataset.approve) this.approve(button.dataset.approve);
      else if (button.dataset.reject) this.reject(button.dataset.reject);
      else this.followId(button.dataset.follow);
    });
    $('btn-update').addEventListener('click', () => this.updateAlert());
    $('btn-cancel').addEventListener('click', () => this.act('cancel'));
    $('btn-allclear').addEventListener('click', () => this.act('allclear'));
    $('btn-close-live').addEventListener('click', () => this.unfollow());
    $('alert-list').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-follow]');
      if (button) this.followId(button.dataset.follow);
    });
  }

  render() {
    this._renderTemplates();
    this._renderGroups();
    this._renderChips();
    this._renderPreview();
    this._renderText();
    this._renderSend();
    if (this.alert) this._renderLive();
    this.renderHistory(this.history || []);
  }

  // ---- step 1: hazard -------------------------------------------------------------------------

  templateTitle(id) {
    const tpl = this.templates.find((x) => x.id === id);
    if (!tpl) return id || t('live.freeText');
    return tpl.title[getLang()] || tpl.title.en || tpl.id;
  }

  chooseTemplate(id) {
    const tpl = this.templates.find((x) => x.id === id);
    if (!tpl) return;
    this.form.template = id;
    this.form.languages = new Set(tpl.default_languages);
    $('err-template').textContent = '';
    // The radios already show the choice; re-rendering them would lose the keyboard focus.
    this._renderText();
  }

  _renderTemplates() {
    $('templates').innerHTML = this.templates
      .map((tpl) => {
        const checked = tpl.id === this.form.template ? ' checked' : '';
        const color = SEVERITY_COLORS[tpl.severity] || '#334155';
        return `<label class="template" for="tpl-${tpl.id}" style="--sev:${color}">
          <input type="radio" name="template" id="tpl-${tpl.id}" value="${tpl.id}"${checked}>
          <span class="template-title">${escapeHtml(tpl.title[getLang()] || tpl.title.en || tpl.id)}</span>
          <span class="template-sev">${escapeHtml(t(`severity.${tpl.severity}`))}</span>
        </label>`;
      })
      .join('');
  }

  // ---- step 2: where --------------------------------------------------------------------------

  /** A click on a named street on the map: add it, or remove it when it is already chosen. */
  toggleStreet(name) {
    const key = streetKey(name);
    const at = this.form.streets.findIndex((s) => streetKey(s) === key);
    if (at >= 0) this.form.streets.splice(at, 1);
    else this.form.streets.push(name);
    this.targetChanged();
  }

  _addTypedStreet() {
    const typed = $('street-input').value.trim();
    if (!typed) return;
    const known = [...$('street-list').options].map((o) => o.value);
    const name = known.find((n) => streetKey(n) === streetKey(typed)) || typed;
    if (!this.form.streets.some((s) => streetKey(s) === streetKey(name))) this.form.streets.push(name);
    $('street-input').value = '';
    this.targetChanged();
  }

  _remove(kind, value) {
    if (kind === 'street') this.form.streets = this.form.streets.filter((s) => s !== value);
    if (kind === 'group') this.form.groups = this.form.groups.filter((g) => g !== value);
    if (kind === 'area') {
      this.form.area = null;
      this.form.repair = false;
    }
    if (kind === 'circle') this.form.circle = null;
    this.targetChanged();
    $('street-input').focus();
  }

  _startDraw(kind) {
    $('tool-polygon').setAttribute('aria-pressed', String(kind === 'polygon'));
    $('tool-circle').setAttribute('aria-pressed', String(kind === 'circle'));
    $('draw-help').hidden = false;
    $('draw-undo').hidden = false;
    this.draw.start(kind);
    this.cmap.map.getContainer().focus();
  }

  _drawn(kind, shape) {
    if (kind === 'polygon') {
      this.form.area = shape;
      this.form.repair = false;
    } else {
      this.form.circle = shape;
    }
    this._drawEnded();
    this.targetChanged();
  }

  _drawEnded() {
    $('tool-polygon').setAttribute('aria-pressed', 'false');
    $('tool-circle').setAttribute('aria-pressed', 'false');
    $('draw-help').hidden = true;
    $('draw-text').textContent = '';
  }

  /** The Target as the API takes it, or null when nothing is chosen. */
  target() {
    const f = this.form;
    const target = {};
    if (f.streets.length) target.streets = [...f.streets];
    if (f.groups.length) target.groups = [...f.groups];
    if (f.area) target.area = f.area;
    if (f.circle) target.circle = f.circle;
    if (!Object.keys(target).length) return null;
    if (f.repair && f.area) target.repair = true;
    if (f.confirmLarge) target.confirm_large = true;
    return target;
  }

  targetChanged() {
    this.form.confirmLarge = false;
    $('err-target').textContent = '';
    $('form-error').textContent = '';
    this.cmap.setSelectedStreets(this.form.streets);
    this._renderChips();
    this.schedulePreview();
  }

  _renderGroups() {
    const select = $('group-select');
    const options = this.groups.map(
      (g) => `<option value="${escapeHtml(g.name)}">${escapeHtml(g.name)}${g.lantern_count != null ? ` (${g.lantern_count})` : ''}</option>`
    );
    select.innerHTML = options.length ? options.join('') : `<option value="">${escapeHtml(t('target.noGroups'))}</option>`;
    select.disabled = !options.length;
    $('group-add').disabled = !options.length;
  }

  _renderChips() {
    const f = this.form;
    const chip = (kind, value, label, extra = '') =>
      `<li class="chip chip-${kind}"><span>${label}</span>${extra}<button type="button" class="chip-x" data-remove="${kind}" data-value="${escapeHtml(value)}" aria-label="${escapeHtml(t('target.remove', { what: value }))}">×</button></li>`;
    const items = [
      ...f.streets.map((s) => chip('street', s, `${escapeHtml(t('chip.street'))}: <strong>${escapeHtml(s)}</strong>`)),
      ...f.groups.map((g) => chip('group', g, `${escapeHtml(t('chip.group'))}: <strong>${escapeHtml(g)}</strong>`)),
    ];
    if (f.area) {
      const corners = f.area.coordinates[0].length - 1;
      items.push(chip('area', t('chip.area'), `${escapeHtml(t('chip.areaCorners', { n: corners }))}${f.repair ? ` · ${escapeHtml(t('chip.repaired'))}` : ''}`));
    }
    if (f.circle) {
      const radius = `<label class="inline" for="circle-radius">${escapeHtml(t('chip.radius'))}</label><input id="circle-radius" type="number" min="1" max="50000" step="10" value="${f.circle.radius_m}">`;
      items.push(chip('circle', t('chip.circle'), escapeHtml(t('chip.circle')), radius));
    }
    const focused = document.activeElement && document.activeElement.id;
    $('target-chips').innerHTML = items.join('');
    if (focused === 'circle-radius' && $('circle-radius')) $('circle-radius').focus();
    this.cmap.setShapes({ area: f.area, circle: f.circle, invalid: this._areaInvalid() });
  }

  _areaInvalid() {
    return Boolean(this.previewError && this.previewError.errors.some((e) => (e.loc || []).includes('area')));
  }

  schedulePreview() {
    clearTimeout(this.previewTimer);
    this.previewSeq += 1;
    const seq = this.previewSeq;
    this.previewPending = new Promise((resolve) => {
      this.previewTimer = setTimeout(() => this._runPreview(seq).finally(resolve), PREVIEW_DELAY_MS);
    });
  }

  async _runPreview(seq) {
    const target = this.target();
    this.previewAbort?.abort();
    if (!target) {
      this.preview = null;
      this.previewError = null;
      this._previewDone();
      return;
    }
    this.previewAbort = new AbortController();
    $('preview').classList.add('loading');
    try {
      const preview = await api.preview(target, { signal: this.previewAbort.signal });
      if (seq !== this.previewSeq) return;
      this.preview = preview;
      this.previewError = null;
    } catch (error) {
      if (error.name === 'AbortError' || seq !== this.previewSeq) return;
      this.preview = null;
      this.previewError = error;
    }
    this._previewDone();
  }

  _previewDone() {
    $('preview').classList.remove('loading');
    this.cmap.setPreview(this.preview ? this.preview.lantern_ids : null);
    this._renderChips();
    this._renderPreview();
    this._renderParams();
  }

  _renderPreview() {
    const p = this.preview;
    $('preview-grid').hidden = !p;
    $('preview-empty').hidden = Boolean(p);
    $('target-fixes').hidden = true;
    if (this.previewError) {
      const { text, fix } = explainTarget(this.previewError);
      $('err-target').textContent = text;
      $('target-fixes').hidden = !fix;
      $('btn-repair').hidden = fix !== 'repair';
      $('btn-redraw').hidden = fix !== 'repair';
      $('preview-empty').textContent = t('preview.none');
    } else {
      $('err-target').textContent = '';
      $('preview-empty').textContent = t('preview.empty');
    }
    if (!p) {
      $('preview-streets').textContent = '';
      return;
    }
    const speakers = p.capabilities.speaker || 0;
    $('preview-count').textContent = p.lantern_count;
    $('preview-nospeaker').textContent = p.lantern_count - speakers;
    $('preview-offline').textContent = p.offline_count;
    $('preview-unknown').textContent = p.availability_unknown_count;
    markNonZero('preview-nospeaker', p.lantern_count - speakers);
    markNonZero('preview-offline', p.offline_count);
    const shown = p.streets.slice(0, 8).map((s) => `${s.name} (${s.lantern_count})`);
    const more = p.streets.length - shown.length;
    let text = p.streets.length ? `${t('preview.streets')}: ${shown.join(', ')}` : t('preview.noStreets');
    if (more > 0) text += ` ${t('preview.more', { n: more })}`;
    if (p.without_street_count) text += ` · ${t('preview.withoutStreet', { n: p.without_street_count })}`;
    $('preview-streets').textContent = text;
  }

  // ---- step 3: languages and details ---------------------------------------------------------

  _template() {
    return this.templates.find((x) => x.id === this.form.template) || null;
  }

  _renderText() {
    const tpl = this._template();
    $('text-empty').hidden = Boolean(tpl);
    $('languages-box').hidden = !tpl;
    if (!tpl) {
      $('languages').innerHTML = '';
      $('params').innerHTML = '';
      return;
    }
    $('languages').innerHTML = tpl.languages
      .map((code) => {
        const checked = this.form.languages.has(code) ? ' checked' : '';
        return `<label class="check" for="lang-${code}"><input type="checkbox" id="lang-${code}" value="${code}"${checked}> <span lang="${code}">${escapeHtml(languageName(code))}</span> <span class="code">${code}</span></label>`;
      })
      .join('');
    this._renderParams(true);
  }

  /** Street placeholders follow the target until the user types; others start at the example. */
  _suggested(name, placeholder) {
    if (name === 'street') {
      if (this.form.streets.length) return { value: this.form.streets.join(', '), from: 'target' };
      if (this.preview && this.preview.streets.length) {
        return { value: this.preview.streets.slice(0, 2).map((s) => s.name).join(', '), from: 'target' };
      }
    }
    return { value: placeholder.example, from: 'example' };
  }

  _renderParams(rebuild = false) {
    const tpl = this._template();
    const box = $('params');
    if (!tpl) return;
    if (rebuild || box.dataset.template !== tpl.id || box.dataset.lang !== getLang()) {
      box.dataset.template = tpl.id;
      box.dataset.lang = getLang();
      box.innerHTML = tpl.placeholders
        .map((p) => {
          const label = p.description[getLang()] || p.description.en || p.name;
          return `<div class="field">
            <label for="param-${p.name}">${escapeHtml(label)}</label>
            <input id="param-${p.name}" data-param="${p.name}" autocomplete="off" aria-describedby="hint-param-${p.name} err-param-${p.name}">
            <p class="hint" id="hint-param-${p.name}"></p>
            <p class="error" id="err-param-${p.name}" role="alert"></p>
          </div>`;
        })
        .join('');
    }
    for (const p of tpl.placeholders) {
      const input = $(`param-${p.name}`);
      if (this.form.edited.has(p.name)) {
        input.value = this.form.params[p.name] ?? '';
        continue;
      }
      const { value, from } = this._suggested(p.name, p);
      this.form.params[p.name] = value;
      input.value = value;
      input.classList.toggle('example', from === 'example');
      $(`hint-param-${p.name}`).textContent = from === 'example' ? t('param.example') : t('param.fromTarget');
    }
  }

  _renderSend() {
    const exercise = this.form.exercise;
    $('exercise').checked = exercise;
    $('btn-send').textContent = exercise ? t('send.buttonExercise') : t('send.button');
    $('btn-send').classList.toggle('exercise', exercise);
    document.body.classList.toggle('exercise-mode', exercise);
  }

  // ---- sending --------------------------------------------------------------------------------

  _orderedLanguages() {
    const tpl = this._template();
    return tpl ? tpl.languages.filter((code) => this.form.languages.has(code)) : [];
  }

  _params() {
    const tpl = this._template();
    const out = {};
    for (const p of tpl ? tpl.placeholders : []) out[p.name] = (this.form.params[p.name] || '').trim();
    return out;
  }

  /** Check what the page can check itself; returns the first field to fix, or null. */
  _check() {
    for (const id of ['err-template', 'err-languages', 'form-error']) $(id).textContent = '';
    let first = null;
    const problem = (errorId, text, focusEl) => {
      $(errorId).textContent = text;
      first = first || focusEl;
    };
    const tpl = this._template();
    if (!tpl) problem('err-template', t('err.noTemplate'), $('templates').querySelector('input'));
    if (!this.target()) problem('err-target', t('err.noTarget'), $('street-input'));
    if (tpl && !this.form.languages.size) problem('err-languages', t('err.noLanguage'), $('languages').querySelector('input'));
    if (tpl) {
      for (const p of tpl.placeholders) {
        const input = $(`param-${p.name}`);
        if (!(this.form.params[p.name] || '').trim()) {
          input.classList.add('invalid');
          input.setAttribute('aria-invalid', 'true');
          problem(`err-param-${p.name}`, t('err.paramMissing'), input);
        }
      }
    }
    return first;
  }

  async submit() {
    const first = this._check();
    if (first) {
      $('form-error').textContent = t('err.fixAbove');
      first.focus();
      return;
    }
    if (this.previewPending) await this.previewPending;
    if (this.previewError) {
      $('form-error').textContent = t('err.fixTarget');
      $('street-input').focus();
      return;
    }
    this._fillConfirm();
    $('confirm').returnValue = '';
    $('confirm').showModal();
  }

  _fillConfirm() {
    const p = this.preview;
    const rows = [
      [t('confirm.hazard'), this.templateTitle(this.form.template)],
      [t('confirm.lanterns'), p ? String(p.lantern_count) : '?'],
      [t('confirm.streets'), p && p.streets.length ? p.streets.slice(0, 5).map((s) => s.name).join(', ') + (p.streets.length > 5 ? ` ${t('preview.more', { n: p.streets.length - 5 })}` : '') : '–'],
      [t('confirm.languages'), this._orderedLanguages().map(languageName).join(', ')],
      ...Object.entries(this._params()).map(([k, v]) => [this._paramLabel(k), v]),
    ];
    if (p && p.offline_count) rows.push([t('preview.offline'), String(p.offline_count)]);
    $('confirm-summary').innerHTML = rows
      .map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`)
      .join('');
    $('confirm-exercise').hidden = !this.form.exercise;
    $('confirm-send').textContent = this.form.exercise ? t('confirm.sendExercise') : t('confirm.send');
    $('confirm').classList.toggle('exercise', this.form.exercise);
  }

  _paramLabel(name) {
    const tpl = this._template();
    const p = tpl && tpl.placeholders.find((x) => x.name === name);
    return p ? p.description[getLang()] || p.description.en || name : name;
  }

  async send() {
    const body = {
      target: this.target(),
      template: this.form.template,
      params: this._params(),
      languages: this._orderedLanguages(),
      exercise: this.form.exercise,
    };
    const button = $('btn-send');
    button.disabled = true;
    button.textContent = t('send.sending');
    try {
      const alert = await api.createAlert(body);
      this.sent.set(alert.id, this._snapshot());
      this.follow(alert, true);
      this.refreshHistory();
    } catch (error) {
      this._showSendError(error);
    } finally {
      button.disabled = this.canAlert === false;
      this._renderSend();
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

  // ---- the running alert ---------------------------------------------------------------------

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
    this.deliveryReasons = {};
    this.cmap.setDelivery(this.deliveries);
    this._renderLive();
    $('live').hidden = false;
    if (focus) {
      $('live').focus();
      $('live').scrollIntoView({ block: 'start' });
    }
    // The stream's first event names every lantern's state, later ones only the changes.
    this._startStream();
  }

  unfollow() {
    this._stopStream();
    this.alert = null;
    $('live').hidden = true;
    this.cmap.setDelivery(null);
    $('btn-send').focus();
  }

  _startStream() {
    const controller = new AbortController();
    this.stream = controller;
    const id = this.alert.id;
    let perLantern = false; // the server's events carry the lanterns whose delivery changed
    followAlertEvents(
      id,
      (alert) => {
        if (this.alert?.id !== id) return;
        if (Array.isArray(alert.lanterns)) {
          perLantern = true;
          for (const d of alert.lanterns) {
            this.deliveries.set(d.lantern, d.state);
            if (d.reason && (d.state === 'failed' || d.state === 'rejected')) this.deliveryReasons[d.lantern] = d.reason;
          }
          this._showDeliveries(id);
        } else {
          this._scheduleDeliveries(); // a server whose events carry counts only: fetch the states
        }
        this.alert = { ...alert, lanterns: null };
        this._renderLive();
      },
      controller.signal
    )
      .catch(() => this._pollUntilFinished(id, controller))
      .finally(() => {
        if (this.alert?.id === id && !controller.signal.aborted && !perLantern) this._loadDeliveries();
      });
  }

  _showDeliveries(id) {
    this.cmap.setDelivery(this.deliveries);
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
        this._renderLive();
        await this._loadDeliveries();
        if (this.alert.status !== 'sending') return;
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
      for (const [state, ids] of Object.entries(grouped.states)) {
        for (const lantern of ids) this.deliveries.set(lantern, state);
      }
      this.deliveryReasons = grouped.reasons;
      this._showDeliveries(id);
      this.alert = { ...full, lanterns: null };
      this._renderLive();
    } catch {
      // The next event or poll tries again; the counts above stay as they were.
    }
  }

  _renderLive() {
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
    for (const [k, v] of Object.entries(shown)) $(`count-${k}`).textContent = v;
    const finished = total - sum('held', 'planned', 'published', 'received', 'playing');
    $('live-bar').style.width = total ? `${(100 * finished) / total}%` : '0%';
    $('live').classList.toggle('exercise', a.exercise);
    $('live-exercise').hidden = !a.exercise;
    const status = $('live-status');
    status.textContent = t(`status.${a.status}`);
    status.className = `badge status-${a.status}`;
    $('live-summary').textContent = [
      this.templateTitle(a.template),
      describeTarget(a.target),
      t('live.lanterns', { n: a.lantern_count }),
      (a.languages || []).join(', '),
      formatTime(a.created_at),
    ].join(' · ');
    const other = Object.entries(c)
      .filter(([k, v]) => v && !['received', 'playing', 'done', 'applied', 'failed', 'unreachable'].includes(k))
      .map(([k, v]) => `${t(`state.${k}`)} ${v}`);
    $('live-other').textContent = [t('live.doneOf', { done: shown.done, total }), ...other].join(' · ');
    const active = ACTIVE.has(a.status);
    const held = a.status === 'awaiting_approval';
    for (const id of ['btn-update', 'btn-cancel', 'btn-allclear']) $(id).disabled = !active || this.canAlert === false;
    // A held alert has played nothing: it can be approved or dropped, not given an all-clear.
    $('btn-allclear').disabled = $('btn-allclear').disabled || held;
    $('live-held').hidden = !held;
    $('btn-approve').hidden = !held || this.sent.has(a.id);
    $('btn-approve').disabled = this.canApprove === false;
    this._announce(a, shown, total);
  }

  _announce(a, shown, total) {
    const now = Date.now();
    const key = `${a.id}|${a.status}`;
    if (key === this.announcedKey && now - this.lastAnnounce < ANNOUNCE_EVERY_MS) return;
    this.announcedKey = key;
    this.lastAnnounce = now;
    $('live-announce').textContent = t('live.announce', {
      status: t(`status.${a.status}`),
      done: shown.done,
      total,
      failed: shown.failed + shown.unreachable,
    });
  }

  async act(action) {
    const a = this.alert;
    if (!a) return;
    $('live-error').textContent = '';
    try {
      const result = action === 'cancel' ? await api.cancelAlert(a.id) : await api.allClear(a.id, {});
      this.follow(result);
      this.refreshHistory();
    } catch (error) {
      this._showLiveError(error);
    }
  }

  /** What an update would send: target, hazard, languages and details as the form has them. */
  _snapshot() {
    return {
      target: this.target(),
      template: this.form.template,
      languages: this._orderedLanguages(),
      params: this._params(),
    };
  }

  async updateAlert() {
    const a = this.alert;
    if (!a) return;
    $('live-error').textContent = '';
    const now = this._snapshot();
    // Compare with what this page sent; for an alert sent elsewhere, with what the alert reports.
    const before = this.sent.get(a.id) || {
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
      this.sent.set(a.id, now);
      this.follow(updated);
      this.refreshHistory();
    } catch (error) {
      this._showLiveError(error);
    }
  }

  _showLiveError(error) {
    const onTarget = error.status === 422 && error.errors.some((e) => (e.loc || [])[0] === 'target');
    $('live-error').textContent = onTarget ? explainTarget(error).text : explainApiError(error);
  }

  // ---- four-eyes approval ---------------------------------------------------------------------

  /** A second dispatcher releases a held alert; the one who asked for it is refused by the API. */
  async approve(id) {
    if (!id) return;
    $('approval-error').textContent = '';
    $('live-error').textContent = '';
    try {
      const alert = await api.approveAlert(id);
      this.follow(alert, true);
      this.refreshHistory();
    } catch (error) {
      const text = explainApproval(error);
      if (this.alert?.id === id) $('live-error').textContent = text;
      else $('approval-error').textContent = text;
      this.refreshHistory();
    }
  }

  /** Drop a held alert: nothing was ever sent. */
  async reject(id) {
    $('approval-error').textContent = '';
    try {
      await api.cancelAlert(id);
      this.refreshHistory();
    } catch (error) {
      $('approval-error').textContent = explainApproval(error);
    }
  }

  _renderApprovals(list) {
    const pending = list.filter((a) => a.status === 'awaiting_approval');
    $('approvals').hidden = pending.length === 0;
    $('approval-list').innerHTML = pending
      .map((a) => {
        const title = this.templateTitle(a.template);
        const mine = this.sent.has(a.id);
        const exercise = a.exercise ? ` <span class="badge exercise">${escapeHtml(t('exercise.badge'))}</span>` : '';
        const approve = mine
          ? `<p class="muted">${escapeHtml(t('approvals.yours'))}</p>`
          : `<button type="button" class="primary" data-approve="${escapeHtml(a.id)}"${this.canApprove === false ? ' disabled' : ''} aria-label="${escapeHtml(t('approvals.approveLabel', { title }))}">${escapeHtml(t('approvals.approve'))}</button>`;
        return `<li class="alert-row approval-row${a.exercise ? ' exercise' : ''}" data-alert="${escapeHtml(a.id)}">
          <div class="alert-main">
            <strong>${escapeHtml(title)}</strong>${exercise}
            <div class="muted">${escapeHtml(formatTime(a.created_at))} · ${escapeHtml(describeTarget(a.target))} · ${escapeHtml(t('live.lanterns', { n: a.lantern_count }))} · ${escapeHtml((a.languages || []).join(', '))}</div>
          </div>
          <div class="approval-actions">
            ${approve}
            <button type="button" data-follow="${escapeHtml(a.id)}">${escapeHtml(t('history.show'))}</button>
            <button type="button" class="quiet" data-reject="${escapeHtml(a.id)}"${this.canApprove === false ? ' disabled' : ''}>${escapeHtml(t('approvals.reject'))}</button>
          </div>
        </li>`;
      })
      .join('');
  }

  /** Roles without the right to alert (viewer, operator, city app) watch but cannot send. */
  setRoles(roles) {
    const may = !roles || roles.some((r) => ['admin', 'dispatcher', 'feed'].includes(r));
    this.canApprove = !roles || roles.some((r) => ['admin', 'dispatcher'].includes(r));
    this.canAlert = may;
    $('btn-send').disabled = !may;
    $('form-error').textContent = may ? '' : t('err.noAlertRole');
  }

  // ---- history --------------------------------------------------------------------------------

  async refreshHistory() {
    try {
      this.history = await api.alerts(15);
      this.renderHistory(this.history);
    } catch {
      // keep the list shown; the next refresh tries again
    }
  }

  renderHistory(list) {
    this._renderApprovals(list);
    const items = list.map((a) => {
      const exercise = a.exercise ? `<span class="badge exercise">${escapeHtml(t('exercise.badge'))}</span>` : '';
      const current = this.alert && this.alert.id === a.id ? ' aria-current="true"' : '';
      return `<li class="alert-row${a.exercise ? ' exercise' : ''}"${current}>
        <div class="alert-main">
          <strong>${escapeHtml(this.templateTitle(a.template))}</strong> ${exercise}
          <span class="badge status-${a.status}">${escapeHtml(t(`status.${a.status}`))}</span>
          <div class="muted">${escapeHtml(formatTime(a.created_at))} · ${escapeHtml(describeTarget(a.target))} · ${escapeHtml(t('live.lanterns', { n: a.lantern_count }))}</div>
        </div>
        <button type="button" data-follow="${escapeHtml(a.id)}" aria-label="${escapeHtml(t('history.showLabel', { title: this.templateTitle(a.template), time: formatTime(a.created_at) }))}">${escapeHtml(t('history.show'))}</button>
      </li>`;
    });
    $('alert-list').innerHTML = items.length ? items.join('') : `<li class="muted">${escapeHtml(t('history.empty'))}</li>`;
  }
}

// ---- helpers ------------------------------------------------------------------------------------

/** Any refusal that is not about one field, in plain words. */
export function explainApiError(error) {
  if (error.status === 0) return t('err.network');
  if (error.status === 401) return t('err.signedOut');
  if (error.status === 403) return t('err.forbidden', { detail: error.message });
  if (error.status === 429) return t('err.rateLimited');
  if (error.status === 409) {
    return t('err.ended', { status: t(`status.${(error.problem && error.problem.state) || 'ended'}`) });
  }
  return t('err.generic', { detail: error.message });
}

/** Why an approval (or dropping a held alert) was refused, in plain words. */
function explainApproval(error) {
  if (error.status === 403 && /second person/i.test(error.message)) return t('approvals.notYourself');
  if (error.status === 409) return t('approvals.decided', { detail: error.message });
  if (error.status === 404) return t('approvals.gone');
  return explainApiError(error);
}

/** A target refusal in plain words, and which fix the page can offer. */
export function explainTarget(error) {
  if (error.status === 0) return { text: t('err.network'), fix: null };
  const problems = error.errors && error.errors.length ? error.errors : [{ loc: [], msg: error.message }];
  let fix = null;
  const texts = problems.map((p) => {
    const msg = p.msg || '';
    if (/self-intersection|invalid polygon|ring self|too few points/i.test(msg)) {
      fix = 'repair';
      return t('err.selfIntersect');
    }
    if (/no surface left/i.test(msg)) return t('err.noSurface');
    if (/no lanterns in target/i.test(msg)) return t('err.noLanterns');
    if (/target is empty/i.test(msg)) return t('err.noTarget');
    if (/no lantern stands on a street/i.test(msg)) {
      const hint = p.suggestions && p.suggestions.length ? ` ${t('err.didYouMean', { names: p.suggestions.join(', ') })}` : '';
      return t('err.unknownStreet', { name: p.value ?? '' }) + hint;
    }
    if (/unknown group/i.test(msg)) return t('err.unknownGroup', { name: p.value ?? '' });
    if (/more than the ceiling/i.test(msg)) return t('err.tooLarge', { n: p.value ?? '' });
    return t('err.generic', { detail: msg });
  });
  return { text: [...new Set(texts)].join(' '), fix };
}

function describeTarget(target) {
  if (!target) return '';
  const parts = [];
  if (target.streets && target.streets.length) parts.push(target.streets.join(', '));
  if (target.groups && target.groups.length) parts.push(`${t('chip.group')} ${target.groups.join(', ')}`);
  if (target.area) parts.push(t('chip.area'));
  if (target.circle) parts.push(`${t('chip.circle')} ${target.circle.radius_m} m`);
  if (target.route) parts.push(t('chip.route'));
  if (target.lanterns && target.lanterns.length) parts.push(t('live.lanterns', { n: target.lanterns.length }));
  return parts.join(' + ') || '–';
}

function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return date.toLocaleString(getLang() === 'de' ? 'de-CH' : 'en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    day: '2-digit',
    month: '2-digit',
  });
}

function markNonZero(id, value) {
  $(id).parentElement.classList.toggle('warn', value > 0);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

