// Evacuation arrows (issue 18): with "lead people out" on, every target preview asks the server
// which way each lantern would point (POST /guidance/preview, the target as the hazard) and draws
// the arrows on the map before anything is sent; a meeting point is placed by a click and dragged;
// lanterns with no way out are listed and drawn red. The warning then goes with the same
// evacuation request, so what the dispatcher saw is what the lanterns show. Arrows the lanterns
// will flash (row.flash) flash on the map on the same wall-clock pattern; arrows of lanterns
// whose firmware cannot flash are drawn steady and counted.

import { api } from './api.js';
import { addAlertFields, addPanel } from './extend.js';
import { getLang, onLanguageChange } from './i18n.js';
import { escapeHtml } from './map.js';

const L = window.L;

// The console's own words for this feature (German first, as the console is).
const WORDS = {
  de: {
    title: 'Evakuierung: Pfeile',
    on: 'Menschen mit Pfeilen hinausführen',
    meeting: 'Sammelstelle (Name)',
    buffer: 'Sicher ab (m ausserhalb)',
    place: 'Auf der Karte setzen',
    clear: 'Entfernen',
    placing: 'Klicken Sie auf die Karte, um die Sammelstelle zu setzen.',
    leave: 'Ohne Sammelstelle: aus dem Gebiet hinaus.',
    counts: '{arrow} Pfeile · {neutral} beide Richtungen · {shelter} ohne Ausweg · {no_entry} kein Zutritt',
    steady: '{n} Pfeile leuchten ohne Blinken (Firmware ohne Blinken oder noch nicht gemeldet).',
    noWay: 'Ohne Ausweg (drinnen bleiben): {ids}',
    noSafe: 'Kein sicherer Ort erreichbar: alle Leuchten sagen «drinnen bleiben».',
    exits: 'Ausgänge: {exits}',
    off: 'Aus.',
    busy: 'Berechne …',
  },
  en: {
    title: 'Evacuation arrows',
    on: 'Lead people out with arrows',
    meeting: 'Meeting point (name)',
    buffer: 'Safe from (m outside)',
    place: 'Place on the map',
    clear: 'Remove',
    placing: 'Click the map to place the meeting point.',
    leave: 'No meeting point: out of the area.',
    counts: '{arrow} arrows · {neutral} both ways · {shelter} no way out · {no_entry} no entry',
    steady: '{n} arrows shown steady (firmware without flashing, or not reported yet).',
    noWay: 'No way out (shelter in place): {ids}',
    noSafe: 'No safe place within reach: every lantern says shelter in place.',
    exits: 'Exits: {exits}',
    off: 'Off.',
    busy: 'Working …',
  },
};

function w(key, vars = {}) {
  const text = (WORDS[getLang()] || WORDS.de)[key] ?? WORDS.de[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : ''));
}

const COLORS = { arrow: '#16a34a', neutral: '#0ea5e9', exit: '#16a34a', no_entry: '#f97316', shelter: '#dc2626' };
// The drawn arrow's length on the ground: long enough to read at street zoom.
const ARROW_M = 14;

const state = {
  on: false,
  target: null,
  lanternIds: null,
  meeting: null, // {name, lat, lon}
  marker: null,
  placing: false,
  planned: null,
  drawn: {}, // marks on the map per kind
  buffer: 50, // metres outside the hazard where "leave the area" counts as safe
  plan: null,
  group: null,
  section: null,
  ctx: null,
  seq: 0,
  flashing: [], // [{layer, period, on, phase}] of the arrows drawn flashing
  flashTimer: null,
};

// How often the map's flashing arrows are set on or off: 10 per second is within 100 ms of the
// lanterns' own 700 ms on / 300 ms off at 1 Hz.
const FLASH_TICK_MS = 100;

/** Show or hide every flashing arrow as the lanterns do now: on for ``on`` ms at the start of
 * each ``period`` of the wall clock. Reduced motion: drawn steady (dashed) instead. */
function flashTick() {
  const now = Date.now();
  for (const f of state.flashing) {
    const el = f.layer.getElement?.();
    if (el) el.style.opacity = (((now - f.phase) % f.period) + f.period) % f.period < f.on ? '1' : '0.15';
  }
}

function stillMotion() {
  return window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;
}

/** The point ``metres`` from lat/lon toward heading (degrees from north): flat earth is plenty. */
function ahead(lat, lon, heading, metres) {
  const rad = (heading * Math.PI) / 180;
  const dLat = (metres * Math.cos(rad)) / 111132;
  const dLon = (metres * Math.sin(rad)) / (111320 * Math.cos((lat * Math.PI) / 180));
  return [lat + dLat, lon + dLon];
}

