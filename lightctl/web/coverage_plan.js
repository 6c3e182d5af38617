// Acoustic coverage in the console (issue 19): for planners, every street coloured by what its
// speakers achieve (intelligible / audible / not covered, GET /coverage), the largest gaps and
// where one more speaker would help most; for the dispatcher following a warning, what the
// lanterns that confirmed playing actually cover (GET /alerts/{id}/coverage), gaps in red.
// The preview's own coverage is in the confirm step (confirm.js) and its gaps on the map.

import { api } from './api.js';
import { addMapLayer, addPanel } from './extend.js';
import { addStrings, t } from './i18n.js';
import { escapeHtml } from './map.js';

addStrings({
  de: {
    'coverage.layer': 'Beschallung (Planung)',
    'coverage.alertLayer': 'Beschallung der Warnung',
    'coverage.title': 'Beschallung planen',
    'coverage.intro': 'Wie gut die funktionierenden Lautsprecher jede Strasse erreichen (ISO 9613-2, Umgebungslärm nach Strassenklasse oder Lärmkarte).',
    'coverage.show': 'Auf der Karte zeigen',
    'coverage.hide': 'Von der Karte nehmen',
    'coverage.level': 'Lautstärke aller Lautsprecher (dB(A) in 1 m)',
    'coverage.recompute': 'Neu berechnen',
    'coverage.loading': 'Wird berechnet …',
    'coverage.day': 'Tag',
    'coverage.night': 'Nacht',
    'coverage.mapBy': 'Karte nach Umgebungslärm am',
    'coverage.shares': '{intelligible} verständlich, {audible} hörbar, {none} nicht erreicht',
    'coverage.speakers': '{n} funktionierende Lautsprecher · {broken} defekt · {km} km Strasse',
    'coverage.gaps': 'Grösste Lücken ({n} insgesamt)',
    'coverage.noGaps': 'Keine Lücke: jede Strasse ist mindestens hörbar.',
    'coverage.gap': '{street}: {m} m nicht erreicht',
    'coverage.next': 'Wo ein weiterer Lautsprecher am meisten bringt',
    'coverage.noNext': 'Kein weiterer Standort würde eine Lücke schliessen.',
    'coverage.suggestion': '{street}: +{m} m verständlich',
    'coverage.zoom': 'Zeigen',
    'coverage.unnamed': 'Strasse ohne Namen',
    'coverage.legend.intelligible': 'verständlich (≥ Umgebung + 10 dB)',
    'coverage.legend.audible': 'hörbar (+5 bis +10 dB)',
    'coverage.legend.not_covered': 'nicht erreicht',
    'coverage.legend.next': 'Vorschlag für einen weiteren Lautsprecher',
    'coverage.alertTitle': 'Tatsächlich beschallt',
    'coverage.alertBody': 'Leuchten, die das Abspielen bestätigt haben: {shares} · {gaps} Lücken (rot auf der Karte)',
  },
  en: {
    'coverage.layer': 'Acoustic coverage (planning)',
    'coverage.alertLayer': 'Coverage of the warning',
    'coverage.title': 'Plan acoustic coverage',
    'coverage.intro': 'How well the working speakers reach every street (ISO 9613-2, ambient noise by street class or noise map).',
    'coverage.show': 'Show on map',
    'coverage.hide': 'Remove from map',
    'coverage.level': 'Level of every speaker (dB(A) at 1 m)',
    'coverage.recompute': 'Recompute',
    'coverage.loading': 'Computing …',
    'coverage.day': 'Day',
    'coverage.night': 'Night',
    'coverage.mapBy': 'Map by the ambient at',
    'coverage.shares': '{intelligible} intelligible, {audible} audible, {none} not covered',
    'coverage.speakers': '{n} working speakers · {broken} broken · {km} km of street',
    'coverage.gaps': 'Largest gaps ({n} in all)',
    'coverage.noGaps': 'No gap: every street is at least audible.',
    'coverage.gap': '{street}: {m} m not covered',
    'coverage.next': 'Where one more speaker helps most',
    'coverage.noNext': 'No further position would close a gap.',
    'coverage.suggestion': '{street}: +{m} m intelligible',
    'coverage.zoom': 'Show',
    'coverage.unnamed': 'unnamed street',
    'coverage.legend.intelligible': 'intelligible (≥ ambient + 10 dB)',
    'coverage.legend.audible': 'audible (+5 to +10 dB)',
    'coverage.legend.not_covered': 'not covered',
    'coverage.legend.next': 'suggested next speaker',
    'coverage.alertTitle': 'Actually covered',
    'coverage.alertBody': 'Lanterns that confirmed playing: {shares} · {gaps} gaps (red on the map)',
  },
});

