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

export function formatTime(iso) {
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

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