function draw() {
  if (!state.group) return;
  state.group.clearLayers();
  state.drawn = {};
  state.flashing = [];
  clearInterval(state.flashTimer);
  state.flashTimer = null;
  const plan = state.on ? state.plan : null;
  if (!plan) return;
  const still = stillMotion();
  for (const row of plan.lanterns) {
    const color = COLORS[row.kind];
    if (!color) continue;
    state.drawn[row.kind] = (state.drawn[row.kind] || 0) + 1;
    if (row.heading_deg != null) {
      const tip = ahead(row.lat, row.lon, row.heading_deg, ARROW_M);
      const left = ahead(tip[0], tip[1], row.heading_deg + 150, ARROW_M * 0.4);
      const right = ahead(tip[0], tip[1], row.heading_deg - 150, ARROW_M * 0.4);
      const flash = row.flash ? ' guidance-flash' : '';
      const dash = row.flash && still ? '6 3' : null;
      const shaft = L.polyline([[row.lat, row.lon], tip], { color, weight: 3, dashArray: dash, interactive: false, className: `guidance-${row.kind}${flash}` }).addTo(state.group);
      const head = L.polyline([left, tip, right], { color, weight: 3, interactive: false, className: flash.trim() }).addTo(state.group);
      if (row.flash && !still) {
        for (const layer of [shaft, head]) state.flashing.push({ layer, period: row.flash.period_ms, on: row.flash.on_ms, phase: row.flash.phase_ms || 0 });
      }
    } else {
      L.circleMarker([row.lat, row.lon], {
        radius: row.kind === 'shelter' ? 7 : 5,
        color,
        weight: 3,
        fill: false,
        interactive: false,
        className: `guidance-${row.kind}`,
      }).addTo(state.group);
    }
  }
  if (state.flashing.length) {
    flashTick();
    state.flashTimer = setInterval(flashTick, FLASH_TICK_MS);
  }
}

function render() {
  const box = state.section?.querySelector('.guidance-status');
  if (!box) return;
  const plan = state.on ? state.plan : null;
  if (!state.on) {
    box.innerHTML = `<p class="hint">${escapeHtml(w('off'))}</p>`;
    return;
  }
  if (state.placing) {
    box.innerHTML = `<p class="hint">${escapeHtml(w('placing'))}</p>`;
    return;
  }
  if (!plan) {
    box.innerHTML = state.error ? `<p class="error" role="alert">${escapeHtml(state.error)}</p>` : '';
    return;
  }
  const c = plan.counts || {};
  const n = (k) => c[k] || 0;
  const lines = [
    `<p class="guidance-counts">${escapeHtml(w('counts', { arrow: n('arrow') + n('exit'), neutral: n('neutral'), shelter: n('shelter'), no_entry: n('no_entry') }))}</p>`,
  ];
  const steady = plan.lanterns.filter((r) => r.kind === 'arrow' && !r.flash).length;
  if (steady) lines.push(`<p class="meta guidance-steady">${escapeHtml(w('steady', { n: steady }))}</p>`);
  if (!state.meeting) lines.push(`<p class="hint">${escapeHtml(w('leave'))}</p>`);
  if (plan.no_safe_place) lines.push(`<p class="warn" role="alert">${escapeHtml(w('noSafe'))}</p>`);
  if (plan.shelter_in_place.length) {
    lines.push(`<p class="warn guidance-noway">${escapeHtml(w('noWay', { ids: plan.shelter_in_place.join(', ') }))}</p>`);
  }
  if (plan.exits.length) {
    const exits = plan.exits.slice(0, 5).map((e) => `${e.name} (${e.lanterns})`).join(', ');
    lines.push(`<p class="meta guidance-exits">${escapeHtml(w('exits', { exits }))}</p>`);
  }
  for (const warning of plan.warnings) lines.push(`<p class="warn">${escapeHtml(warning)}</p>`);
  box.innerHTML = lines.join('');
}

function request() {
  if (!state.on || !state.target) return null;
  const body = { hazard: state.target, buffer_m: state.buffer };
  if (state.meeting) body.meeting_points = [{ ...state.meeting }];
  return body;
}

async function refresh() {
  const body = request();
  state.plan = null;
  state.error = null;
  if (!body) {
    draw();
    render();
    return;
  }
  const seq = ++state.seq;
  const box = state.section?.querySelector('.guidance-status');
  if (box) box.innerHTML = `<p class="hint">${escapeHtml(w('busy'))}</p>`;
  try {
    const preview = { ...body };
    if (state.lanternIds) preview.lanterns = { lanterns: state.lanternIds };
    const plan = await api.guidancePreview(preview);
    if (seq !== state.seq) return; // a newer target or meeting point is on its way
    state.plan = plan;
    state.planned = body;
  } catch (error) {
    if (seq !== state.seq) return;
    state.error = error.message || String(error);
  }
  draw();
  render();
}

