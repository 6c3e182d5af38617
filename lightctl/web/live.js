// The fleet's live state, kept in step with GET /lanterns/live: the first answer lists every
// lantern with its position, every later one (?since=cursor) only the lanterns that changed, so
// a quiet fleet costs a few dozen bytes per poll instead of the whole inventory.

import { api } from './api.js';

// The same few texts (colours, pictograms) arrive in every answer as new strings; kept, each
// would outlive a few collections and then be garbage in the old generation, whose collection
// paused the page 20 ms (CPU) at a time while a city-wide warning changed every lantern.
const INTERNED = new Map();
const INTERN_MAX = 4096; // a fleet of many colours: stop interning, never grow without bound

export function intern(text) {
  if (typeof text !== 'string') return text;
  const known = INTERNED.get(text);
  if (known !== undefined) return known;
  if (INTERNED.size < INTERN_MAX) INTERNED.set(text, text);
  return text;
}

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
    // Every lantern of a city-wide warning changes at once (3,533 rows every 1.5 s): one pass
    // over the rows with plain index reads, no closure or object per row beyond the lantern's.
    const { id: iId, online: iOnline, audio_playing: iAudio, light_color: iLight } = col;
    const { pictogram: iPicto, heading_deg: iHeading, projection_color: iProjColor, broken: iBroken } = col;
    const seen = new Set();
    for (const row of feed.lanterns) {
      const id = row[iId];
      const online = row.length > iOnline ? row[iOnline] : null;
      const pictogram = row.length > iPicto ? row[iPicto] : null;
      const broken = row.length > iBroken ? row[iBroken] : null;
      let lantern = this.lanterns.get(id);
      if (!lantern) {
        lantern = { id, lon: null, lat: null };
        this.lanterns.set(id, lantern);
      }
      lantern.online = online == null ? null : online === 1;
      lantern.audio_playing = row.length > iAudio && row[iAudio] === 1;
      lantern.light_color = row.length > iLight ? intern(row[iLight]) : null;
      if ((broken || null) !== lantern.brokenText) {
        lantern.brokenText = broken || null;
        lantern.broken = broken ? broken.split(',') : null; // fitted parts reported broken
      }
      const heading = row.length > iHeading ? row[iHeading] : null;
      const color = row.length > iProjColor ? intern(row[iProjColor]) : null;
      const shown = lantern.projection;
      if (!pictogram) lantern.projection = null;
      else if (!shown || shown.pictogram !== pictogram || shown.heading_deg !== heading || shown.color !== color) {
        lantern.projection = { pictogram: intern(pictogram), heading_deg: heading, color };
      }
      seen.add(id);
      changed.push(id);
    }
    for (const [id, [lon, lat]] of Object.entries(feed.positions)) {
      const lantern = this.lanterns.get(id);
      if (!lantern) continue;
      lantern.lon = lon;
      lantern.lat = lat;
      if (!seen.has(id)) changed.push(id);
    }
    this.cursor = feed.cursor;
    return { full: feed.full, changed, removed };
  }

  list() {
    return [...this.lanterns.values()];
  }
}
