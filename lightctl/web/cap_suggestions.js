// CAP / MoWaS warnings that the policy does not play by itself arrive here as suggestions: what
// the message says (per language), where (streets, lanterns, the part of the area outside our
// inventory, unknown geocodes) and why it waits; one click sends it at slot 2 or dismisses it.

import { api } from './api.js';
import { addMapLayer, addPanel } from './extend.js';
import { languageName, t } from './i18n.js';
import { escapeHtml } from './map.js';

// The console polls a few times a second for other things; suggestions change rarely.
const POLL_MS = 5000;
const layer = { group: null, shown: null };

function planSummary(plan) {
  const streets = (plan.streets || []).map((s) => s.name).slice(0, 5).join(', ');
  const languages = (plan.languages || []).map((l) => languageName(l)).join(', ');
  const parts = [
    t('cap.lanterns', { n: plan.lantern_count || 0 }),
    streets && t('cap.streets', { streets }),
    languages && t('cap.languages', { languages }),
  ].filter(Boolean);
  if (plan.skipped_languages?.length) parts.push(t('cap.skipped', { languages: plan.skipped_languages.join(', ') }));
  if (plan.unknown_geocodes?.length) parts.push(t('cap.unknown', { codes: plan.unknown_geocodes.join(', ') }));
  if (plan.outside_share > 0) parts.push(t('cap.outside', { pct: Math.round(plan.outside_share * 100) }));
  return parts.join(' · ');
}

function render(list, section) {
  const box = section.querySelector('.cap-list');
  if (!list.length) {
    box.innerHTML = `<p class="hint">${escapeHtml(t('cap.none'))}</p>`;
    return;
  }
  box.innerHTML = list
    .map((m) => {
      const plan = m.plan || {};
      const first = (plan.languages || [])[0];
      const text = first ? plan.messages[first] : '';
      const canSend = (plan.lantern_count || 0) > 0;
      return `<article class="cap-suggestion" data-id="${escapeHtml(m.id)}">
        <h3>${escapeHtml(plan.headline || m.identifier)}</h3>
        <p class="meta">${escapeHtml(m.sender)} · ${escapeHtml(m.status)} · ${escapeHtml(m.reason)}</p>
        <p class="meta">${escapeHtml(planSummary(plan))}</p>
        <p class="cap-text">${escapeHtml(text)}</p>
        <div class="actions">
          <button type="button" data-cap-show="${escapeHtml(m.id)}">${escapeHtml(t('cap.show'))}</button>
          <button type="button" class="primary" data-cap-send="${escapeHtml(m.id)}"${canSend ? '' : ' disabled'}>${escapeHtml(t('cap.send'))}</button>
          <button type="button" data-cap-dismiss="${escapeHtml(m.id)}">${escapeHtml(t('cap.dismiss'))}</button>
        </div>
      </article>`;
    })
    .join('');
}

function show(ctx, message) {
  if (!layer.group || !message?.plan?.area || typeof L === 'undefined') return;
  layer.group.clearLayers();
  const area = L.geoJSON(message.plan.area, { style: { color: '#d00', weight: 2, fillOpacity: 0.1 } });
  area.addTo(layer.group);
  if (message.plan.outside_area) {
    L.geoJSON(message.plan.outside_area, { style: { color: '#777', dashArray: '4', fillOpacity: 0.05 } }).addTo(layer.group);
  }
  if (!ctx.cmap.map.hasLayer(layer.group)) layer.group.addTo(ctx.cmap.map);
  ctx.cmap.map.fitBounds(area.getBounds(), { maxZoom: 17 });
}

addMapLayer({
  id: 'cap-areas',
  label: 'cap.layer',
  view: 'dispatch',
  visible: true,
  create() {
    layer.group = L.layerGroup();
    return layer.group;
  },
});

addPanel({
  id: 'cap-suggestions',
  view: 'dispatch',
  order: 20,
  title: 'cap.title',
  mount(section, ctx) {
    section.insertAdjacentHTML('beforeend', '<div class="cap-list"></div><p class="error" role="alert"></p>');
    const error = section.querySelector('.error');
    let list = [];
    const refresh = async () => {
      try {
        list = await api.capMessages('suggested');
        render(list, section);
        error.textContent = '';
      } catch (e) {
        if (e.status !== 401) error.textContent = e.message;
      }
    };
    section.addEventListener('click', async (e) => {
      const button = e.target.closest('button[data-cap-send], button[data-cap-dismiss], button[data-cap-show]');
      if (!button) return;
      const id = button.dataset.capSend || button.dataset.capDismiss || button.dataset.capShow;
      if (button.dataset.capShow) {
        show(ctx, list.find((m) => m.id === id));
        return;
      }
      button.disabled = true;
      try {
        if (button.dataset.capSend) {
          const sent = await api.sendCapSuggestion(id);
          const alertId = sent.alert_ids?.[0];
          if (alertId && ctx.dispatcher?.follow) ctx.dispatcher.follow(await api.alert(alertId), true);
        } else {
          await api.dismissCapSuggestion(id);
        }
      } catch (err) {
        error.textContent = err.message;
      }
      await refresh();
    });
    ctx.onLanguageChange(() => render(list, section));
    refresh();
    setInterval(refresh, POLL_MS);
  },
});
