// The map: our own street geometry as the basemap (no tiles, nothing from the internet) and every
// lantern as a dot coloured by what it is doing, or by its delivery state in a followed alert.
// Streets are Leaflet polylines on one canvas (one layer per street and kind, so a click picks the
// street); the lanterns are drawn on a canvas of their own above them (dots.js), which lets
// clicks through to the streets and finds lanterns itself.

import { CLUSTER_BELOW_ZOOM, LanternDots } from './dots.js';
import { t } from './i18n.js';
import { Paced } from './pace.js';

const L = window.L;

// The map follows the fleet and a followed alert with 4 pictures a second at most: enough to
// watch a warning spread, and a small share of the main thread on a loaded machine.
const RESTYLE_GAP_MS = 250;
// Dots restyled per frame while the stream runs: ~3 ms of main-thread CPU on the test host.
const RESTYLE_SLICE = 1000;

const PROJECTION_COLOR = '#67e8f9';
// A lantern the dispatcher looks into: one the followed alert missed.
const PROBLEM_GROUPS = new Set(['failed', 'unreachable']); // an arrow whose command names no colour

// Delivery states (ARCHITECTURE.md, Delivery) folded into what the dispatcher reads.
export const DELIVERY_GROUP = {
  held: 'waiting',
  planned: 'waiting',
  published: 'waiting',
  received: 'received',
  playing: 'playing',
  done: 'done',
  applied: 'done',
  failed: 'failed',
  rejected: 'failed',
  unreachable: 'unreachable',
  expired: 'unreachable',
  cancelled: 'ended',
  superseded: 'ended',
  interrupted: 'ended',
};

export const DELIVERY_COLORS = {
  waiting: '#94a3b8',
  received: '#3b82f6',
  playing: '#f59e0b',
  done: '#22c55e',
  failed: '#ef4444',
  unreachable: '#a855f7',
  ended: '#64748b',
};

const LIVE_COLORS = {
  online: '#f5e6b8', // warm white: a lantern lighting the street as usual
  offline: '#475569',
  unknown: '#94a3b8',
  playing: '#22d3ee', // ring around a lantern whose speaker is busy
  selected: '#facc15', // ring around lanterns the previewed target reaches
  focus: '#f472b6', // the lantern the operator inspects
};

const STREET_STYLE = {
  major: { color: '#7b8798', weight: 5 },
  minor: { color: '#5b6678', weight: 3.5 },
  path: { color: '#414b5b', weight: 1.5 },
};
const MAJOR = new Set(['motorway', 'trunk', 'primary', 'secondary', 'tertiary']);
const PATHS = new Set(['footway', 'steps', 'path', 'cycleway', 'bridleway', 'track']);

// Below this zoom the street names would cover the streets; only main roads are labelled.
const LABEL_ALL_FROM_ZOOM = 17;
const LABEL_MAJOR_FROM_ZOOM = 15;

// The server's street key (lightctl/geo/names.py), so a typed "bahnhofstr." finds Bahnhofstrasse.
const FOLD = { ä: 'ae', ö: 'oe', ü: 'ue', æ: 'ae', ø: 'oe', œ: 'oe' };

export function streetKey(name) {
  let text = (name || '').normalize('NFKC').toLowerCase().replace(/ß/g, 'ss');
  text = text.replace(/[äöüæøœ]/g, (c) => FOLD[c]);
  text = text.normalize('NFKD').replace(/\p{M}/gu, '');
  text = text
    .replace(/str\b\.?/g, 'strasse')
    .replace(/(?<=\w)pl\.|\bpl\b\.?/g, 'platz')
    .replace(/\bsankt\b/g, 'st');
  return text.replace(/[^\p{L}\p{N}]+/gu, '');
}

function classOf(cls) {
  if (MAJOR.has(cls)) return 'major';
  if (PATHS.has(cls)) return 'path';
  return 'minor';
}

