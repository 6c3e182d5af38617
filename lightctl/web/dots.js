// The lanterns on the map: one canvas of their own above the streets (streets first, dots on
// top), drawn in one pass per frame from plain records instead of one Leaflet layer per lantern.
//
// Why not a Leaflet circle marker per lantern: with 3,533 of them every restyle walked 3,533
// layers and every redraw re-clipped them with the 3,406 street segments on one shared canvas;
// the main thread logged tasks of 94-832 ms while a city-wide warning played. Here a restyle
// only writes a few fields, and a frame draws all dots in one path per colour (a few ms).
//
// Zoomed out, single dots would cover the streets, so below CLUSTER_BELOW_ZOOM the dots of each
// CELL_PX square merge into one disc: filled with the worst state among them (a failed or
// offline lantern is never hidden by its working neighbours), ringed by each state's share, with
// the count. Zoomed in, every lantern has its own colour again.
//
// The canvas takes no pointer events, so clicks reach the streets underneath; lanternAt() finds
// the lantern (or cluster) under a point for the map's own click handler.

const L = window.L;

// At the default zoom of the demo city (15.5 for the whole of Zürich's centre at 1280×800) the
// 3,533 single dots hid the streets; from 16 on the dots stand far enough apart to read.
export const CLUSTER_BELOW_ZOOM = 16;
const CELL_PX = 64; // one cluster per 64 px square: ~150 discs on an 850×750 map, streets between
const PAD = 0.1; // the canvas reaches this share of the map's size beyond each edge
const HIT_TOLERANCE_PX = 6;

// Which of a cell's states fills its disc: the first one present in this order. Problems first
// (the dispatcher must see them zoomed out), then work in progress, then the quiet states.
const SEVERITY = ['failed', 'unreachable', 'offline', 'waiting', 'received', 'playing', 'unknown', 'light', 'done', 'ended', 'online'];
const RANK = new Map(SEVERITY.map((s, i) => [s, i]));
const BROKEN_COLOR = '#ef4444';
const SELECTED_COLOR = '#facc15';

/** Dot radius in pixels at a zoom level (a ring or a focus adds to it). */
export function radiusAt(zoom) {
  if (zoom <= 14) return 2;
  if (zoom >= 18) return 7;
  return zoom - 12; // 3 px at 15 … 5 px at 17
}

/** How far a projected arrow reaches from the lantern's centre, in pixels, at this zoom. */
export function projectionSize(zoom) {
  const inner = radiusAt(zoom);
  return { inner, reach: Math.round(9 + 2.2 * inner) };
}

