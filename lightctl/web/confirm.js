// The one confirmation before a warning goes out: the frozen lantern set (count, streets, on the
// map behind the dialog), the languages and the exact words of each, in a modal dialog whose
// send button has the focus (Enter sends, Escape goes back).
//
// What makes one confirmation send exactly one alert to exactly the confirmed set:
// - the draft (request body with its preview_id, and its Idempotency-Key) is frozen when the
//   dialog opens and handed to onSend as it is, whatever the form or the map do later;
// - a confirmation counts only from a press that began inside the open dialog: not the rest of
//   the double click or the held key that opened it, never a repeated key press (a key held);
// - it closes once: the second and third click of a double or triple click find it closed, and
//   a shield over the whole page swallows them for SHIELD_MS, so they cannot reach the map.

import { listIds } from './format.js';
import { languageName, t } from './i18n.js';
import { escapeHtml } from './map.js';

const $ = (id) => document.getElementById(id);

// A triple click's last click follows the first within ~1 s (two OS double-click intervals of
// 500 ms): after "Send now" took the first, the shield takes what follows for this long.
const SHIELD_MS = 700;
const STREETS_SHOWN = 8;

export class ConfirmDialog {
  /** onSend(draft): the dispatcher confirmed this draft; onBack(draft): closed without sending. */
  constructor({ onSend, onBack }) {
    this.onSend = onSend;
    this.onBack = onBack;
    this.draft = null;
    this.pressed = null; // 'pointer' | 'key': a press that began inside the open dialog
  }

  get isOpen() {
    return $('confirm').open;
  }

  init() {
    const dialog = $('confirm');
    // Capture: before the button or the dialog's form see the key.
    dialog.addEventListener(
      'keydown',
      (e) => {
        if (e.key !== 'Enter' && e.key !== ' ') return;
        if (e.repeat) {
          e.preventDefault();
          e.stopPropagation();
        } else {
          this.pressed = 'key';
        }
      },
      true
    );
    dialog.addEventListener('pointerdown', () => {
      this.pressed = 'pointer';
    }, true);
    $('confirm-send').addEventListener('click', (e) => {
      e.preventDefault();
      // detail 0: a click made by a key; otherwise a pointer's (press and release both inside).
      const by = e.detail === 0 ? 'key' : 'pointer';
      if (this.pressed !== by) return;
      this._close('send');
    });
    $('confirm-back').addEventListener('click', (e) => {
      e.preventDefault();
      this._close('back');
    });
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault(); // Escape: closed the same way as Back
      this._close('back');
    });
    const shield = $('click-shield');
    for (const type of ['pointerdown', 'mousedown', 'click', 'dblclick', 'contextmenu']) {
      shield.addEventListener(type, (e) => {
        e.preventDefault();
        e.stopPropagation();
      });
    }
  }

  _close(value) {
    const draft = this.draft;
    if (!draft || !this.isOpen) return; // closes once per opening
    this.draft = null;
    this._shield();
    $('confirm').close(value);
    if (value === 'send') this.onSend(draft);
    else this.onBack(draft);
  }

  _shield() {
    const shield = $('click-shield');
    shield.hidden = false;
    clearTimeout(this.shieldTimer);
    this.shieldTimer = setTimeout(() => {
      shield.hidden = true;
    }, SHIELD_MS);
  }

  /**
   * Fill and open the dialog for a frozen draft: {title, preview, texts: {languages, messages},
   * params: [[label, value]], exercise, changed (a text: why the dispatcher confirms again)}.
   */
  open(draft) {
    const p = draft.preview;
    const streets = p.streets.slice(0, STREETS_SHOWN).map((s) => `${s.name} (${s.lantern_count})`);
    if (p.streets.length > STREETS_SHOWN) streets.push(t('preview.more', { n: p.streets.length - STREETS_SHOWN }));
    if (p.without_street_count) streets.push(t('preview.withoutStreet', { n: p.without_street_count }));
    const noSpeaker = p.lantern_count - (p.capabilities.speaker || 0);
    const rows = [
      [t('confirm.hazard'), draft.title],
      [t('confirm.lanterns'), String(p.lantern_count), 'confirm-count'],
      [t('confirm.streets'), streets.join(', ') || '–', 'confirm-streets'],
      ...draft.params,
    ];
    if (p.offline_count) rows.push([t('preview.offline'), String(p.offline_count), null, 'warn']);
    if (noSpeaker) rows.push([t('preview.nospeaker'), String(noSpeaker), 'confirm-nospeaker', 'warn']);
    const broken = p.broken_speaker_ids || [];
    if (broken.length) {
      rows.push([t('preview.brokenSpeaker'), `${broken.length}: ${listIds(broken)}`, 'confirm-broken', 'warn']);
    }
    const c = p.coverage;
    if (c && c.length_m > 0) {
      // Acoustic coverage of the targeted streets by the working speakers (issue 19).
      const pct = (x) => `${Math.round(x * 100)} %`;
      const shares = t('confirm.coverageShares', {
        intelligible: pct(c.intelligible), audible: pct(c.audible), none: pct(c.not_covered),
      });
      const gaps = c.gap_count ? ` · ${t('confirm.coverageGaps', { n: c.gap_count })}` : '';
      rows.push([t('confirm.coverage'), shares + gaps, 'confirm-coverage', c.not_covered > 0 ? 'warn' : null]);
    }
    $('confirm-summary').innerHTML = rows
      .map(
        ([k, v, id, cls]) =>
          `<div${cls ? ` class="${cls}"` : ''}><dt>${escapeHtml(k)}</dt><dd${id ? ` id="${id}"` : ''}>${escapeHtml(v)}</dd></div>`
      )
      .join('');
    $('confirm-texts').innerHTML = draft.texts.languages
      .map(
        (lang) =>
          `<li data-lang-text="${escapeHtml(lang)}"><span class="lang-name">${escapeHtml(languageName(lang))}</span>
           <q lang="${escapeHtml(lang)}" dir="auto">${escapeHtml(draft.texts.messages[lang] || '')}</q></li>`
      )
      .join('');
    $('confirm-changed').hidden = !draft.changed;
    $('confirm-changed').textContent = draft.changed || '';
    $('confirm-exercise').hidden = !draft.exercise;
    $('confirm-send').textContent = draft.exercise ? t('confirm.sendExercise') : t('confirm.send');
    $('confirm').classList.toggle('exercise', draft.exercise);
    this.draft = draft;
    $('confirm').returnValue = '';
    $('confirm').showModal();
    this.pressed = null;
    $('confirm-send').focus();
  }
}