export class ConsoleMap {
  /** handlers: onStreet(name), onLantern(id), onClick(latlng) (only while drawing). */
  constructor(element, handlers) {
    this.handlers = handlers;
    this.map = L.map(element, {
      preferCanvas: true,
      zoomSnap: 0.5,
      minZoom: 12,
      maxZoom: 20,
      keyboard: true,
    });
    this.map.attributionControl.setPrefix(
      '<a href="https://leafletjs.com">Leaflet</a>'
    );
    this.map.attributionControl.addAttribution(
      '© OpenStreetMap contributors, Overture Maps Foundation'
    );
    this.renderer = L.canvas({ padding: 0.2, tolerance: 6 });
    // Lines that change while a warning plays (coverage gaps) go on an SVG layer of their own:
    // on the streets' canvas every change repainted all ~400 street layers and copied the whole
    // canvas to the compositor (46-72 ms of main-thread CPU each in a trace of a city-wide
    // warning on the demo fleet); an SVG path changes alone and is rastered off the main thread.
    const changing = this.map.createPane('changing');
    changing.style.zIndex = 420;
    changing.style.pointerEvents = 'none'; // clicks reach the streets underneath
    this.liveRenderer = L.svg({ padding: 0.2, pane: 'changing' });
    this.mode = 'dispatch'; // dispatch | operate | draw
    this.view = 'dispatch'; // the tab shown (drawing happens in either)
    this.streetLayers = [];
    this.streetsByKey = new Map();
    this.selectedStreets = new Set();
    this.labels = L.layerGroup();
    this.majorLabels = L.layerGroup();
    this.markers = new Map(); // lantern id -> dot record (what dots.js draws; tests read .shown)
    this.arrows = new Map(); // lantern id -> projected pictogram (only lanterns that project)
    this.live = new Map(); // lantern id -> live state (shared with LiveFleet)
    this.preview = null; // Set of lantern ids the previewed target reaches
    this.delivery = null; // Map lantern id -> delivery state of the followed alert
    this.focus = null; // lantern id the operator inspects
    this.shapes = L.layerGroup().addTo(this.map); // the dispatcher's drawn target
    this.routes = L.layerGroup(); // steering routes, in the operator's view
    this.gaps = L.layerGroup().addTo(this.map); // stretches the previewed speakers do not cover
    this.legend = null;
    // Streets first, dots on top: the lanterns' pane sits above the streets' (overlayPane, 400)
    // and below the street labels (markerPane, 600), so names stay readable.
    this.map.createPane('lanterns').style.zIndex = 450;
    this.dots = new LanternDots(this.markers, this.arrows).addTo(this.map);
    this.restyle = new Paced(() => this._restyleSliced(), RESTYLE_GAP_MS);
    this.restyled = false; // a dot changed in the sliced restyle under way
    this.dirty = new Set(); // lantern ids to restyle at the next picture
    this.dirtyAll = true;
    this.map.on('zoomend', () => this._onZoom());
    this.map.on('click', (e) => {
      if (this.mode === 'draw') this.handlers.onClick?.(e.latlng);
      else this._clickLantern(e.containerPoint);
    });
    this.map.on('mousemove', (e) => this._hover(e.containerPoint));
  }

  /** A click that no street took: the lantern under it (operator), or zoom into a cluster. */
  _clickLantern(point) {
    const hit = this.dots.lanternAt(point);
    if (!hit) return;
    if (hit.cluster) {
      this.map.setView(hit.latlng, Math.max(CLUSTER_BELOW_ZOOM, this.map.getZoom() + 1.5));
      return;
    }
    if (this.mode === 'operate') this.handlers.onLantern?.(hit);
    else this.handlers.onDispatchLantern?.(hit);
  }

  /** A pointer over a lantern the operator can pick, or a cluster to open. */
  _hover(point) {
    if (this.hoverPending || this.mode === 'draw') return;
    this.hoverPending = true;
    requestAnimationFrame(() => {
      this.hoverPending = false;
      const hit = this.dots.lanternAt(point);
      const pickable = hit && (hit.cluster || this.mode === 'operate' || this.handlers.canPickInDispatch?.(hit));
      this.map.getContainer().classList.toggle('over-lantern', Boolean(pickable));
    });
  }

  attachLegend(element) {
    this.legend = element;
    this.renderLegend();
  }

