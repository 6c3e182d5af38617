// The operator's view: the fleet live on the map, one lantern inspected in detail, faults injected
// into the simulated fleet (rehearsals), steering along a drawn route, and the latest audit
// records.

import { api, injectFault } from './api.js';
import { explainApiError, explainTarget } from './explain.js';
import { DrawTool } from './draw.js';
import { describeAudit, formatClock, formatTime } from './format.js';
import { onLanguageChange, t } from './i18n.js';
import { escapeHtml } from './map.js';

const ROUTE_PREVIEW_DELAY_MS = 250;

const $ = (id) => document.getElementById(id);

export class Operator {
  constructor(consoleMap) {
    this.cmap = consoleMap;
    this.selected = null;
    this.detail = null;
    this.fleet = [];
    this.route = null; // the drawn route: GeoJSON LineString (lon/lat)
    this.routePreview = null;
    this.sessions = [];
    this.draw = new DrawTool(consoleMap, {
      mode: 'operate',
      onDone: (_kind, line) => {
        this._drawEnded();
        this.route = line;
        this._routeChanged();
      },
      onCancel: () => this._drawEnded(),
      onStatus: (text) => {
        $('steer-draw-text').textContent = text;
      },
    });
  }

  init(me = null) {
    this._bindSteering(me);
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
      this._renderRoute();
      this._renderSessions();
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
        .map((r) => `<li title="${escapeHtml(r.action)}"><time datetime="${escapeHtml(r.at)}">${escapeHtml(formatTime(r.at))}</time> ${escapeHtml(describeAudit(r, this.alertName))} <span class="muted">(${escapeHtml((r.roles || []).join(', '))})</span></li>`)
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

  // ---- steering along a route -------------------------------------------------------------------

  _bindSteering(me) {
    // Only the purposes the signed-in role may write (its ceiling: 8 for operators, 1 for admins).
    const ceiling = me && me.ceiling != null ? me.ceiling : 1;
    for (const option of $('steer-priority').options) option.disabled = Number(option.value) < ceiling;
    $('steer-draw').addEventListener('click', () => {
      if (this.draw.active) {
        this.draw.finish();
        return;
      }
      $('steer-draw').setAttribute('aria-pressed', 'true');
      $('steer-draw-help').hidden = false;
      $('steer-error').textContent = '';
      this.draw.start('line');
      this.cmap.map.getContainer().focus();
    });
    $('steer-undo').addEventListener('click', () => this.draw.undo());
    $('steer-finish').addEventListener('click', () => this.draw.finish());
    $('steer-cancel').addEventListener('click', () => this.draw.cancel());
    $('steer-clear').addEventListener('click', () => {
      this.route = null;
      this._routeChanged();
      $('steer-draw').focus();
    });
    $('steer-width').addEventListener('change', () => this._routeChanged());
    $('steer-start').addEventListener('click', () => this.startSteering());
    $('steer-list').addEventListener('click', (e) => {
      const button = e.target.closest('button[data-release]');
      if (button) this.releaseSteering(button.dataset.release);
    });
  }

  _drawEnded() {
    $('steer-draw').setAttribute('aria-pressed', 'false');
    $('steer-draw-help').hidden = true;
    $('steer-draw-text').textContent = '';
  }

  _width() {
    const width = Number($('steer-width').value);
    return Number.isFinite(width) && width > 0 ? width : null;
  }

  /** The route's target as the API takes it (null until a route is drawn). */
  routeTarget() {
    if (!this.route) return null;
    return { route: { line: this.route, width_m: this._width() ?? 30 } };
  }

  _routeChanged() {
    $('steer-error').textContent = '';
    this.routePreview = null;
    this._drawRoutes();
    this._renderRoute();
    clearTimeout(this.routeTimer);
    if (!this.route) return;
    this.routeTimer = setTimeout(() => this._previewRoute(), ROUTE_PREVIEW_DELAY_MS);
  }

  async _previewRoute() {
    const target = this.routeTarget();
    if (!target) return;
    try {
      const preview = await api.preview(target);
      if (JSON.stringify(this.routeTarget()) === JSON.stringify(target)) this.routePreview = preview;
    } catch (error) {
      $('steer-error').textContent = explainTarget(error).text;
    }
    this._renderRoute();
  }

  _renderRoute() {
    $('steer-clear').hidden = !this.route;
    $('steer-draw').textContent = this.route ? t('steer.redraw') : t('steer.draw');
    if (!this.route) {
      $('steer-route').textContent = t('steer.noRoute');
      return;
    }
    const metres = Math.round(lineLength(this.route.coordinates));
    const points = this.route.coordinates.length;
    const p = this.routePreview;
    const count = p ? t('steer.lanterns', { n: p.lantern_count, projectors: p.capabilities.projector || 0 }) : '';
    $('steer-route').textContent = [t('steer.routeLine', { n: points, m: metres }), count].filter(Boolean).join(' · ');
  }

  _drawRoutes() {
    const routes = this.sessions
      .filter((s) => s.target && s.target.route)
      .map((s) => ({ line: s.target.route.line, width_m: s.target.route.width_m, draft: false }));
    if (this.route) routes.push({ line: this.route, width_m: this._width(), draft: true });
    this.cmap.setRoutes(routes);
  }

  /** POST /steering: arrows along the route toward its last (or first) point, until the end time. */
  async startSteering() {
    $('steer-error').textContent = '';
    $('steer-status').textContent = '';
    const target = this.routeTarget();
    if (!target) {
      $('steer-error').textContent = t('steer.needRoute');
      $('steer-draw').focus();
      return;
    }
    if (this._width() === null) {
      $('steer-error').textContent = t('steer.badWidth');
      $('steer-width').focus();
      return;
    }
    const minutes = Number($('steer-minutes').value);
    if (!(minutes >= 1 && minutes <= 1440)) {
      $('steer-error').textContent = t('steer.badMinutes');
      $('steer-minutes').focus();
      return;
    }
    const color = $('steer-color').value;
    const body = {
      target,
      priority: Number($('steer-priority').value),
      projection: { pictogram: 'arrow', color },
      light: { on: true, color, brightness: 80 },
      guidance: { direction: $('steer-direction').value },
      ends_in_s: Math.round(minutes * 60),
      label: $('steer-label').value.trim() || t('steer.defaultLabel'),
    };
    if ($('steer-path').checked) body.path = { level: 80, mode: 'chase' };
    $('steer-start').disabled = true;
    try {
      const session = await api.startSteering(body);
      $('steer-status').textContent = t('steer.started', { n: session.lantern_count });
      this.route = null;
      this.routePreview = null;
      await this.refreshSteering();
      this._renderRoute();
    } catch (error) {
      $('steer-error').textContent = explainSteering(error);
    } finally {
      $('steer-start').disabled = false;
    }
  }

  async releaseSteering(id) {
    $('steer-error').textContent = '';
    try {
      await api.releaseSteering(id);
      $('steer-status').textContent = t('steer.released');
    } catch (error) {
      $('steer-error').textContent = explainSteering(error);
    }
    await this.refreshSteering();
  }

  /** The steering sessions still holding their slots (GET /steering?active=true). */
  async refreshSteering() {
    try {
      this.sessions = await api.steering(true);
    } catch {
      // keep the list shown; the next refresh tries again
    }
    this._renderSessions();
    this._drawRoutes();
  }

  _renderSessions() {
    const list = $('steer-list');
    if (!this.sessions.length) {
      list.innerHTML = `<li class="muted">${escapeHtml(t('steer.none'))}</li>`;
      return;
    }
    list.innerHTML = this.sessions
      .map((s) => {
        const ends = formatClock(s.ends_at);
        const projection = s.channels.projection;
        const arrows = projection ? t('steer.arrows', { n: projection.delivered, of: projection.lanterns }) : '';
        return `<li class="steer-row" data-steering="${escapeHtml(s.id)}">
          <div class="alert-main">
            <strong>${escapeHtml(s.label || s.id)}</strong>
            <span class="badge">${escapeHtml(t(`steer.purpose.${s.purpose}`))}</span>
            <div class="muted">${escapeHtml(t('live.lanterns', { n: s.lantern_count }))}${arrows ? ` · ${escapeHtml(arrows)}` : ''} · ${escapeHtml(t('steer.until', { time: ends }))}</div>
          </div>
          <button type="button" data-release="${escapeHtml(s.id)}" aria-label="${escapeHtml(t('steer.releaseLabel', { label: s.label || s.id }))}">${escapeHtml(t('steer.release'))}</button>
        </li>`;
      })
      .join('');
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

/** A steering refusal in plain words. */
function explainSteering(error) {
  if (error.status === 422 && error.errors.some((e) => (e.loc || []).includes('target'))) return explainTarget(error).text;
  if (error.status === 403) return t('steer.forbidden', { detail: error.message });
  return explainApiError(error);
}

/** Length of a lon/lat line in metres (equirectangular: exact enough for a few kilometres). */
function lineLength(coordinates) {
  let sum = 0;
  for (let i = 1; i < coordinates.length; i += 1) {
    const [lon1, lat1] = coordinates[i - 1];
    const [lon2, lat2] = coordinates[i];
    const x = ((lon2 - lon1) * Math.PI) / 180 * Math.cos(((lat1 + lat2) * Math.PI) / 360);
    const y = ((lat2 - lat1) * Math.PI) / 180;
    sum += 6371000 * Math.hypot(x, y);
  }
  return sum;
}
