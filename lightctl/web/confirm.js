// The one confirmation before a warning goes out: what will be sent, in a modal dialog whose
// send button has the focus (Enter sends, Escape goes back).

import { languageName, t } from './i18n.js';
import { escapeHtml } from './map.js';

const $ = (id) => document.getElementById(id);

export class ConfirmDialog {
  /** onSend(): the dispatcher confirmed; onBack(): closed without sending. */
  constructor({ onSend, onBack }) {
    this.onSend = onSend;
    this.onBack = onBack;
  }

  init() {
    $('confirm').addEventListener('close', () => {
      if ($('confirm').returnValue === 'send') this.onSend();
      else this.onBack();
    });
  }

  /** Fill and open the dialog for this draft: {title, preview, languages, params, exercise}. */
  open(draft) {
    const p = draft.preview;
    const rows = [
      [t('confirm.hazard'), draft.title],
      [t('confirm.lanterns'), p ? String(p.lantern_count) : '?'],
      [t('confirm.streets'), p && p.streets.length ? p.streets.slice(0, 5).map((s) => s.name).join(', ') + (p.streets.length > 5 ? ` ${t('preview.more', { n: p.streets.length - 5 })}` : '') : '–'],
      [t('confirm.languages'), draft.languages.map(languageName).join(', ')],
      ...draft.params,
    ];
    if (p && p.offline_count) rows.push([t('preview.offline'), String(p.offline_count)]);
    $('confirm-summary').innerHTML = rows
      .map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`)
      .join('');
    $('confirm-exercise').hidden = !draft.exercise;
    $('confirm-send').textContent = draft.exercise ? t('confirm.sendExercise') : t('confirm.send');
    $('confirm').classList.toggle('exercise', draft.exercise);
    $('confirm').returnValue = '';
    $('confirm').showModal();
  }
}