  /** Draw the street segments (GeoJSON FeatureCollection of LineStrings, lon/lat). */
  setStreets(collection) {
    for (const layer of this.streetLayers) layer.remove();
    this.streetLayers = [];
    this.streetsByKey.clear();
    this.labels.clearLayers();
    this.majorLabels.clearLayers();
    const bounds = L.latLngBounds([]);
    for (const feature of collection.features) {
      for (const [lon, lat] of feature.geometry.coordinates) bounds.extend([lat, lon]);
    }
    this._ensureView(bounds);
    // One polyline per street name and kind (the demo's 3,406 segments are ~400 layers), and the
    // unnamed paths one per kind: Leaflet's cost per redraw grows with the number of layers.
    const merged = new Map();
    for (const feature of collection.features) {
      const { name } = feature.properties;
      const kind = classOf(feature.properties.class);
      const key = `${kind}|${name ? streetKey(name) : ''}`;
      if (!merged.has(key)) merged.set(key, { name: name || null, kind, parts: [] });
      merged.get(key).parts.push(feature.geometry.coordinates.map(([lon, lat]) => [lat, lon]));
    }
    // Paths first, then minor, then major roads, so the important lines are drawn on top.
    const order = { path: 0, minor: 1, major: 2 };
    const streets = [...merged.values()].sort((a, b) => order[a.kind] - order[b.kind]);
    const longest = new Map();
    for (const { name, kind, parts } of streets) {
      const layer = L.polyline(parts, {
        renderer: this.renderer,
        ...STREET_STYLE[kind],
        lineCap: 'round',
        interactive: Boolean(name),
      });
      layer.streetName = name;
      layer.streetKind = kind;
      layer.parts = parts;
      if (name) {
        const key = streetKey(name);
        if (!this.streetsByKey.has(key)) this.streetsByKey.set(key, []);
        this.streetsByKey.get(key).push(layer);
        // Leaflet puts a string tooltip in as HTML: a street name is data (from an inventory
        // file anyone may have edited), so it goes in escaped and shows as the text it is.
        layer.bindTooltip(escapeHtml(name), { sticky: true, className: 'street-tip', direction: 'top' });
        layer.on('click', (e) => {
          if (this.mode !== 'dispatch') return;
          L.DomEvent.stop(e);
          // A lantern the followed alert missed, drawn on the street: its story, not the street.
          const lantern = this.dots.lanternAt(e.containerPoint);
          if (typeof lantern === 'string' && this.handlers.canPickInDispatch?.(lantern)) {
            this.handlers.onDispatchLantern?.(lantern);
            return;
          }
          this.handlers.onStreet?.(name);
        });
        for (const latlngs of parts) {
          const length = pathLength(latlngs);
          const best = longest.get(key);
          if (!best || best.length < length) longest.set(key, { name, kind, latlngs, length });
        }
      }
      layer.addTo(this.map);
      this.streetLayers.push(layer);
    }
    for (const { name, kind, latlngs } of longest.values()) {
      const marker = L.marker(midpoint(latlngs), {
        icon: L.divIcon({ className: 'street-label', html: `<span>${escapeHtml(name)}</span>`, iconSize: null }),
        interactive: false,
        keyboard: false,
      });
      (kind === 'major' ? this.majorLabels : this.labels).addLayer(marker);
    }
    this.bounds = bounds;
    this._restyleStreets();
    this._onZoom();
  }

  /** Show the whole inventory: the lanterns' extent, else the streets'. */
  fitAll() {
    const points = [...this.live.values()].map((l) => [l.lat, l.lon]);
    const bounds = points.length ? L.latLngBounds(points) : this.bounds;
    if (bounds && bounds.isValid()) this.map.fitBounds(bounds, { padding: [20, 20], animate: false });
    this.hasView = true;
  }