export const LanternDots = L.Layer.extend({
  options: { pane: 'lanterns' },

  /** dots: Map id -> record {lat, lon, fill, fillOpacity, color, weight, opacity, extra, shown,
   * broken, selected, dim}; arrows: Map id -> {lat, lon, heading, color}. Both owned by the map. */
  initialize(dots, arrows) {
    this.dots = dots;
    this.arrows = arrows;
    this.clusters = []; // what the last frame drew zoomed out (hit testing, tests)
    this.frames = 0;
  },

  onAdd(map) {
    this._canvas = L.DomUtil.create('canvas', 'leaflet-zoom-animated lantern-canvas');
    this._canvas.style.pointerEvents = 'none';
    this.getPane().appendChild(this._canvas);
    this._ctx = this._canvas.getContext('2d');
    this._projectedZoom = null;
    this._update();
    map.on('zoomanim', this._onAnimZoom, this);
  },

  onRemove(map) {
    map.off('zoomanim', this._onAnimZoom, this);
    L.DomUtil.remove(this._canvas);
  },

  getEvents() {
    return { viewreset: this._update, zoom: this._onZoom, moveend: this._update, zoomend: this._update };
  },

  /** Draw again at the next frame, however often this is called before it. */
  redraw() {
    if (this._frame || !this._map) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      this._draw();
    });
  },

  clustered() {
    return this._map.getZoom() < CLUSTER_BELOW_ZOOM;
  },

  _onAnimZoom(e) {
    this._updateTransform(e.center, e.zoom);
  },

  _onZoom() {
    this._updateTransform(this._map.getCenter(), this._map.getZoom());
  },

  /** Scale the canvas along with a zoom animation, as Leaflet's own renderers do. */
  _updateTransform(center, zoom) {
    if (!this._center) return;
    const map = this._map;
    const scale = map.getZoomScale(zoom, this._zoom);
    const viewHalf = map.getSize().multiplyBy(0.5 + PAD);
    const centerPoint = map.project(this._center, zoom);
    const offset = viewHalf.multiplyBy(-scale).add(centerPoint).subtract(map._getNewPixelOrigin(center, zoom));
    L.DomUtil.setTransform(this._canvas, offset, scale);
  },

  /** Size and place the canvas over the view (plus padding) and draw at once. */
  _update() {
    const map = this._map;
    if (!map || (map._animatingZoom && this._bounds)) return;
    const size = map.getSize();
    const min = map.containerPointToLayerPoint(size.multiplyBy(-PAD)).round();
    this._bounds = L.bounds(min, min.add(size.multiplyBy(1 + 2 * PAD)).round());
    this._center = map.getCenter();
    this._zoom = map.getZoom();
    const box = this._bounds.getSize();
    const ratio = window.devicePixelRatio || 1;
    L.DomUtil.setPosition(this._canvas, min);
    this._canvas.width = Math.round(box.x * ratio);
    this._canvas.height = Math.round(box.y * ratio);
    this._canvas.style.width = `${box.x}px`;
    this._canvas.style.height = `${box.y}px`;
    this._ratio = ratio;
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = null;
    }
    this._draw();
  },

  /** Every dot's pixel position at the current zoom (projected once per zoom level). */
  _project() {
    const zoom = this._map.getZoom();
    const fresh = this._projectedZoom !== zoom;
    this._projectedZoom = zoom;
    for (const d of this.dots.values()) {
      if (fresh || d.px == null || d.atLat !== d.lat || d.atLon !== d.lon) {
        const p = this._map.project([d.lat, d.lon], zoom);
        d.px = p.x;
        d.py = p.y;
        d.atLat = d.lat;
        d.atLon = d.lon;
      }
    }
    for (const a of this.arrows.values()) {
      const p = this._map.project([a.lat, a.lon], zoom);
      a.px = p.x;
      a.py = p.y;
    }
  },

  _draw() {
    const map = this._map;
    if (!map || !this._bounds) return;
    this.frames += 1;
    this._project();
    const ctx = this._ctx;
    const ratio = this._ratio;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this._canvas.width, this._canvas.height);
    // Canvas pixel = projected pixel - (pixel origin + the canvas's top-left layer point).
    const origin = map.getPixelOrigin().add(this._bounds.min);
    ctx.setTransform(ratio, 0, 0, ratio, -origin.x * ratio, -origin.y * ratio);
    const size = this._bounds.getSize();
    const view = { x0: origin.x - 20, y0: origin.y - 20, x1: origin.x + size.x + 20, y1: origin.y + size.y + 20 };
    if (this.clustered()) {
      this._drawClusters(ctx, view);
    } else {
      this.clusters = [];
      this._drawDots(ctx, view);
      this._drawArrows(ctx, view);
    }
  },

  _drawDots(ctx, view) {
    const base = radiusAt(this._map.getZoom());
    // One path per look: 3,533 dots are a handful of fill() calls.
    const groups = new Map();
    const broken = [];
    for (const d of this.dots.values()) {
      if (d.px < view.x0 || d.px > view.x1 || d.py < view.y0 || d.py > view.y1 || !d.fill) continue;
      const key = `${d.extra}|${d.fill}|${d.fillOpacity}|${d.color}|${d.weight}|${d.opacity}`;
      let group = groups.get(key);
      if (!group) {
        group = { d, list: [] };
        groups.set(key, group);
      }
      group.list.push(d);
      if (d.broken) broken.push(d);
    }
    // Rings and the focus (larger extra) on top of the plain dots.
    const ordered = [...groups.values()].sort((a, b) => a.d.extra - b.d.extra);
    for (const { d: look, list } of ordered) {
      const r = base + look.extra;
      ctx.beginPath();
      for (const d of list) {
        ctx.moveTo(d.px + r, d.py);
        ctx.arc(d.px, d.py, r, 0, 2 * Math.PI);
      }
      ctx.globalAlpha = look.fillOpacity;
      ctx.fillStyle = look.fill;
      ctx.fill();
      if (look.weight > 0) {
        ctx.globalAlpha = look.opacity;
        ctx.strokeStyle = look.color;
        ctx.lineWidth = look.weight;
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
    // A broken speaker: a red cross over the dot's upper right, in every view.
    if (broken.length) {
      ctx.beginPath();
      for (const d of broken) {
        const r = base + d.extra;
        const s = Math.max(2.5, r * 0.7);
        const cx = d.px + r * 0.8;
        const cy = d.py - r * 0.8;
        ctx.moveTo(cx - s, cy - s);
        ctx.lineTo(cx + s, cy + s);
        ctx.moveTo(cx + s, cy - s);
        ctx.lineTo(cx - s, cy + s);
      }
      ctx.strokeStyle = '#0f172a';
      ctx.lineWidth = 4;
      ctx.stroke();
      ctx.strokeStyle = BROKEN_COLOR;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  },

  _drawArrows(ctx, view) {
    if (!this.arrows.size) return;
    const { inner, reach } = projectionSize(this._map.getZoom());
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#020617';
    for (const a of this.arrows.values()) {
      if (a.px < view.x0 || a.px > view.x1 || a.py < view.y0 || a.py > view.y1) continue;
      ctx.save();
      ctx.translate(a.px, a.py);
      ctx.beginPath();
      if (a.heading != null) {
        // From the lantern's edge toward heading_deg (degrees from north, clockwise).
        ctx.rotate((a.heading * Math.PI) / 180);
        const start = inner + 1;
        const neck = reach - reach * 0.42;
        const shaft = Math.max(1.5, reach * 0.09);
        const head = Math.max(4, reach * 0.3);
        ctx.moveTo(-shaft, -start);
        ctx.lineTo(-shaft, -neck);
        ctx.lineTo(-head, -neck);
        ctx.lineTo(0, -reach);
        ctx.lineTo(head, -neck);
        ctx.lineTo(shaft, -neck);
        ctx.lineTo(shaft, -start);
      } else {
        // A pictogram without a direction: a small warning triangle above the lantern.
        const side = Math.max(6, reach * 0.55);
        const baseY = -inner - 2;
        ctx.moveTo(0, baseY - side * 0.87);
        ctx.lineTo(side / 2, baseY);
        ctx.lineTo(-side / 2, baseY);
      }
      ctx.closePath();
      ctx.fillStyle = a.color;
      ctx.fill();
      ctx.stroke();
      ctx.restore();
    }
  },

  /** Merge the dots of each CELL_PX square into one disc: worst state, shares, count. */
  _drawClusters(ctx, view) {
    const cells = new Map();
    for (const [id, d] of this.dots) {
      if (d.px < view.x0 || d.px > view.x1 || d.py < view.y0 || d.py > view.y1 || !d.fill) continue;
      const key = `${Math.floor(d.px / CELL_PX)},${Math.floor(d.py / CELL_PX)}`;
      let cell = cells.get(key);
      if (!cell) {
        cell = { n: 0, sx: 0, sy: 0, counts: new Map(), colors: new Map(), worst: null, selected: 0, dim: 0, broken: 0, ids: [] };
        cells.set(key, cell);
      }
      cell.n += 1;
      cell.sx += d.px;
      cell.sy += d.py;
      cell.ids.push(id);
      cell.counts.set(d.shown, (cell.counts.get(d.shown) || 0) + 1);
      if (!cell.colors.has(d.shown)) cell.colors.set(d.shown, d.fill);
      if (cell.worst == null || RANK.get(d.shown) < RANK.get(cell.worst)) cell.worst = d.shown;
      if (d.selected) cell.selected += 1;
      if (d.dim) cell.dim += 1;
      if (d.broken) cell.broken += 1;
    }
    const clusters = [];
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.font = 'bold 10px system-ui, sans-serif';
    for (const cell of cells.values()) {
      const x = cell.sx / cell.n;
      const y = cell.sy / cell.n;
      const r = Math.min(12, 5 + 1.6 * Math.log2(cell.n + 1));
      clusters.push({ x, y, r, n: cell.n, worst: cell.worst, counts: Object.fromEntries(cell.counts), broken: cell.broken, ids: cell.ids });
      // A cell none of whose lanterns the preview or the followed alert concerns recedes.
      const faded = cell.dim === cell.n;
      ctx.globalAlpha = faded ? 0.25 : 0.85;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = cell.colors.get(cell.worst);
      ctx.fill();
      // The ring: each state's share of the cell, worst first, clockwise from the top.
      let angle = -Math.PI / 2;
      ctx.lineWidth = 2.5;
      for (const state of SEVERITY) {
        const k = cell.counts.get(state);
        if (!k) continue;
        const sweep = (2 * Math.PI * k) / cell.n;
        ctx.beginPath();
        ctx.arc(x, y, r + 1.5, angle, angle + sweep);
        ctx.strokeStyle = cell.colors.get(state);
        ctx.stroke();
        angle += sweep;
      }
      if (cell.selected) {
        ctx.beginPath();
        ctx.arc(x, y, r + 4.5, 0, 2 * Math.PI);
        ctx.lineWidth = 2;
        ctx.strokeStyle = SELECTED_COLOR;
        ctx.stroke();
      }
      ctx.globalAlpha = faded ? 0.5 : 1;
      ctx.fillStyle = darkText(cell.colors.get(cell.worst)) ? '#0f172a' : '#ffffff';
      ctx.fillText(String(cell.n), x, y + 0.5);
      if (cell.broken) {
        // Broken speakers in the cell: a red badge at its upper right.
        ctx.beginPath();
        ctx.arc(x + r * 0.8, y - r * 0.8, 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = BROKEN_COLOR;
        ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
    this.clusters = clusters;
  },

  /** The lantern id (or {cluster}) drawn under a container point, else null. */
  lanternAt(containerPoint) {
    const map = this._map;
    if (!map) return null;
    const origin = map.getPixelOrigin();
    const p = map.containerPointToLayerPoint(containerPoint).add(origin);
    if (this.clustered()) {
      const hit = this.clusters.find((c) => (c.x - p.x) ** 2 + (c.y - p.y) ** 2 <= (c.r + 3) ** 2);
      return hit ? { cluster: hit, latlng: map.unproject([hit.x, hit.y], map.getZoom()) } : null;
    }
    const base = radiusAt(map.getZoom());
    let best = null;
    let bestDist = Infinity;
    for (const [id, d] of this.dots) {
      if (d.px == null || !d.fill) continue;
      const reach = base + d.extra + HIT_TOLERANCE_PX;
      const dist = (d.px - p.x) ** 2 + (d.py - p.y) ** 2;
      if (dist <= reach * reach && dist < bestDist) {
        best = id;
        bestDist = dist;
      }
    }
    return best;
  },
});

/** Whether text on this fill reads better dark (light fills) than white. */
function darkText(color) {
  const m = /^#([0-9a-f]{6})$/i.exec(color || '');
  if (!m) return false;
  const n = parseInt(m[1], 16);
  const lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return lum > 150;
}
