// Step 2, where to warn: streets clicked on the map or typed, groups, a drawn area or circle;
// the instant preview of exactly which lanterns that reaches, refusals explained at the step.

import { api } from './api.js';
import { DrawTool } from './draw.js';
import { explainTarget } from './explain.js';
import { listIds } from './format.js';
import { t } from './i18n.js';
import { escapeHtml, streetKey } from './map.js';

const $ = (id) => document.getElementById(id);

const PREVIEW_DELAY_MS = 200; // coalesce quick clicks on several streets into one preview

export class TargetPicker {
  /** onPreview(preview|null): called after every preview (or its refusal) has been shown. */
  constructor(consoleMap, { onPreview = () => {} } = {}) {
    this.cmap = consoleMap;
    this.onPreview = onPreview;
    this.groups = [];
    this.form = { streets: [], groups: [], area: null, circle: null, repair: false, confirmLarge: false };
    this.preview = null;
    this.previewTarget = null; // the Target exactly as the shown preview resolved it
    this.previewError = null;
    this.locked = false; // while a confirmed warning is being sent, map clicks change nothing
    this.previewSeq = 0;
    this.previewPending = null;
    this.draw = new DrawTool(consoleMap, {
      onDone: (kind, shape) => this._drawn(kind, shape),
      onCancel: () => this._drawEnded(),
      onStatus: (text) => {
        $('draw-text').textContent = text;
      },
    });
  }

  init({ groups, streets }) {
    this.groups = groups;
    $('street-list').innerHTML = streets
      .map((s) => `<option value="${escapeHtml(s.name)}">${escapeHtml(s.name)} (${s.lantern_count})</option>`)
      .join('');
    this._bind();
  }