  /** Bring these lanterns into view (zooming out only as far as they need). */
  showLanterns(ids) {
    const points = ids.map((id) => this.live.get(id)).filter(Boolean).map((l) => [l.lat, l.lon]);
    if (!points.length) return;
    const bounds = L.latLngBounds(points);
    if (this.map.getBounds().contains(bounds)) return;
    this.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 18, animate: false });
  }

  /** Leaflet draws nothing (and throws) before the map has a view: give it one first. */
  _ensureView(bounds) {
    if (this.hasView) return;
    if (bounds.isValid()) this.map.fitBounds(bounds, { animate: false });
    else this.map.setView([0, 0], 2, { animate: false }); // an empty inventory: nothing to show
    this.hasView = true;
  }

  /**
   * Follow the fleet (a Map id -> live state, see live.js). changes: {changed, removed} from
   * the last poll, or null to look at every lantern.
   */
  setLive(lanterns, changes = null) {
    this.live = lanterns;
    if (!this.hasView && lanterns.size) {
      this._ensureView(L.latLngBounds([...lanterns.values()].map((l) => [l.lat, l.lon])));
    }
    const removed = changes ? changes.removed : [...this.markers.keys()].filter((id) => !lanterns.has(id));
    for (const id of removed) {
      this.markers.delete(id);
      this.arrows.delete(id);
    }
    const changed = changes ? changes.changed : [...lanterns.keys()];
    for (const id of changed) {
      const lantern = lanterns.get(id);
      if (!lantern) continue;
      let dot = this.markers.get(id);
      if (!dot) {
        dot = { id, lat: lantern.lat, lon: lantern.lon, styleKey: null, extra: 0 };
        this.markers.set(id, dot);
      } else if (dot.lat !== lantern.lat || dot.lon !== lantern.lon) {
        dot.lat = lantern.lat;
        dot.lon = lantern.lon;
      }
      this._syncProjection(lantern);
    }
    if (!changes) this._restyleAll();
    else if (changed.length || removed.length) this._restyleSome(changed);
  }

  /** The lantern's projected pictogram on the map, or none. */
  _syncProjection(lantern) {
    const shown = lantern.projection;
    if (!shown) {
      this.arrows.delete(lantern.id);
      return;
    }
    const heading = shown.heading_deg ?? null;
    const color = shown.color || PROJECTION_COLOR;
    const mark = this.arrows.get(lantern.id);
    // Unchanged: the same record (a new one per poll would be old-generation garbage later).
    if (
      mark &&
      mark.lat === lantern.lat &&
      mark.lon === lantern.lon &&
      mark.heading === heading &&
      mark.pictogram === shown.pictogram &&
      mark.color === color
    ) {
      return;
    }
    this.arrows.set(lantern.id, { lat: lantern.lat, lon: lantern.lon, heading, pictogram: shown.pictogram, color });
  }

  setMode(mode) {
    this.mode = mode;
    if (mode !== 'draw') this.view = mode;
    for (const layer of this.streetLayers) layer.options.interactive = Boolean(layer.streetName) && mode === 'dispatch';
    this.map.getContainer().classList.toggle('drawing', mode === 'draw');
    if (mode === 'draw') this.map.doubleClickZoom.disable();
    else this.map.doubleClickZoom.enable();
    // The dispatcher's chosen streets and shapes are no business of the operator's view.
    if (mode === 'operate') this.shapes.remove();
    else if (mode === 'dispatch' && !this.map.hasLayer(this.shapes)) this.shapes.addTo(this.map);
    if (mode === 'operate' && !this.map.hasLayer(this.routes)) this.routes.addTo(this.map);
    else if (mode === 'dispatch') this.routes.remove();
    this._restyleStreets();
    this.dirtyAll = true;
    this._restyleLanterns();
  }

  setSelectedStreets(names) {
    this.selectedStreets = new Set(names.map(streetKey));
    this._restyleStreets();
  }

  /** Lantern ids the previewed target reaches (null: no preview). */
  setPreview(ids) {
    this.preview = ids ? new Set(ids) : null;
    this.dirtyAll = true;
    this._restyleLanterns();
  }

  /** Not-covered stretches of the previewed streets, drawn in red (issue 19); [] clears. */
  setCoverageGaps(gaps) {
    this.gaps.clearLayers();
    for (const gap of gaps || []) {
      const latlngs = gap.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
      L.polyline(latlngs, { renderer: this.liveRenderer, color: '#dc2626', weight: 6, opacity: 0.8, interactive: false })
        .addTo(this.gaps);
    }
  }

  /** Delivery state per lantern id of the followed alert (null: none followed); changed: the
   * ids whose state changed in the same Map since the last call (else every dot is looked at). */
  setDelivery(states, changed = null) {
    if (states !== this.delivery || !changed) {
      this.delivery = states;
      this._restyleAll();
      return;
    }
    this._restyleSome(changed);
  }

  /** Restyle soon, at most every RESTYLE_GAP_MS however many progress events or polls arrive
   * meanwhile (a city-wide warning sends dozens a second; each restyle walks every lantern and
   * every new picture of the canvas costs the browser a commit). */
  _restyleSoon() {
    this.restyle.request();
  }

  setFocus(id) {
    const before = this.focus;
    this.focus = id;
    for (const one of [before, id]) if (one) this.dirty.add(one);
    this._restyleLanterns();
    const dot = id && this.markers.get(id);
    if (dot && !this.map.getBounds().contains([dot.lat, dot.lon])) this.map.panTo([dot.lat, dot.lon]);
  }

  /** The drawn target shapes: area (GeoJSON Polygon) and circle ({lon, lat, radius_m}). */
  setShapes({ area, circle, invalid }) {
    this.shapes.clearLayers();
    const style = {
      renderer: this.renderer,
      interactive: false,
      color: invalid ? '#ef4444' : '#facc15',
      weight: 3,
      dashArray: invalid ? '6 6' : null,
      fillOpacity: 0.08,
    };
    if (area) {
      const ring = area.coordinates[0].map(([lon, lat]) => [lat, lon]);
      this.shapes.addLayer(L.polygon(ring, style));
    }
    if (circle) {
      this.shapes.addLayer(L.circle([circle.lat, circle.lon], { ...style, radius: circle.radius_m }));
    }
  }

  /** Steering routes to draw in the operator's view: [{line: GeoJSON LineString, width_m,
   * draft}] (a draft is the route being prepared, dashed). */
  setRoutes(routes) {
    this.routes.clearLayers();
    for (const route of routes) {
      const latlngs = route.line.coordinates.map(([lon, lat]) => [lat, lon]);
      this.routes.addLayer(
        L.polyline(latlngs, {
          renderer: this.renderer,
          interactive: false,
          color: route.draft ? '#facc15' : '#22d3ee',
          weight: 4,
          opacity: 0.85,
          dashArray: route.draft ? '8 6' : null,
          lineCap: 'round',
        })
      );
    }
  }

  /** What the markers show now, by legend entry; playingRing counts busy speakers (a lantern
   * can be lit and playing at once). The legend and the browser test read these. */
  shownCounts() {
    const counts = { playingRing: 0, arrows: 0, pictograms: 0 };
    counts.brokenSpeaker = 0;
    for (const marker of this.markers.values()) {
      if (marker.shown) counts[marker.shown] = (counts[marker.shown] || 0) + 1;
      if (marker.playingRing) counts.playingRing += 1;
      if (marker.broken) counts.brokenSpeaker += 1;
    }
    for (const mark of this.arrows.values()) {
      if (mark.heading != null) counts.arrows += 1;
      else counts.pictograms += 1;
    }
    return counts;
  }

  /** Where on the map container a street can be clicked (brings it into view first). */
  pointOnStreet(name, zoom = 17) {
    const layers = this.streetsByKey.get(streetKey(name)) || [];
    if (!layers.length) return null;
    const parts = layers.flatMap((layer) => layer.parts);
    const part = parts.reduce((a, b) => (pathLength(a) >= pathLength(b) ? a : b));
    const target = midpoint(part);
    this.map.setView(target, Math.max(this.map.getZoom(), zoom), { animate: false });
    const point = this.map.latLngToContainerPoint(target);
    return { x: point.x, y: point.y };
  }

  renderLegend() {
    if (!this.legend) return;
    const counts = this.shownCounts();
    // The operator's view shows what lanterns do, even while the dispatcher follows an alert.
    const deliveryView = Boolean(this.delivery) && this.view !== 'operate';
    const entries = deliveryView
      ? Object.keys(DELIVERY_COLORS).map((k) => [k, DELIVERY_COLORS[k], t(`group.${k}`)])
      : [
          ['online', LIVE_COLORS.online, t('legend.online')],
          ['light', '#ff6a00', t('legend.light')],
          ['playing', LIVE_COLORS.playing, t('legend.playing'), true],
          ['offline', LIVE_COLORS.offline, t('legend.offline')],
          ['unknown', LIVE_COLORS.unknown, t('legend.unknown'), true],
        ];
    entries.push(['brokenSpeaker', '#ef4444', t('legend.brokenSpeaker'), 'cross']);
    entries.push(['arrow', PROJECTION_COLOR, t('legend.arrow'), 'arrow']);
    entries.push(['pictogram', '#facc15', t('legend.pictogram'), 'triangle']);
    const title = deliveryView ? t('legend.delivery') : t('legend.live');
    const numbers = {};
    const rows = entries
      .map(([key, color, label, ring]) => {
        const special = { arrow: counts.arrows, pictogram: counts.pictograms, brokenSpeaker: counts.brokenSpeaker };
        const n = key in special ? special[key] : key === 'playing' && !deliveryView ? counts.playingRing : counts[key] || 0;
        numbers[key] = n;
        let swatch = `<span class="swatch" style="background:${color}"></span>`;
        if (ring === true) swatch = `<span class="swatch ring" style="border-color:${color}"></span>`;
        if (ring === 'arrow') swatch = `<span class="swatch arrow" style="color:${color}" aria-hidden="true">➜</span>`;
        if (ring === 'cross') swatch = `<span class="swatch cross" style="color:${color}" aria-hidden="true">✕</span>`;
        if (ring === 'triangle') swatch = `<span class="swatch triangle" style="color:${color}" aria-hidden="true">▲</span>`;
        return `<li data-legend="${key}">${swatch}<span class="label">${escapeHtml(label)}</span> <span class="n">${n}</span></li>`;
      })
      .join('');
    // Only the numbers change while a warning plays: a new list costs a style and layout pass.
    const shape = `${title}|${entries.map((e) => e[2]).join('|')}`;
    if (shape === this.legendShape) {
      for (const [key] of entries) {
        const cell = this.legend.querySelector(`[data-legend="${key}"] .n`);
        const n = String(numbers[key]);
        if (cell && cell.textContent !== n) cell.textContent = n;
      }
      return;
    }
    this.legendShape = shape;
    this.legend.innerHTML = `<h3>${escapeHtml(title)}</h3><ul>${rows}</ul>`;
  }

  _onZoom() {
    const zoom = this.map.getZoom();
    toggleLayer(this.map, this.majorLabels, zoom >= LABEL_MAJOR_FROM_ZOOM);
    toggleLayer(this.map, this.labels, zoom >= LABEL_ALL_FROM_ZOOM);
  }

  _restyleStreets() {
    for (const layer of this.streetLayers) {
      const selected =
        this.view !== 'operate' && layer.streetName && this.selectedStreets.has(streetKey(layer.streetName));
      const base = STREET_STYLE[layer.streetKind];
      const key = selected ? 'selected' : 'plain';
      if (layer.styleKey === key) continue; // an unchanged street costs Leaflet no redraw
      layer.styleKey = key;
      layer.setStyle(
        selected
          ? { color: '#facc15', weight: base.weight + 4, opacity: 1 }
          : { color: base.color, weight: base.weight, opacity: 1 }
      );
      if (selected) layer.bringToFront();
    }
  }

  /** Restyle every dot at the next paced picture (the preview, the mode or the alert changed). */
  _restyleAll() {
    this.dirtyAll = true;
    this._restyleSoon();
  }

  /** Restyle these dots at the next paced picture (their live or delivery state changed). */
  _restyleSome(ids) {
    if (!this.dirtyAll) for (const id of ids) this.dirty.add(id);
    this._restyleSoon();
  }

  /** Each dot's look from its live state, the followed alert's delivery, the preview and the
   * focus; only plain fields are written here, dots.js draws them at the next frame. Only the
   * dots marked dirty since the last picture are looked at (a progress event of a city-wide
   * warning names a few hundred lanterns, not all 3,533), unless everything changed. */
  _restyleLanterns() {
    const all = this.dirtyAll;
    const ids = all ? this.markers.keys() : this.dirty;
    let changed = false;
    for (const id of ids) {
      const marker = this.markers.get(id);
      if (marker && this._restyleOne(id, marker)) changed = true;
    }
    this.dirtyAll = false;
    this.dirty = new Set();
    if (changed || all) this.dots.redraw();
    this.renderLegend();
  }

  /** The paced restyle: at most RESTYLE_SLICE dots per frame, the rest in the frames after
   * (a new alert followed restyles all 3,533 at once: ~10 ms of main-thread CPU in one task on
   * the loaded test host, several times that in wall-clock time); drawn once all are done. */
  _restyleSliced() {
    if (this.dirtyAll) {
      this.dirtyAll = false;
      for (const id of this.markers.keys()) this.dirty.add(id);
    }
    let n = 0;
    for (const id of this.dirty) {
      this.dirty.delete(id);
      const marker = this.markers.get(id);
      if (marker && this._restyleOne(id, marker)) this.restyled = true;
      n += 1;
      if (n === RESTYLE_SLICE) break;
    }
    if (this.dirty.size) {
      requestAnimationFrame(() => this._restyleSliced());
      return;
    }
    if (this.restyled) this.dots.redraw();
    this.restyled = false;
    this.renderLegend();
  }

  /** One dot's look; true when it changed (the dot must be drawn again). */
  _restyleOne(id, marker) {
    const dispatch = this.view !== 'operate';
    const live = this.live.get(id) || NO_LIVE;
    let fill;
    let shown;
    let fillOpacity = 0.95;
    let color = '#0f172a';
    let weight = 1;
    let extra = 0;
    let opacity = 1;
    let selected = false;
    let dim = false;
    const state = dispatch && this.delivery ? this.delivery.get(id) : undefined;
    if (state) {
      shown = DELIVERY_GROUP[state] || 'waiting';
      fill = DELIVERY_COLORS[shown];
      extra = 1;
    } else if (live.online === false) {
      shown = 'offline';
      fill = LIVE_COLORS.offline;
    } else if (live.online == null) {
      shown = 'unknown';
      fill = LIVE_COLORS.unknown;
      fillOpacity = 0.15;
      color = LIVE_COLORS.unknown;
    } else if (live.light_color) {
      shown = 'light';
      fill = live.light_color;
    } else {
      shown = 'online';
      fill = LIVE_COLORS.online;
    }
    if (dispatch && this.delivery && !state) {
      opacity = 0.3;
      dim = true;
    }
    // With a followed alert the delivery colour says playing; the live ring would lag it.
    if (live.audio_playing && !state) {
      color = LIVE_COLORS.playing;
      weight = 3;
      extra = 2;
    }
    if (dispatch && this.preview && !this.delivery) {
      if (this.preview.has(id)) {
        color = LIVE_COLORS.selected;
        weight = 3;
        extra = Math.max(extra, 2);
        selected = true;
      } else {
        opacity = 0.3;
        dim = true;
      }
    }
    if (this.focus === id && (!dispatch || PROBLEM_GROUPS.has(shown))) {
      color = LIVE_COLORS.focus;
      weight = 4;
      extra = 4;
    }
    const broken = Boolean(live.broken && live.broken.includes('speaker'));
    const playingRing = Boolean(live.audio_playing);
    const alpha = fillOpacity * opacity;
    // Compared field by field: a look string per dot and picture was most of the garbage a
    // progress stream made.
    const same =
      marker.shown === shown &&
      marker.extra === extra &&
      marker.fill === fill &&
      marker.fillOpacity === alpha &&
      marker.color === color &&
      marker.weight === weight &&
      marker.opacity === opacity;
    const flagsSame = marker.broken === broken && marker.selected === selected && marker.dim === dim;
    marker.playingRing = playingRing;
    if (same && flagsSame) return false;
    marker.broken = broken;
    marker.selected = selected;
    marker.dim = dim;
    if (same) return true;
    marker.shown = shown;
    marker.fill = fill;
    marker.fillOpacity = alpha;
    marker.color = color;
    marker.weight = weight;
    marker.opacity = opacity;
    marker.extra = extra;
    marker.look = `${shown}|${extra}|${fill}|${alpha}|${color}|${weight}|${opacity}`; // dots.js groups dots by it
    return true;
  }
}

const NO_LIVE = {};

function toggleLayer(map, layer, on) {
  if (on && !map.hasLayer(layer)) layer.addTo(map);
  if (!on && map.hasLayer(layer)) layer.remove();
}

function pathLength(latlngs) {
  let sum = 0;
  for (let i = 1; i < latlngs.length; i += 1) {
    const a = L.latLng(latlngs[i - 1]);
    const b = L.latLng(latlngs[i]);
    sum += a.distanceTo(b);
  }
  return sum;
}

/** The point halfway along a line (by length), as [lat, lon]. */
function midpoint(latlngs) {
  const points = latlngs.map((p) => L.latLng(p));
  const half = pathLength(points) / 2;
  let walked = 0;
  for (let i = 1; i < points.length; i += 1) {
    const step = points[i - 1].distanceTo(points[i]);
    if (walked + step >= half && step > 0) {
      const f = (half - walked) / step;
      return [
        points[i - 1].lat + (points[i].lat - points[i - 1].lat) * f,
        points[i - 1].lng + (points[i].lng - points[i - 1].lng) * f,
      ];
    }
    walked += step;
  }
  return [points[0].lat, points[0].lng];
}

export function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
