// The lanterns on the map: one canvas of their own above the streets (streets first, dots on
// top), drawn from plain arrays instead of one Leaflet layer per lantern.
//
// Why: with a Leaflet circle marker per lantern every restyle walked 3,533 layers, and every
// picture of the shared canvas was painted on the page's main thread and then copied to the
// compositor while the main thread waited (a trace of a city-wide warning showed that copy,
// "Commit", at 60-200 ms per picture on the loaded test machine). Here the main thread only
// fills a few typed arrays per picture; a worker draws them on an OffscreenCanvas
// (dots_worker.js) and hands the picture to the compositor itself. A browser without
// OffscreenCanvas gets the same drawing on the main thread.
//
// Zoomed out (below CLUSTER_BELOW_ZOOM) single dots would cover the streets, so the dots of each
// square merge into one disc: filled with the worst state among them (a failed or offline
// lantern is never hidden by its working neighbours), ringed by each state's share, with the
// count (dots_draw.js). Zoomed in, every lantern has its own colour again.
//
// The canvas takes no pointer events, so clicks reach the streets underneath; lanternAt() finds
// the lantern (or cluster) under a point for the map's own click handler.

import { BROKEN, DIM, SELECTED, drawFrame, radiusAt } from './dots_draw.js';

const L = window.L;

// At the default zoom of the demo city (15.5 for the centre of Zürich at 1280×800) the 3,533
// single dots hid the streets; from 16 on they stand far enough apart to read.
export const CLUSTER_BELOW_ZOOM = 16;
const PAD = 0.1; // the canvas reaches this share of the map's size beyond each edge
const HIT_TOLERANCE_PX = 6;