export const RATING_COLORS = { intelligible: '#16a34a', audible: '#f59e0b', not_covered: '#dc2626' };
const NEXT_COLOR = '#7c3aed';
const SUGGESTIONS = 5;
const LISTED_GAPS = 8;
// While a followed warning plays, lanterns confirm one by one: ask again this often, and stop
// once the answer has not changed for STABLE_POLLS polls.
const ALERT_POLL_MS = 4000;
const STABLE_POLLS = 5;

const plan = { report: null, group: null, section: null, ctx: null, busy: false, error: '', night: false };
const heard = { group: null, alertId: null, report: null, timer: null, same: 0 };

function pct(x) {
  return `${Math.round((x || 0) * 100)} %`;
}

function shares(s) {
  return t('coverage.shares', { intelligible: pct(s.intelligible), audible: pct(s.audible), none: pct(s.not_covered) });
}

function lonlatToLatLng(coords) {
  return coords.map(([lon, lat]) => [lat, lon]);
}

/** What the planning layer draws, counted (for the browser test and the panel). */
export function shownCoverage() {
  const out = { intelligible: 0, audible: 0, not_covered: 0, gaps: 0, suggestions: 0, alertGaps: 0 };
  for (const layer of plan.group ? plan.group.getLayers() : []) out[layer.options.coverage] += 1;
  out.alertGaps = heard.group ? heard.group.getLayers().length : 0;
  return out;
}

function drawPlan() {
  const group = plan.group;
  const report = plan.report;
  if (!group) return;
  group.clearLayers();
  if (!report) return;
  const renderer = plan.ctx.cmap.renderer;
  for (const feature of report.geojson?.features || []) {
    // By night the streets are quieter: the same speakers cover more (night_rating).
    const rating = (plan.night && feature.properties.night_rating) || feature.properties.rating;
    L.polyline(lonlatToLatLng(feature.geometry.coordinates), {
      renderer,
      color: RATING_COLORS[rating],
      weight: rating === 'intelligible' ? 3 : 5,
      opacity: 0.75,
      interactive: false, // clicks still reach the street underneath
      coverage: rating,
    }).addTo(group);
  }
  for (const gap of report.gaps || []) {
    L.polyline(lonlatToLatLng(gap.geometry.coordinates), {
      renderer,
      color: RATING_COLORS.not_covered,
      weight: 8,
      opacity: 0.9,
      dashArray: '6 4',
      interactive: false,
      coverage: 'gaps',
    }).addTo(group);
  }
  report.suggestions.forEach((s, i) => {
    L.circleMarker([s.lat, s.lon], {
      renderer,
      radius: 9,
      color: '#fff',
      weight: 2,
      fillColor: NEXT_COLOR,
      fillOpacity: 0.95,
      coverage: 'suggestions',
    })
      .bindTooltip(`${i + 1}. ${t('coverage.suggestion', { street: s.street || t('coverage.unnamed'), m: Math.round(s.newly_covered_m) })}`)
      .addTo(group);
  });
}

function renderPlan() {
  const section = plan.section;
  if (!section) return;
  const report = plan.report;
  const summary = section.querySelector('.coverage-summary');
  const lists = section.querySelector('.coverage-lists');
  section.querySelector('.error').textContent = plan.error;
  section.querySelector('[data-coverage-toggle]').textContent = layerShown() ? t('coverage.hide') : t('coverage.show');
  section.querySelector('[data-coverage-recompute]').disabled = plan.busy;
  if (plan.busy) summary.textContent = t('coverage.loading');
  if (!report) {
    if (!plan.busy) summary.textContent = '';
    lists.innerHTML = '';
    return;
  }
  if (!plan.busy) {
    summary.innerHTML = `
      <p class="coverage-day"><strong>${escapeHtml(t('coverage.day'))}:</strong> ${escapeHtml(shares(report))}</p>
      <p class="coverage-night"><strong>${escapeHtml(t('coverage.night'))}:</strong> ${escapeHtml(shares(report.night))}</p>
      <p class="meta">${escapeHtml(
        t('coverage.speakers', {
          n: report.speaker_count,
          broken: report.broken_speaker_count,
          km: (report.length_m / 1000).toFixed(1),
        })
      )}</p>
      ${report.warnings.map((w) => `<p class="coverage-warning warn">${escapeHtml(w)}</p>`).join('')}`;
  }
  const gaps = report.gaps.slice(0, LISTED_GAPS);
  const zoom = (kind, i) => `<button type="button" class="link" data-coverage-zoom="${kind}:${i}">${escapeHtml(t('coverage.zoom'))}</button>`;
  lists.innerHTML = `
    <ul class="coverage-legend">
      ${['intelligible', 'audible', 'not_covered']
        .map((r) => `<li><span class="swatch" style="background:${RATING_COLORS[r]}"></span>${escapeHtml(t(`coverage.legend.${r}`))}</li>`)
        .join('')}
      <li><span class="swatch round" style="background:${NEXT_COLOR}"></span>${escapeHtml(t('coverage.legend.next'))}</li>
    </ul>
    <h3>${escapeHtml(t('coverage.gaps', { n: report.gap_count }))}</h3>
    ${
      gaps.length
        ? `<ol class="coverage-gaps">${gaps
            .map((g, i) => `<li>${escapeHtml(t('coverage.gap', { street: g.street || t('coverage.unnamed'), m: Math.round(g.length_m) }))} ${zoom('gap', i)}</li>`)
            .join('')}</ol>`
        : `<p class="hint">${escapeHtml(t('coverage.noGaps'))}</p>`
    }
    <h3>${escapeHtml(t('coverage.next'))}</h3>
    ${
      report.suggestions.length
        ? `<ol class="coverage-suggestions">${report.suggestions
            .map((s, i) => `<li>${escapeHtml(t('coverage.suggestion', { street: s.street || t('coverage.unnamed'), m: Math.round(s.newly_covered_m) }))} ${zoom('next', i)}</li>`)
            .join('')}</ol>`
        : `<p class="hint">${escapeHtml(t('coverage.noNext'))}</p>`
    }`;
}

