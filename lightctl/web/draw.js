// Drawing on the map: a target polygon (click the corners), a circle (click the centre, then the
// edge) or a route line (click the points along the way, for steering). Small on purpose: three
// shapes, undo, finish and cancel, by mouse, touch or keys; a double click finishes.

import { t } from './i18n.js';

const L = window.L;

// A click this close (in screen pixels) to the first corner closes the polygon.
const CLOSE_PX = 12;

export class DrawTool {
  /** map: ConsoleMap; onDone(kind, shape) with a GeoJSON Polygon or LineString or
   * {lon, lat, radius_m}; mode: the map's mode to return to when drawing ends. */
  constructor(consoleMap, { onDone, onCancel, onStatus, mode = 'dispatch' }) {
    this.cmap = consoleMap;
    this.map = consoleMap.map;
    this.onDone = onDone;
    this.onCancel = onCancel;
    this.onStatus = onStatus;
    this.returnMode = mode;
    this.kind = null;
    this.points = [];
    this.centre = null;
    this.layer = L.layerGroup();
    this.guide = null;
    this._move = (e) => this._onMove(e.latlng);
    this._keys = (e) => this._onKey(e);
    this._dblclick = (e) => {
      L.DomEvent.stop(e);
      this._dropRepeats();
      this.finish();
    };
  }

  get active() {
    return this.kind !== null;
  }

  start(kind) {
    this.stop();
    this.kind = kind;
    this.points = [];
    this.centre = null;
    this.layer.addTo(this.map);
    this.map.on('mousemove', this._move);
    this.map.on('dblclick', this._dblclick);
    document.addEventListener('keydown', this._keys);
    this.cmap.setMode('draw');
    this._status();
  }

  /** A map click while drawing. */
  click(latlng) {
    if (this.kind === 'line') {
      this.points.push(latlng);
    } else if (this.kind === 'polygon') {
      if (this.points.length >= 3) {
        const first = this.map.latLngToContainerPoint(this.points[0]);
        if (first.distanceTo(this.map.latLngToContainerPoint(latlng)) <= CLOSE_PX) {
          this.finish();
          return;
        }
      }
      this.points.push(latlng);
    } else if (this.kind === 'circle') {
      if (!this.centre) {
        this.centre = latlng;
      } else {
        this.points = [latlng];
        this.finish();
        return;
      }
    }
    this._redraw(latlng);
    this._status();
  }

  undo() {
    if (this.kind === 'polygon' || this.kind === 'line') this.points.pop();
    else this.centre = null;
    this._redraw(null);
    this._status();
  }

  /** The two clicks of a double click leave the same point twice at the end: keep one. */
  _dropRepeats() {
    while (this.points.length >= 2) {
      const a = this.map.latLngToContainerPoint(this.points[this.points.length - 1]);
      const b = this.map.latLngToContainerPoint(this.points[this.points.length - 2]);
      if (a.distanceTo(b) > CLOSE_PX / 2) break;
      this.points.pop();
    }
  }

  finish() {
    if (this.kind === 'line') {
      if (this.points.length < 2) {
        this.onStatus(t('draw.needTwo'));
        return;
      }
      const shape = { type: 'LineString', coordinates: this.points.map((p) => [round(p.lng), round(p.lat)]) };
      this.stop();
      this.onDone('line', shape);
    } else if (this.kind === 'polygon') {
      if (this.points.length < 3) {
        this.onStatus(t('draw.needThree'));
        return;
      }
      const ring = this.points.map((p) => [round(p.lng), round(p.lat)]);
      ring.push(ring[0]);
      const shape = { type: 'Polygon', coordinates: [ring] };
      this.stop();
      this.onDone('polygon', shape);
    } else if (this.kind === 'circle') {
      if (!this.centre || !this.points.length) {
        this.onStatus(t('draw.circleCentre'));
        return;
      }
      const radius = Math.max(1, Math.round(this.centre.distanceTo(this.points[0])));
      const shape = { lon: round(this.centre.lng), lat: round(this.centre.lat), radius_m: radius };
      this.stop();
      this.onDone('circle', shape);
    }
  }

  cancel() {
    const was = this.active;
    this.stop();
    if (was) this.onCancel();
  }

  stop() {
    if (!this.active) return;
    this.kind = null;
    this.layer.clearLayers();
    this.layer.remove();
    this.map.off('mousemove', this._move);
    this.map.off('dblclick', this._dblclick);
    document.removeEventListener('keydown', this._keys);
    this.cmap.setMode(this.returnMode);
  }

  _onKey(e) {
    if (e.key === 'Escape') {
      e.preventDefault();
      this.cancel();
    } else if (e.key === 'Enter' && e.target === this.map.getContainer()) {
      e.preventDefault();
      this.finish();
    } else if (e.key === 'Backspace' && e.target === this.map.getContainer()) {
      e.preventDefault();
      this.undo();
    }
  }

  _onMove(latlng) {
    this._redraw(latlng);
  }

  _redraw(cursor) {
    this.layer.clearLayers();
    const style = { renderer: this.cmap.renderer, interactive: false, color: '#facc15', weight: 3 };
    if (this.kind === 'line' && this.points.length) {
      const line = cursor ? [...this.points, cursor] : this.points;
      this.layer.addLayer(L.polyline(line, { ...style, dashArray: '6 6' }));
      this.points.forEach((p, i) => {
        const last = i === this.points.length - 1;
        this.layer.addLayer(
          L.circleMarker(p, { ...style, radius: i === 0 || last ? 6 : 4, fillColor: '#111827', fillOpacity: 1 })
        );
      });
    } else if (this.kind === 'polygon' && this.points.length) {
      const line = cursor ? [...this.points, cursor] : this.points;
      this.layer.addLayer(L.polyline(line, { ...style, dashArray: '6 6' }));
      if (this.points.length >= 2) {
        this.layer.addLayer(L.polygon(this.points, { ...style, weight: 0, fillOpacity: 0.12 }));
      }
      this.points.forEach((p, i) => {
        this.layer.addLayer(
          L.circleMarker(p, { ...style, radius: i === 0 ? 7 : 5, fillColor: '#111827', fillOpacity: 1 })
        );
      });
    } else if (this.kind === 'circle' && this.centre) {
      this.layer.addLayer(L.circleMarker(this.centre, { ...style, radius: 5, fillOpacity: 1 }));
      if (cursor) {
        const radius = this.centre.distanceTo(cursor);
        this.layer.addLayer(L.circle(this.centre, { ...style, radius, dashArray: '6 6', fillOpacity: 0.1 }));
      }
    }
  }

  _status() {
    if (this.kind === 'line') {
      this.onStatus(this.points.length < 2 ? t('draw.lineStart', { n: this.points.length }) : t('draw.lineMore', { n: this.points.length }));
    } else if (this.kind === 'polygon') {
      this.onStatus(
        this.points.length < 3
          ? t('draw.polygonStart', { n: this.points.length })
          : t('draw.polygonMore', { n: this.points.length })
      );
    } else if (this.kind === 'circle') {
      this.onStatus(this.centre ? t('draw.circleEdge') : t('draw.circleCentre'));
    }
  }
}

function round(value) {
  return Math.round(value * 1e7) / 1e7;
}
