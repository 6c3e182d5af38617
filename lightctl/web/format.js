// How the console writes targets and times: one function each, so every list reads alike.

import { getLang, t } from './i18n.js';

/** A Target in a few words: "Talstrasse + group school + circle 200 m". */
export function describeTarget(target) {
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

/**
 * Where a warning went and how many lanterns that is: "Talstrasse · 50 lanterns". A target of
 * chosen lanterns only already says its count ("3533 lanterns"): it is not said twice.
 */
export function describeReach(target, count) {
  const where = describeTarget(target);
  if (count == null) return where;
  const reach = t('live.lanterns', { n: count });
  return where === reach ? where : `${where} · ${reach}`;
}

/**
 * The one locale every date and time is written in: the browser's own when it speaks the
 * console's language (de-DE, de-AT, en-US ...), else a fixed one for that language.
 */
export function timeLocale() {
  const lang = getLang();
  const browser = (navigator.languages && navigator.languages[0]) || navigator.language || '';
  if (browser.toLowerCase().split('-')[0] === lang) return browser;
  return lang === 'de' ? 'de-CH' : 'en-GB';
}

// Intl formatters are made once per locale and kind: toLocaleString() builds a new one per call
// (~0.1 ms each), and the running list writes a few dozen times every 4 s.
const FORMATS = {
  time: { hour: '2-digit', minute: '2-digit', second: '2-digit', day: '2-digit', month: '2-digit' },
  clock: { hour: '2-digit', minute: '2-digit' },
};
const formatters = new Map();

function formatter(kind) {
  const locale = timeLocale();
  const key = `${kind}|${locale}`;
  let made = formatters.get(key);
  if (!made) {
    made = new Intl.DateTimeFormat(locale, FORMATS[kind]);
    formatters.set(key, made);
  }
  return made;
}

export function formatTime(iso) {
  if (!iso) return '';
  return formatter('time').format(new Date(iso));
}

/** A time of day, hours and minutes, as the console's language writes it ("08:32"). */
export function formatClock(iso) {
  if (!iso) return '';
  return formatter('clock').format(new Date(iso));
}

const DELIVERED = ['done', 'applied'];

/** How many lanterns confirmed the warning's release, of how many. */
export function releaseProgress(alert) {
  const l = alert.released;
  if (l) return { done: l.confirmed, total: l.confirmed + l.open + l.unconfirmed };
  const r = alert.releases || {};
  const total = Object.values(r).reduce((n, v) => n + v, 0);
  const done = DELIVERED.reduce((n, k) => n + (r[k] || 0), 0);
  return { done, total };
}

/** Where the warning stands on the street, in one line: "light and pictogram on until 08:32". */
export function describePhase(alert) {
  const time = formatClock(alert.holding_until);
  const holding = alert.holding || [];
  switch (alert.phase) {
    case 'holding':
      if (holding.includes('light') || holding.includes('projection') || holding.includes('path')) {
        return t('phase.holdingLight', { time });
      }
      return t('phase.holdingOpen', { time });
    case 'ending': {
      const { done, total } = releaseProgress(alert);
      if (total && done < total && !time) return t('phase.ending', { done, total });
      if (total && done < total) return t('phase.endingUntil', { done, total, time });
      return t('phase.endingPlaying');
    }
    case undefined:
    case null:
      return '';
    default:
      return t(`phase.${alert.phase}`);
  }
}

// Audit actions (method and route) in words: "{actor} cancelled {what}".
const AUDIT_WORDS = {
  'POST /api/v1/alerts': 'audit.w.sent',
  'POST /api/v1/alerts/{alert_id}/cancel': 'audit.w.cancelled',
  'POST /api/v1/alerts/{alert_id}/all-clear': 'audit.w.allClear',
  'POST /api/v1/alerts/{alert_id}/update': 'audit.w.updated',
  'POST /api/v1/alerts/{alert_id}/approve': 'audit.w.approved',
  'POST /api/v1/auth/login': 'audit.w.signedIn',
  'POST /api/v1/auth/logout': 'audit.w.signedOut',
  'POST /api/v1/simulator/faults': 'audit.w.fault',
  'POST /api/v1/steering': 'audit.w.steered',
  'DELETE /api/v1/steering/{steering_id}': 'audit.w.steeringEnded',
  'POST /api/v1/lanterns/import': 'audit.w.imported',
};

/** One audit record in words; what(id) names an alert ("Fire – Talstrasse") or returns null. */
export function describeAudit(record, what = () => null) {
  const key = AUDIT_WORDS[record.action];
  const status = record.detail && record.detail.status;
  const name = record.subject ? what(record.subject) || record.subject : '';
  let text = key ? t(key, { actor: record.actor, what: name ? (getLang() === 'de' ? `„${name}“` : `“${name}”`) : '' }) : `${record.actor} · ${record.action}${name ? ` · ${name}` : ''}`;
  if (status >= 400) text += ` ${t('audit.w.refused', { status })}`;
  return text.replace(/\s+/g, ' ').trim();
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const IDS_SHOWN = 10; // a line of ids longer than this helps nobody read it

/** Lantern ids for a line of text: the first few, then how many more. */
export function listIds(ids) {
  const shown = ids.slice(0, IDS_SHOWN).join(', ');
  return ids.length > IDS_SHOWN ? `${shown} ${t('preview.more', { n: ids.length - IDS_SHOWN })}` : shown;
}
