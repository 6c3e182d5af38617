// Drawing the lanterns' canvas from one frame of plain arrays: the same code runs in a worker
// (dots_worker.js, on an OffscreenCanvas, so neither drawing nor handing the picture to the
// compositor takes the page's main thread) or, where a browser has no OffscreenCanvas, on the
// main thread. No Leaflet and no DOM here.
//
// A frame: {width, height, ratio (device pixels per CSS pixel), x0, y0 (the projected pixel at
// the canvas's top-left), zoom, clustered, n, px, py (Float64Array: projected pixels), look
// (Uint16Array: index into looks), looks: [{fill, fillOpacity, color, weight, opacity, extra,
// shown}], flags (Uint8Array: BROKEN | SELECTED | DIM), arrows: [{px, py, heading, color}]}.

export const BROKEN = 1;
export const SELECTED = 2;
export const DIM = 4;

export const CELL_PX = 64; // one cluster per 64 px square: ~150 discs on an 850×750 map, streets between
// Which of a cell's states fills its disc: the first one present in this order. Problems first
// (the dispatcher must see them zoomed out), then work in progress, then the quiet states.
export const SEVERITY = ['failed', 'unreachable', 'offline', 'waiting', 'received', 'playing', 'unknown', 'light', 'done', 'ended', 'online'];
const RANK = new Map(SEVERITY.map((s, i) => [s, i]));
const BROKEN_COLOR = '#ef4444';
const SELECTED_COLOR = '#facc15';
const MARGIN_PX = 20; // dots just outside the canvas still reach into it

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

/** Draw one frame; returns the clusters drawn ([] zoomed in): [{x, y, r, n, worst, counts}]
 * in projected pixels. */
export function drawFrame(ctx, frame) {
  const { ratio } = frame;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.setTransform(ratio, 0, 0, ratio, -frame.x0 * ratio, -frame.y0 * ratio);
  const view = {
    x0: frame.x0 - MARGIN_PX,
    y0: frame.y0 - MARGIN_PX,
    x1: frame.x0 + frame.width + MARGIN_PX,
    y1: frame.y0 + frame.height + MARGIN_PX,
  };
  if (frame.clustered) return drawClusters(ctx, frame, view);
  drawDots(ctx, frame, view);
  drawArrows(ctx, frame, view);
  return [];
}

function inView(view, x, y) {
  return x >= view.x0 && x <= view.x1 && y >= view.y0 && y <= view.y1;
}

function drawDots(ctx, frame, view) {
  const { px, py, look, flags, looks } = frame;
  const base = radiusAt(frame.zoom);
  // One path per look: 3,533 dots are a handful of fill() calls.
  const groups = looks.map(() => []);
  const broken = [];
  for (let i = 0; i < frame.n; i += 1) {
    if (!inView(view, px[i], py[i])) continue;
    groups[look[i]].push(i);
    if (flags[i] & BROKEN) broken.push(i);
  }
  // Rings and the focus (larger extra) on top of the plain dots.
  const order = looks.map((_, k) => k).sort((a, b) => looks[a].extra - looks[b].extra);
  for (const k of order) {
    const list = groups[k];
    if (!list.length) continue;
    const style = looks[k];
    const r = base + style.extra;
    ctx.beginPath();
    for (const i of list) {
      ctx.moveTo(px[i] + r, py[i]);
      ctx.arc(px[i], py[i], r, 0, 2 * Math.PI);
    }
    ctx.globalAlpha = style.fillOpacity;
    ctx.fillStyle = style.fill;
    ctx.fill();
    if (style.weight > 0) {
      ctx.globalAlpha = style.opacity;
      ctx.strokeStyle = style.color;
      ctx.lineWidth = style.weight;
      ctx.stroke();
    }
  }
  ctx.globalAlpha = 1;
  // A broken speaker: a red cross over the dot's upper right, in every view.
  if (broken.length) {
    ctx.beginPath();
    for (const i of broken) {
      const r = base + looks[look[i]].extra;
      const s = Math.max(2.5, r * 0.7);
      const cx = px[i] + r * 0.8;
      const cy = py[i] - r * 0.8;
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
}

function drawArrows(ctx, frame, view) {
  const { inner, reach } = projectionSize(frame.zoom);
  ctx.lineWidth = 1;
  ctx.strokeStyle = '#020617';
  for (const a of frame.arrows) {
    if (!inView(view, a.px, a.py)) continue;
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
}

/** Merge the dots of each CELL_PX square into one disc: worst state, shares, count. */
function drawClusters(ctx, frame, view) {
  const { px, py, look, flags, looks } = frame;
  const cells = new Map();
  for (let i = 0; i < frame.n; i += 1) {
    if (!inView(view, px[i], py[i])) continue;
    const key = Math.floor(px[i] / CELL_PX) * 100003 + Math.floor(py[i] / CELL_PX);
    let cell = cells.get(key);
    if (!cell) {
      cell = { n: 0, sx: 0, sy: 0, counts: new Map(), colors: new Map(), worst: null, selected: 0, dim: 0, broken: 0 };
      cells.set(key, cell);
    }
    const style = looks[look[i]];
    cell.n += 1;
    cell.sx += px[i];
    cell.sy += py[i];
    cell.counts.set(style.shown, (cell.counts.get(style.shown) || 0) + 1);
    if (!cell.colors.has(style.shown)) cell.colors.set(style.shown, style.fill);
    if (cell.worst == null || RANK.get(style.shown) < RANK.get(cell.worst)) cell.worst = style.shown;
    if (flags[i] & SELECTED) cell.selected += 1;
    if (flags[i] & DIM) cell.dim += 1;
    if (flags[i] & BROKEN) cell.broken += 1;
  }
  const clusters = [];
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.font = 'bold 10px system-ui, sans-serif';
  for (const cell of cells.values()) {
    const x = cell.sx / cell.n;
    const y = cell.sy / cell.n;
    const r = Math.min(12, 5 + 1.6 * Math.log2(cell.n + 1));
    clusters.push({ x, y, r, n: cell.n, worst: cell.worst, counts: Object.fromEntries(cell.counts), broken: cell.broken });
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
  return clusters;
}

/** Whether text on this fill reads better dark (light fills) than white. */
function darkText(color) {
  const m = /^#([0-9a-f]{6})$/i.exec(color || '');
  if (!m) return false;
  const n = parseInt(m[1], 16);
  const lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return lum > 150;
}