function layerShown() {
  const box = document.querySelector('#layer-switches input[data-layer="coverage"]');
  return Boolean(box && box.checked);
}

function showLayer(on) {
  const box = document.querySelector('#layer-switches input[data-layer="coverage"]');
  if (!box || box.checked === on) return;
  box.checked = on;
  box.dispatchEvent(new Event('change', { bubbles: true }));
}

async function loadPlan() {
  if (plan.busy || !plan.ctx) return;
  const input = plan.section?.querySelector('[name="coverage-level"]');
  const level = input && input.value.trim() !== '' ? Number(input.value) : null;
  plan.busy = true;
  plan.error = '';
  renderPlan();
  try {
    const query = new URLSearchParams({ suggestions: String(SUGGESTIONS), geojson: 'true' });
    if (level !== null) query.set('level_db', String(level));
    plan.report = await api.coverage(query.toString());
  } catch (e) {
    // A refused level names the field (problem+json detail); what was typed stays in the input.
    plan.error = e.message;
  } finally {
    plan.busy = false;
  }
  renderPlan();
  drawPlan();
}

function zoomTo(kind, index) {
  const report = plan.report;
  if (!report) return;
  showLayer(true);
  const map = plan.ctx.cmap.map;
  if (kind === 'gap') {
    const gap = report.gaps[index];
    if (gap) map.fitBounds(L.latLngBounds(lonlatToLatLng(gap.geometry.coordinates)), { maxZoom: 18 });
  } else {
    const s = report.suggestions[index];
    if (s) map.setView([s.lat, s.lon], Math.max(map.getZoom(), 17));
  }
}

addMapLayer({
  id: 'coverage',
  label: 'coverage.layer',
  view: 'both',
  visible: false,
  create() {
    plan.group = L.layerGroup();
    if (plan.report) drawPlan();
    else loadPlan();
    setTimeout(renderPlan); // the toggle button follows the switch
    return plan.group;
  },
});

addPanel({
  id: 'coverage-plan',
  view: 'operate',
  order: 30,
  title: 'coverage.title',
  mount(section, ctx) {
    plan.section = section;
    plan.ctx = ctx;
    section.insertAdjacentHTML(
      'beforeend',
      `<p class="hint" data-i18n="coverage.intro">${escapeHtml(t('coverage.intro'))}</p>
      <div class="actions">
        <button type="button" class="primary" data-coverage-toggle></button>
      </div>
      <fieldset class="coverage-time">
        <legend data-i18n="coverage.mapBy">${escapeHtml(t('coverage.mapBy'))}</legend>
        <label class="check"><input type="radio" name="coverage-time" value="day" checked> <span data-i18n="coverage.day">${escapeHtml(t('coverage.day'))}</span></label>
        <label class="check"><input type="radio" name="coverage-time" value="night"> <span data-i18n="coverage.night">${escapeHtml(t('coverage.night'))}</span></label>
      </fieldset>
      <div class="field">
        <label for="coverage-level" data-i18n="coverage.level">${escapeHtml(t('coverage.level'))}</label>
        <input id="coverage-level" name="coverage-level" type="number" inputmode="decimal" step="1" placeholder="100">
        <button type="button" data-coverage-recompute data-i18n="coverage.recompute">${escapeHtml(t('coverage.recompute'))}</button>
      </div>
      <div class="coverage-summary" role="status" aria-live="polite"></div>
      <p class="error" role="alert"></p>
      <div class="coverage-lists"></div>`
    );
    section.addEventListener('click', (e) => {
      const button = e.target.closest('button');
      if (!button) return;
      if (button.hasAttribute('data-coverage-toggle')) {
        showLayer(!layerShown());
        if (!plan.report) loadPlan();
        renderPlan();
      } else if (button.hasAttribute('data-coverage-recompute')) {
        loadPlan();
      } else if (button.dataset.coverageZoom) {
        const [kind, i] = button.dataset.coverageZoom.split(':');
        zoomTo(kind, Number(i));
      }
    });
    section.querySelector('.coverage-time').addEventListener('change', (e) => {
      plan.night = e.target.value === 'night';
      drawPlan();
    });
    section.querySelector('[name="coverage-level"]').addEventListener('keydown', (e) => {
      if (e.key === 'Enter') loadPlan();
    });
    document.getElementById('layer-switches')?.addEventListener('change', () => setTimeout(renderPlan));
    ctx.onLanguageChange(() => {
      renderPlan();
      drawPlan();
    });
    // Planners land on the operations view: compute once it is opened.
    ctx.events.on('view', ({ view }) => {
      if (view === 'operate' && !plan.report) loadPlan();
    });
    renderPlan();
    window.lightctlCoverage = { shown: shownCoverage, reload: loadPlan };
  },
});