export const LanternDots = L.Layer.extend({
  options: { pane: 'lanterns' },

  /** dots: Map id -> record {lat, lon, fill, fillOpacity, color, weight, opacity, extra, shown,
   * broken, selected, dim}; arrows: Map id -> {lat, lon, heading, color}. Both owned by the map. */
  initialize(dots, arrows) {
    this.dots = dots;
    this.arrows = arrows;
    this.clusters = []; // what the last picture drew zoomed out (hit testing, tests)
    this.frames = 0; // pictures asked for
    this.drawn = 0; // pictures drawn
    this.seq = 0;
    this.placements = new Map(); // frame seq -> where its canvas goes, once drawn
  },

  onAdd(map) {
    this._canvas = L.DomUtil.create('canvas', 'leaflet-zoom-animated lantern-canvas');
    this._canvas.style.pointerEvents = 'none';
    this.getPane().appendChild(this._canvas);
    this._startWorker();
    this._projectedZoom = null;
    this._update();
    map.on('zoomanim', this._onAnimZoom, this);
  },

  onRemove(map) {
    map.off('zoomanim', this._onAnimZoom, this);
    this.worker?.terminate();
    this.worker = null;
    L.DomUtil.remove(this._canvas);
  },

  getEvents() {
    return { viewreset: this._update, zoom: this._onZoom, moveend: this._update, zoomend: this._update };
  },

  /** Hand the canvas to the worker; without OffscreenCanvas (or workers) draw here. */
  _startWorker() {
    this.worker = null;
    this._ctx = null;
    if (this._canvas.transferControlToOffscreen && window.Worker) {
      try {
        const offscreen = this._canvas.transferControlToOffscreen();
        this.worker = new Worker(new URL('./dots_worker.js', import.meta.url), { type: 'module' });
        this.worker.postMessage({ canvas: offscreen }, [offscreen]);
        this.worker.onmessage = (e) => this._drawnBy(e.data);
        return;
      } catch {
        // a canvas already handed over cannot draw here: start again with a fresh one
        const fresh = L.DomUtil.create('canvas', 'leaflet-zoom-animated lantern-canvas');
        fresh.style.pointerEvents = 'none';
        this._canvas.replaceWith(fresh);
        this._canvas = fresh;
      }
    }
    this._ctx = this._canvas.getContext('2d');
  },

  /** Draw again soon (at most once per frame however often this is called before it). */
  redraw() {
    if (this._frame || !this._map) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      this._send();
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
    if (!this._shown) return;
    const map = this._map;
    const scale = map.getZoomScale(zoom, this._shown.zoom);
    const viewHalf = map.getSize().multiplyBy(0.5 + PAD);
    const centerPoint = map.project(this._shown.center, zoom);
    const offset = viewHalf.multiplyBy(-scale).add(centerPoint).subtract(map._getNewPixelOrigin(center, zoom));
    L.DomUtil.setTransform(this._canvas, offset, scale);
  },

  /** The view moved or zoomed: draw for the new view (plus padding) at once. */
  _update() {
    const map = this._map;
    if (!map || (map._animatingZoom && this._shown)) return;
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = null;
    }
    this._send();
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
  },

  /** One picture: the arrays for the worker (or for drawing here). */
  _send() {
    const map = this._map;
    if (!map) return;
    this._project();
    const zoom = map.getZoom();
    const size = map.getSize();
    const min = map.containerPointToLayerPoint(size.multiplyBy(-PAD)).round();
    const box = size.multiplyBy(1 + 2 * PAD).round();
    const origin = map.getPixelOrigin().add(min);
    const n = this.dots.size;
    const px = new Float64Array(n);
    const py = new Float64Array(n);
    const look = new Uint16Array(n);
    const flags = new Uint8Array(n);
    const looks = [];
    const lookIndex = new Map();
    let i = 0;
    for (const d of this.dots.values()) {
      if (!d.fill) continue; // not styled yet
      const key = d.look;
      let k = lookIndex.get(key);
      if (k === undefined) {
        k = looks.length;
        lookIndex.set(key, k);
        looks.push({
          shown: d.shown,
          extra: d.extra,
          fill: d.fill,
          fillOpacity: d.fillOpacity,
          color: d.color,
          weight: d.weight,
          opacity: d.opacity,
        });
      }
      px[i] = d.px;
      py[i] = d.py;
      look[i] = k;
      flags[i] = (d.broken ? BROKEN : 0) | (d.selected ? SELECTED : 0) | (d.dim ? DIM : 0);
      i += 1;
    }
    const arrows = [];
    if (zoom >= CLUSTER_BELOW_ZOOM) {
      for (const a of this.arrows.values()) {
        const p = map.project([a.lat, a.lon], zoom);
        arrows.push({ px: p.x, py: p.y, heading: a.heading, color: a.color });
      }
    }
    this.seq += 1;
    this.frames += 1;
    const frame = {
      seq: this.seq,
      width: box.x,
      height: box.y,
      ratio: window.devicePixelRatio || 1,
      x0: origin.x,
      y0: origin.y,
      zoom,
      clustered: zoom < CLUSTER_BELOW_ZOOM,
      n: i,
      px,
      py,
      look,
      flags,
      looks,
      arrows,
    };
    // The canvas moves to the new view only with the picture drawn for it: until then the old
    // picture stays where it belongs on the map.
    const placement = { min, box, center: map.getCenter(), zoom };
    if (this.worker) {
      this.placements.set(frame.seq, placement);
      this.worker.postMessage(frame, [px.buffer, py.buffer, look.buffer, flags.buffer]);
      return;
    }
    const width = Math.round(box.x * frame.ratio);
    const height = Math.round(box.y * frame.ratio);
    if (this._canvas.width !== width) this._canvas.width = width;
    if (this._canvas.height !== height) this._canvas.height = height;
    this._place(placement);
    this._drawnBy({ seq: frame.seq, clusters: drawFrame(this._ctx, frame) }, true);
  },

  /** A picture is on the canvas: put the canvas where that picture belongs. */
  _drawnBy({ seq, clusters }, placed = false) {
    this.drawn += 1;
    this.clusters = clusters;
    if (placed) return;
    const placement = this.placements.get(seq);
    for (const key of this.placements.keys()) if (key <= seq) this.placements.delete(key);
    if (placement && this._map && !this._map._animatingZoom) this._place(placement);
  },

  _place({ min, box, center, zoom }) {
    this._canvas.style.width = `${box.x}px`;
    this._canvas.style.height = `${box.y}px`;
    L.DomUtil.setPosition(this._canvas, min);
    this._shown = { center, zoom };
  },

  /** The lantern id (or {cluster, latlng}) drawn under a container point, else null. */
  lanternAt(containerPoint) {
    const map = this._map;
    if (!map) return null;
    const p = map.containerPointToLayerPoint(containerPoint).add(map.getPixelOrigin());
    if (this.clustered()) {
      const hit = this.clusters.find((c) => (c.x - p.x) ** 2 + (c.y - p.y) ** 2 <= (c.r + 3) ** 2);
      return hit ? { cluster: hit, latlng: map.unproject([hit.x, hit.y], map.getZoom()) } : null;
    }
    this._project();
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
