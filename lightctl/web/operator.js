// The operator's view: the fleet live on the map, one lantern inspected in detail, faults injected
// into the simulated fleet (rehearsals) and the latest audit records.

import { api, injectFault } from './api.js';
import { onLanguageChange, t } from './i18n.js';
import { escapeHtml } from './map.js';

const $ = (id) => document.getElementById(id);

export class Operator {
  constructor(consoleMap) {
    this.cmap = consoleMap;
    this.selected = null;
    this.detail = null;
    this.fleet = [];
  }

  init() {
    $('lantern-show').addEventListener('click', () => this.select($('lantern-input').value.trim()));
    $('lantern-input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.select($('lantern-input').value.trim());
      }
    });
    $('fault-inject').addEventListener('click', () => this.inject());
    $('fault-kind').addEventListener('change', () => {
      $('fault-seconds').disabled = $('fault-kind').value !== 'offline';
    });
    onLanguageChange(() => {
      this.renderFleet(this.fleet);
      this.renderDetail();
      this.renderFault();
      if (!$('view-operate').hidden) this.refreshAudit();
    });
    this.renderDetail();
  }

  /** The newest audit records (GET /audit); says why when this server or role has none. */
  async refreshAudit() {
    const list = $('audit-list');
    const note = $('audit-placeholder');
    try {
      const records = await api.audit(25);
      note.hidden = records.length > 0;
      note.textContent = t('audit.empty');
      list.innerHTML = records
        .map((r) => `<li><time datetime="${escapeHtml(r.at)}">${escapeHtml(new Date(r.at).toLocaleTimeString())}</time> <strong>${escapeHtml(r.actor)}</strong> <span class="muted">${escapeHtml((r.roles || []).join(', '))}</span> · ${escapeHtml(r.action)}${r.subject ? ` · <code>${escapeHtml(r.subject)}</code>` : ''}</li>`)
        .join('');
    } catch (error) {
      list.innerHTML = '';
      note.hidden = false;
      note.textContent = error.status === 404 ? t('audit.placeholder') : error.status === 403 ? t('audit.forbidden') : t('err.generic', { detail: error.message });
    }
  }

  /** Fleet counts from GET /lanterns/live. */
  renderFleet(list) {
    this.fleet = list;
    const n = { total: list.length, online: 0, offline: 0, unknown: 0, playing: 0, light: 0, projecting: 0 };
    for (const l of list) {
      if (l.online === true) n.online += 1;
      else if (l.online === false) n.offline += 1;
      else n.unknown += 1;
      if (l.audio_playing) n.playing += 1;
      if (l.light_color) n.light += 1;
      if (l.projection) n.projecting += 1;
    }
    $('fleet-summary').innerHTML = Object.entries(n)
      .map(([k, v]) => `<div class="fleet-${k}${k === 'offline' && v ? ' warn' : ''}"><dt>${escapeHtml(t(`fleet.${k}`))}</dt><dd>${v}</dd></div>`)
      .join('');
    if (this.selected && this.detail) this.refreshSelected();
  }

  async select(id) {
    if (!id) return;
    this.selected = id;
    $('lantern-input').value = id;
    this.cmap.setFocus(id);
    this.faultDone = false;
    this.renderFault();
    await this.refreshSelected();
  }

  async refreshSelected() {
    const id = this.selected;
    if (!id || this.loading) return;
    this.loading = true;
    try {
      this.detail = await api.lantern(id);
      this.error = null;
    } catch (error) {
      this.detail = null;
      this.error = error.status === 404 ? t('lantern.notFound', { id }) : t('err.generic', { detail: error.message });
    } finally {
      this.loading = false;
    }
    if (this.selected === id) this.renderDetail();
  }

  renderDetail() {
    const box = $('lantern-detail');
    if (this.error) {
      box.innerHTML = `<p class="error">${escapeHtml(this.error)}</p>`;
      return;
    }
    const d = this.detail;
    if (!d) {
      box.innerHTML = '';
      return;
    }
    const online = d.online === true ? t('legend.online') : d.online === false ? t('legend.offline') : t('legend.unknown');
    const channels = d.reported ? Object.entries(d.reported.channels || {}) : [];
    const rows = channels
      .map(([channel, state]) => {
        const value = state.value ? summariseValue(channel, state.value) : t('lantern.idle');
        const slot = state.priority ? t('lantern.slot', { n: state.priority }) : t('lantern.default');
        return `<tr><th scope="row">${escapeHtml(t(`channel.${channel}`))}</th><td>${escapeHtml(value)}</td><td>${escapeHtml(slot)}</td></tr>`;
      })
      .join('');
    box.innerHTML = `<dl class="lantern-facts">
        <div><dt>ID</dt><dd>${escapeHtml(d.id)}</dd></div>
        <div><dt>${escapeHtml(t('target.street'))}</dt><dd>${escapeHtml(d.street || '–')}</dd></div>
        <div><dt>${escapeHtml(t('lantern.state'))}</dt><dd>${escapeHtml(online)}</dd></div>
        <div><dt>${escapeHtml(t('lantern.caps'))}</dt><dd>${escapeHtml(d.capabilities.map((c) => t(`cap.${c}`)).join(', ') || '–')}</dd></div>
      </dl>
      ${rows ? `<table class="channels"><caption>${escapeHtml(t('lantern.channels'))}</caption><tbody>${rows}</tbody></table>` : `<p class="muted">${escapeHtml(t('lantern.noReport'))}</p>`}`;
  }

  /** Whether fault injection can work here: a simulator is configured and answers. */
  async refreshSimulator() {
    try {
      this.simulator = await api.simulator();
    } catch (error) {
      this.simulator = { configured: false, reachable: false, error };
    }
    this.renderFault();
  }

  renderFault() {
    const sim = this.simulator;
    const ready = Boolean(sim && sim.reachable);
    $('fault-inject').disabled = !ready || !this.selected;
    let note = '';
    if (!sim) note = '';
    else if (sim.error) note = sim.error.status === 404 ? t('fault.unavailable') : t('err.generic', { detail: sim.error.message });
    else if (!sim.configured) note = t('fault.notConfigured');
    else if (!sim.reachable) note = t('fault.unreachable');
    else if (!this.selected) note = t('fault.chooseLantern');
    if (note || !this.faultDone) $('fault-status').textContent = note;
  }

  async inject() {
    const status = $('fault-status');
    if (!this.selected) {
      status.textContent = t('fault.chooseLantern');
      return;
    }
    const fault = $('fault-kind').value;
    const seconds = Number($('fault-seconds').value) || 30;
    $('fault-inject').disabled = true;
    try {
      await injectFault([this.selected], fault, seconds);
      this.faultDone = true;
      status.textContent = t('fault.done', { id: this.selected, fault: $('fault-kind').selectedOptions[0].textContent });
    } catch (error) {
      this.faultDone = false;
      status.textContent = error.status === 403 ? t('err.forbidden', { detail: error.message }) : t('err.generic', { detail: error.message });
    } finally {
      this.renderFault();
    }
    this.refreshSelected();
  }
}

function summariseValue(channel, value) {
  if (channel === 'audio') {
    const speech = (value.program || []).filter((p) => p.kind === 'speech').map((p) => p.lang);
    return `${t('lantern.playing')} ${[...new Set(speech)].join(', ')}`.trim();
  }
  if (channel === 'light') {
    if (!value.on) return t('lantern.off');
    return [value.color, value.effect, value.brightness != null ? `${value.brightness} %` : null].filter(Boolean).join(' ');
  }
  if (channel === 'projection') {
    return [value.pictogram, value.text, value.heading_deg != null ? `${value.heading_deg}°` : null].filter(Boolean).join(' ');
  }
  if (channel === 'path') return `${value.level} % ${value.mode || ''}`.trim();
  return JSON.stringify(value);
}