  _bind() {
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
        this.changed();
      }
    });
    $('tool-polygon').addEventListener('click', () => this._startDraw('polygon'));
    $('tool-circle').addEventListener('click', () => this._startDraw('circle'));
    $('draw-undo').addEventListener('click', () => this.draw.undo());
    $('draw-finish').addEventListener('click', () => this.draw.finish());
    $('draw-cancel').addEventListener('click', () => this.draw.cancel());
    $('btn-repair').addEventListener('click', () => {
      this.form.repair = true;
      this.changed();
    });
    $('btn-redraw').addEventListener('click', () => {
      this.form.area = null;
      this._startDraw('polygon');
    });
    $('street-fixes').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-street]');
      if (!button) return;
      const { street, use } = button.dataset;
      const at = this.form.streets.indexOf(street);
      if (at < 0) return;
      if (use && !this.form.streets.some((s) => streetKey(s) === streetKey(use))) this.form.streets.splice(at, 1, use);
      else this.form.streets.splice(at, 1);
      this.changed();
      $('street-input').focus();
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
          this.changed();
        }
      }
    });
  }

  render() {
    this._renderGroups();
    this._renderChips();
    this._renderPreview();
  }

  /** A click on a named street on the map: add it, or remove it when it is already chosen. */
  toggleStreet(name) {
    if (this.locked) return;
    const key = streetKey(name);
    const at = this.form.streets.findIndex((s) => streetKey(s) === key);
    if (at >= 0) this.form.streets.splice(at, 1);
    else this.form.streets.push(name);
    this.changed();
  }

  _addTypedStreet() {
    const typed = $('street-input').value.trim();
    if (!typed) return;
    const known = [...$('street-list').options].map((o) => o.value);
    const name = known.find((n) => streetKey(n) === streetKey(typed)) || typed;
    if (!this.form.streets.some((s) => streetKey(s) === streetKey(name))) this.form.streets.push(name);
    $('street-input').value = '';
    this.changed();
  }

  _remove(kind, value) {
    if (kind === 'street') this.form.streets = this.form.streets.filter((s) => s !== value);
    if (kind === 'group') this.form.groups = this.form.groups.filter((g) => g !== value);
    if (kind === 'area') {
      this.form.area = null;
      this.form.repair = false;
    }
    if (kind === 'circle') this.form.circle = null;
    this.changed();
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
    this.changed();
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

  changed() {
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

  /** Preview the target again now (a refusal said it changed); resolves when it is shown. */
  async refreshPreview() {
    this.schedulePreview();
    await this.previewPending;
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
      this.previewTarget = null;
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
      this.previewTarget = JSON.parse(JSON.stringify(target));
      this.previewError = null;
    } catch (error) {
      if (error.name === 'AbortError' || seq !== this.previewSeq) return;
      this.preview = null;
      this.previewTarget = null;
      this.previewError = error;
    }
    this._previewDone();
  }

  _previewDone() {
    $('preview').classList.remove('loading');
    this.cmap.setPreview(this.preview ? this.preview.lantern_ids : null);
    this.cmap.setCoverageGaps(this.preview && this.preview.coverage ? this.preview.coverage.gaps : []);
    this._renderChips();
    this._renderPreview();
    this.onPreview(this.preview);
  }

  /** Streets the last preview refused as reaching no lantern: [{street, suggestions}]. */
  _unknownStreets() {
    if (!this.previewError || this.previewError.status !== 422) return [];
    return this.previewError.errors
      .filter((e) => (e.loc || [])[0] === 'streets' && /no lantern stands/i.test(e.msg || ''))
      .map((e) => ({ street: this.form.streets[e.loc[1]] ?? e.value, suggestions: e.suggestions || [] }))
      .filter((u) => u.street != null);
  }

  /** One click per correction, and what the rest of the target reaches meanwhile: a typo
   * never hides that the valid streets are fine. */
  async _renderStreetFixes() {
    const unknown = this._unknownStreets();
    $('street-fixes').hidden = unknown.length === 0;
    $('street-fixes').innerHTML = unknown
      .map(({ street, suggestions }) => [
        ...suggestions.slice(0, 3).map(
          (name) => `<button type="button" data-street="${escapeHtml(street)}" data-use="${escapeHtml(name)}">${escapeHtml(t('target.useSuggestion', { name, typo: street }))}</button>`
        ),
        `<button type="button" class="quiet" data-street="${escapeHtml(street)}">${escapeHtml(t('target.dropStreet', { name: street }))}</button>`,
      ].join(''))
      .join('');
    $('street-rest').textContent = '';
    const target = this.target();
    if (!unknown.length || !target) return;
    const bad = new Set(unknown.map((u) => u.street));
    const rest = { ...target, streets: (target.streets || []).filter((s) => !bad.has(s)) };
    if (!rest.streets.length) delete rest.streets;
    if (!['streets', 'groups', 'area', 'circle'].some((k) => rest[k])) return;
    const seq = this.previewSeq;
    try {
      const p = await api.preview(rest);
      if (seq !== this.previewSeq) return;
      $('street-rest').textContent = t('target.restReaches', { n: p.lantern_count, names: [...bad].join(', ') });
    } catch {
      // the rest has problems of its own: the error above names them
    }
  }

  _renderPreview() {
    this._renderStreetFixes();
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
    // A speaker the lantern reports broken stays silent: said before anyone sends.
    const broken = p.broken_speaker_ids || [];
    $('preview-broken').textContent = broken.length;
    markNonZero('preview-broken', broken.length);
    $('preview-broken-ids').hidden = broken.length === 0;
    $('preview-broken-ids').textContent = broken.length ? t('preview.brokenIds', { ids: listIds(broken) }) : '';
    const shown = p.streets.slice(0, 8).map((s) => `${s.name} (${s.lantern_count})`);
    const more = p.streets.length - shown.length;
    let text = p.streets.length ? `${t('preview.streets')}: ${shown.join(', ')}` : t('preview.noStreets');
    if (more > 0) text += ` ${t('preview.more', { n: more })}`;
    if (p.without_street_count) text += ` · ${t('preview.withoutStreet', { n: p.without_street_count })}`;
    $('preview-streets').textContent = text;
  }
}

function markNonZero(id, value) {
  $(id).parentElement.classList.toggle('warn', value > 0);
}
