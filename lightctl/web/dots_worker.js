// The lanterns' canvas, drawn off the page's main thread: the page hands over its canvas once
// (transferControlToOffscreen) and then one frame of arrays per picture (dots_draw.js); the
// worker draws it and the picture goes to the compositor from here, so a city-wide warning's
// pictures cost the page's main thread only the arrays.

import { drawFrame } from './dots_draw.js';

let canvas = null;
let ctx = null;
let latest = null;
let busy = false;

self.onmessage = (event) => {
  const message = event.data;
  if (message.canvas) {
    canvas = message.canvas;
    ctx = canvas.getContext('2d');
    return;
  }
  latest = message; // frames that arrive while one is drawn: only the newest is drawn
  if (!busy) drawLatest();
};

function drawLatest() {
  if (!latest || !ctx) return;
  const frame = latest;
  latest = null;
  busy = true;
  const width = Math.round(frame.width * frame.ratio);
  const height = Math.round(frame.height * frame.ratio);
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const clusters = drawFrame(ctx, frame);
  self.postMessage({ seq: frame.seq, clusters });
  busy = false;
  if (latest) setTimeout(drawLatest, 0);
}