function setMeeting(latlng) {
  const name = state.section.querySelector('#guidance-meeting-name').value.trim() || 'Sammelstelle';
  state.meeting = { name, lat: latlng.lat, lon: latlng.lng };
  if (!state.marker) {
    // A drawn flag, not Leaflet's image icon: the console loads nothing it does not ship.
    const icon = L.divIcon({
      className: 'guidance-meeting-marker',
      html: '<span aria-hidden="true">⚑</span>',
      iconSize: [28, 28],
      iconAnchor: [14, 26],
    });
    state.marker = L.marker(latlng, { draggable: true, title: name, keyboard: true, icon });
    state.marker.on('dragend', () => {
      const at = state.marker.getLatLng();
      state.meeting = { ...state.meeting, lat: at.lat, lon: at.lng };
      refresh();
    });
  }
  state.marker.setLatLng(latlng).addTo(state.ctx.cmap.map);
  refresh();
}

function mount(section, ctx) {
  state.section = section;
  state.ctx = ctx;
  section.insertAdjacentHTML(
    'beforeend',
    `<h2 class="guidance-title"></h2>
     <label class="check"><input type="checkbox" id="guidance-on"> <span class="guidance-on-label"></span></label>
     <div class="guidance-meeting">
       <label><span class="guidance-meeting-label"></span> <input type="text" id="guidance-meeting-name" maxlength="100"></label>
       <button type="button" id="guidance-place"></button>
       <button type="button" id="guidance-clear" class="quiet"></button>
     </div>
     <label><span class="guidance-buffer-label"></span> <input type="number" id="guidance-buffer" min="0" max="5000" step="10" value="50"></label>
     <div class="guidance-status" aria-live="polite"></div>`
  );
  const labels = () => {
    section.querySelector('.guidance-title').textContent = w('title');
    section.querySelector('.guidance-on-label').textContent = w('on');
    section.querySelector('.guidance-meeting-label').textContent = w('meeting');
    section.querySelector('.guidance-buffer-label').textContent = w('buffer');
    section.querySelector('#guidance-place').textContent = w('place');
    section.querySelector('#guidance-clear').textContent = w('clear');
    render();
  };
  labels();
  onLanguageChange(labels);
  state.group = L.layerGroup().addTo(ctx.cmap.map);
  section.querySelector('#guidance-on').addEventListener('change', (e) => {
    state.on = e.target.checked;
    refresh();
  });
  section.querySelector('#guidance-place').addEventListener('click', () => {
    state.placing = true;
    render();
    ctx.cmap.map.once('click', (e) => {
      state.placing = false;
      setMeeting(e.latlng);
    });
  });
  section.querySelector('#guidance-clear').addEventListener('click', () => {
    state.meeting = null;
    state.marker?.remove();
    refresh();
  });
  section.querySelector('#guidance-buffer').addEventListener('change', (e) => {
    const value = Number(e.target.value);
    state.buffer = Number.isFinite(value) && value >= 0 && value <= 5000 ? value : 50;
    refresh();
  });
  section.querySelector('#guidance-meeting-name').addEventListener('change', (e) => {
    if (!state.meeting) return;
    state.meeting = { ...state.meeting, name: e.target.value.trim() || state.meeting.name };
    refresh();
  });
  ctx.events.on('preview', ({ target, preview }) => {
    state.target = preview ? target : null;
    state.lanternIds = preview ? preview.lantern_ids : null;
    refresh();
  });
  // For tests and other features: what the map shows now (app.js owns window.lightctl).
  window.lightctlGuidance = {
    plan: () => state.plan,
    planned: () => state.planned, // the request the shown plan answers
    drawn: () => ({ ...state.drawn }),
    flashing: () => state.flashing.length, // map layers (shafts and heads) drawn flashing
    setMeeting: (lat, lon) => setMeeting(L.latLng(lat, lon)) };
}

addPanel({ id: 'guidance', view: 'dispatch', order: 30, mount });
// The warning goes with the evacuation the dispatcher saw (the target is the hazard).
addAlertFields(() => {
  if (!state.on || !state.plan) return {};
  const evacuation = { buffer_m: state.buffer };
  if (state.meeting) evacuation.meeting_points = [{ ...state.meeting }];
  return { evacuation };
});
