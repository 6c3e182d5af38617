// The fleet's live state, kept in step with GET /lanterns/live: the first answer lists every
// lantern with its position, every later one (?since=cursor) only the lanterns that changed, so
// a quiet fleet costs a few dozen bytes per poll instead of the whole inventory.

import { api } from './api.js';

export class LiveFleet {
  constructor() {
    this.cursor = null;
    this.lanterns = new Map(); // id -> {id, lon, lat, online, audio_playing, light_color, projection, broken}
  }

  /** Fetch what changed; returns {full, changed: [ids], removed: [ids]}. */
  async poll() {
    const feed = await api.lanternsLive(this.cursor);
    return this.apply(feed);
  }

  apply(feed) {
    const col = Object.fromEntries(feed.fields.map((name, i) => [name, i]));
    const changed = [];
    const removed = [...feed.removed];
    if (feed.full) {
      const listed = new Set(feed.lanterns.map((row) => row[col.id]));
      for (const id of this.lanterns.keys()) if (!listed.has(id)) removed.push(id);
    }
    for (const id of removed) this.lanterns.delete(id);
    const touched = new Set([...feed.lanterns.map((row) => row[col.id]), ...Object.keys(feed.positions)]);
    for (const row of feed.lanterns) {
      const id = row[col.id];
      const at = (name) => (row.length > col[name] ? row[col[name]] : null);
      const online = at('online');
      const pictogram = at('pictogram');
      const lantern = this.lanterns.get(id) || { id, lon: null, lat: null };
      lantern.online = online == null ? null : online === 1;
      lantern.audio_playing = at('audio_playing') === 1;
      lantern.light_color = at('light_color');
      const broken = at('broken');
      lantern.broken = broken ? broken.split(',') : null; // fitted parts reported broken
      lantern.projection = pictogram
        ? { pictogram, heading_deg: at('heading_deg'), color: at('projection_color') }
        : null;
      this.lanterns.set(id, lantern);
    }
    for (const [id, [lon, lat]] of Object.entries(feed.positions)) {
      const lantern = this.lanterns.get(id);
      if (lantern) Object.assign(lantern, { lon, lat });
    }
    for (const id of touched) if (this.lanterns.has(id)) changed.push(id);
    this.cursor = feed.cursor;
    return { full: feed.full, changed, removed };
  }

  list() {
    return [...this.lanterns.values()];
  }
}
