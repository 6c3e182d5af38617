// How a console feature adds itself without touching the dispatcher's or operator's code: a
// panel (a card in the dispatch or operations view) and/or a map layer (switchable in the
// legend). A feature is one module that calls addPanel/addMapLayer at import time and is listed
// once in features.js; app.js mounts everything after sign-in, when the map and data are ready.
//
//   import { addMapLayer, addPanel } from './extend.js';
//   addPanel({
//     id: 'suggestions', view: 'dispatch', order: 20, title: 'suggestions.title',   // i18n key
//     mount(section, ctx) { ... fill section (a <section class="card">) ... },
//   });
//   addMapLayer({
//     id: 'coverage', label: 'coverage.layer', view: 'dispatch', visible: false,
//     create(ctx) { return L.layerGroup(); },   // any Leaflet layer; added when switched on
//   });
//
// addAlertFields(() => ({evacuation: {...}})) adds fields to the warning being confirmed.
//
// ctx = { cmap (ConsoleMap: .map is the Leaflet map, .renderer its canvas), api, t,
//         onLanguageChange, events, dispatcher, operator }.
// events.on(name, fn) hears: 'preview' {target, preview} after every target preview (preview
// null when the target is empty or refused), 'follow' {alert} when a warning is followed or
// closed (alert null), 'view' {view} when the tab changes ('dispatch' | 'operate').

import { t } from './i18n.js';
import { escapeHtml } from './map.js';

const panels = [];
const layers = [];
const alertFieldSources = [];

export function addPanel(spec) {
  if (!spec || !spec.id || typeof spec.mount !== 'function') throw new Error('addPanel needs {id, mount}');
  panels.push({ view: 'dispatch', order: 50, ...spec });
}

export function addMapLayer(spec) {
  if (!spec || !spec.id || typeof spec.create !== 'function') throw new Error('addMapLayer needs {id, create}');
  layers.push({ view: 'both', visible: false, ...spec });
}

/** A feature adds fields to the warning the dispatcher confirms (fn() -> {field: value}). */
export function addAlertFields(fn) {
  alertFieldSources.push(fn);
}

/** Every feature's fields for the alert being confirmed now. */
export function alertFields() {
  return Object.assign({}, ...alertFieldSources.map((fn) => fn() || {}));
}

/** A tiny event hub shared by the console's parts and its features. */
export class Events {
  constructor() {
    this.listeners = new Map();
  }

  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, []);
    this.listeners.get(name).push(fn);
  }

  emit(name, detail) {
    for (const fn of this.listeners.get(name) || []) {
      try {
        fn(detail);
      } catch (error) {
        console.error(`console feature failed on ${name}`, error); // one feature never stops the rest
      }
    }
  }
}

/** Mount every registered panel into its view and every layer into the map's layer switch. */
export function mountFeatures(ctx) {
  for (const spec of [...panels].sort((a, b) => a.order - b.order)) {
    const host = document.getElementById(`features-${spec.view}`);
    if (!host) continue;
    const section = document.createElement('section');
    section.className = 'card feature';
    section.id = `feature-${spec.id}`;
    if (spec.title) {
      const heading = document.createElement('h2');
      heading.dataset.i18n = spec.title;
      heading.textContent = t(spec.title);
      section.append(heading);
    }
    host.append(section);
    spec.mount(section, ctx);
  }
  const switches = document.getElementById('layer-switches');
  const mounted = layers.map((spec) => ({ spec, layer: null, on: Boolean(spec.visible) }));
  const apply = (view) => {
    for (const item of mounted) {
      const wanted = item.on && (item.spec.view === 'both' || item.spec.view === view);
      if (wanted && !item.layer) item.layer = item.spec.create(ctx);
      if (!item.layer) continue;
      if (wanted && !ctx.cmap.map.hasLayer(item.layer)) item.layer.addTo(ctx.cmap.map);
      if (!wanted && ctx.cmap.map.hasLayer(item.layer)) item.layer.remove();
    }
  };
  let view = 'dispatch';
  const render = () => {
    if (!switches) return;
    switches.hidden = mounted.length === 0;
    switches.innerHTML = mounted
      .map(
        ({ spec, on }) =>
          `<label class="check"><input type="checkbox" data-layer="${escapeHtml(spec.id)}"${on ? ' checked' : ''}> ${escapeHtml(t(spec.label || spec.id))}</label>`
      )
      .join('');
  };
  switches?.addEventListener('change', (e) => {
    const item = mounted.find((m) => m.spec.id === e.target.dataset.layer);
    if (!item) return;
    item.on = e.target.checked;
    apply(view);
  });
  ctx.events.on('view', (detail) => {
    view = detail.view;
    apply(view);
  });
  ctx.onLanguageChange(render);
  render();
  apply(view);
}
