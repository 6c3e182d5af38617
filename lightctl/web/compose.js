// Steps 1 and 3, what to say: the hazard (a pre-approved template), the languages in playback
// order, the template's details (a street placeholder follows the target until typed over) and
// the exercise switch.

import { getLang, languageName, t } from './i18n.js';
import { escapeHtml } from './map.js';

const $ = (id) => document.getElementById(id);

const SEVERITY_COLORS = { extreme: '#7f1d1d', severe: '#dc2626', moderate: '#d97706', minor: '#15803d' };

export class Composer {
  /** picker: the TargetPicker whose streets fill a street placeholder. */
  constructor(picker) {
    this.picker = picker;
    this.templates = [];
    this.cityLanguages = null; // the city's languages in playback order (GET /console/settings)
    this.form = { template: null, languages: new Set(), params: {}, edited: new Set(), exercise: false };
    this.languagesEdited = false;
  }

  init({ templates, cityLanguages }) {
    this.templates = templates;
    this.cityLanguages = Array.isArray(cityLanguages) && cityLanguages.length ? cityLanguages : null;
    this._bind();
  }

  _bind() {
    $('templates').addEventListener('change', (e) => {
      if (e.target.name === 'template') this.chooseTemplate(e.target.value);
    });
    $('languages').addEventListener('change', (e) => {
      if (e.target.type !== 'checkbox') return;
      if (e.target.checked) this.form.languages.add(e.target.value);
      else this.form.languages.delete(e.target.value);
      this.languagesEdited = true; // the dispatcher's choice stays when the hazard changes
      this.renderSend();
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
      this.renderSend();
    });
  }

  render() {
    this._renderTemplates();
    this._renderText();
    this.renderSend();
  }

  templateTitle(id) {
    const tpl = this.templates.find((x) => x.id === id);
    if (!tpl) return id || t('live.freeText');
    return tpl.title[getLang()] || tpl.title.en || tpl.id;
  }

  chooseTemplate(id) {
    const tpl = this.templates.find((x) => x.id === id);
    if (!tpl) return;
    this.form.template = id;
    // One list per city, not per hazard: the city's languages the template speaks (or the
    // dispatcher's own choice, once made), the template's defaults only without a city list.
    const wanted = this.languagesEdited ? [...this.form.languages] : this.cityLanguages || tpl.default_languages;
    const spoken = wanted.filter((code) => tpl.languages.includes(code));
    this.form.languages = new Set(spoken.length ? spoken : tpl.default_languages);
    $('err-template').textContent = '';
    // The radios already show the choice; re-rendering them would lose the keyboard focus.
    this._renderText();
    this.renderSend();
  }

  /** The hazards to choose from: an all-clear is no hazard (it is an action on a running
   * warning, or the separate "all-clear for an area" card). */
  hazards() {
    return this.templates.filter((tpl) => tpl.signal !== 'all_clear');
  }

  _renderTemplates() {
    $('templates').innerHTML = this.hazards()
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

  template() {
    return this.templates.find((x) => x.id === this.form.template) || null;
  }

  _renderText() {
    const tpl = this.template();
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
    this.renderParams(true);
  }

  /** Street placeholders follow the target until the user types; others start at the example. */
  _suggested(name, placeholder) {
    if (name === 'street') {
      const streets = this.picker.form.streets;
      const preview = this.picker.preview;
      if (streets.length) return { value: streets.join(', '), from: 'target' };
      if (preview && preview.streets.length) {
        return { value: preview.streets.slice(0, 2).map((s) => s.name).join(', '), from: 'target' };
      }
    }
    return { value: placeholder.example, from: 'example' };
  }

  renderParams(rebuild = false) {
    const tpl = this.template();
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

  renderSend() {
    const exercise = this.form.exercise;
    const chosen = this.orderedLanguages();
    const city = this.cityLanguages || [];
    $('send-languages').textContent = (chosen.length ? chosen : city).map(languageName).join(', ') || '–';
    $('exercise').checked = exercise;
    $('btn-send').textContent = exercise ? t('send.buttonExercise') : t('send.button');
    $('btn-send').classList.toggle('exercise', exercise);
    document.body.classList.toggle('exercise-mode', exercise);
  }

  /** The chosen languages in playback order: the city's order first, then the template's. */
  orderedLanguages() {
    const tpl = this.template();
    if (!tpl) return [];
    const city = this.cityLanguages || [];
    const rank = (code) => (city.includes(code) ? city.indexOf(code) : city.length + tpl.languages.indexOf(code));
    return tpl.languages.filter((code) => this.form.languages.has(code)).sort((a, b) => rank(a) - rank(b));
  }

  params() {
    const tpl = this.template();
    const out = {};
    for (const p of tpl ? tpl.placeholders : []) out[p.name] = (this.form.params[p.name] || '').trim();
    return out;
  }

  paramLabel(name) {
    const tpl = this.template();
    const p = tpl && tpl.placeholders.find((x) => x.name === name);
    return p ? p.description[getLang()] || p.description.en || name : name;
  }

  /** Mark what is missing at its step; problem(errorId, text, focusEl) collects each. */
  check(problem) {
    const tpl = this.template();
    if (!tpl) problem('err-template', t('err.noTemplate'), $('templates').querySelector('input'));
    return tpl;
  }

  checkDetails(problem) {
    const tpl = this.template();
    if (!tpl) return;
    if (!this.form.languages.size) problem('err-languages', t('err.noLanguage'), $('languages').querySelector('input'));
    for (const p of tpl.placeholders) {
      const input = $(`param-${p.name}`);
      if (!(this.form.params[p.name] || '').trim()) {
        input.classList.add('invalid');
        input.setAttribute('aria-invalid', 'true');
        problem(`err-param-${p.name}`, t('err.paramMissing'), input);
      }
    }
  }
}