// ---- the followed warning: what the lanterns that confirmed playing cover ---------------------

function drawHeard() {
  if (!heard.group) return;
  heard.group.clearLayers();
  for (const gap of heard.report?.gaps || []) {
    L.polyline(lonlatToLatLng(gap.geometry.coordinates), {
      renderer: plan.ctx?.cmap.liveRenderer,
      color: RATING_COLORS.not_covered,
      weight: 7,
      opacity: 0.9,
      interactive: false,
    }).addTo(heard.group);
  }
}

function renderHeard(section) {
  const report = heard.report;
  section.hidden = !heard.alertId || !report;
  if (!report) return;
  section.querySelector('.coverage-heard').textContent = t('coverage.alertBody', {
    shares: shares(report),
    gaps: report.gap_count,
  });
}

addMapLayer({
  id: 'coverage-alert',
  label: 'coverage.alertLayer',
  view: 'dispatch',
  visible: true,
  create() {
    heard.group = L.layerGroup();
    drawHeard();
    return heard.group;
  },
});

addPanel({
  id: 'coverage-alert',
  view: 'dispatch',
  order: 15,
  title: 'coverage.alertTitle',
  mount(section, ctx) {
    plan.ctx = plan.ctx || ctx;
    section.hidden = true;
    section.insertAdjacentHTML('beforeend', '<p class="coverage-heard" role="status" aria-live="polite"></p>');
    const poll = async () => {
      const id = heard.alertId;
      if (!id) return;
      try {
        const report = await api.alertCoverage(id);
        if (id !== heard.alertId) return;
        const same = JSON.stringify(report) === JSON.stringify(heard.report);
        const sameGaps = JSON.stringify(report.gaps) === JSON.stringify(heard.report?.gaps);
        heard.same = same ? heard.same + 1 : 0;
        heard.report = report;
        if (!same) renderHeard(section);
        if (!sameGaps) drawHeard(); // the shares change more often than the gaps

      } catch {
        // the alert's card shows delivery itself; coverage is an extra
      }
      if (heard.alertId === id && heard.same < STABLE_POLLS) heard.timer = setTimeout(poll, ALERT_POLL_MS);
    };
    ctx.events.on('follow', ({ alert }) => {
      clearTimeout(heard.timer);
      heard.alertId = alert ? alert.id : null;
      heard.report = null;
      heard.same = 0;
      renderHeard(section);
      drawHeard();
      if (heard.alertId) poll();
    });
    ctx.onLanguageChange(() => renderHeard(section));
  },
});

// A few rules of this module's own (kept here so that style.css stays as other work left it).
const style = document.createElement('style');
style.textContent = `
  .coverage-legend { list-style: none; padding: 0; margin: 0.5rem 0; display: grid; gap: 0.2rem; }
  .coverage-legend .swatch { display: inline-block; width: 1.4rem; height: 0.45rem; margin-right: 0.4rem; vertical-align: middle; border-radius: 2px; }
  .coverage-legend .swatch.round { width: 0.8rem; height: 0.8rem; border-radius: 50%; }
  .coverage-summary p { margin: 0.2rem 0; }
  .coverage-time { border: none; padding: 0; margin: 0.5rem 0; display: flex; gap: 1rem; align-items: center; }
  .coverage-time legend { float: left; margin-right: 0.5rem; padding: 0; }
  .coverage-gaps, .coverage-suggestions { padding-left: 1.3rem; margin: 0.3rem 0 0.8rem; }
  .coverage-gaps li, .coverage-suggestions li { margin: 0.15rem 0; }
  button.link { background: none; border: none; padding: 0 0.2rem; color: inherit; text-decoration: underline; cursor: pointer; }
`;
document.head.append(style);
