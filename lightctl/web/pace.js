// How the console keeps its main thread free while a city-wide warning streams in: work asked
// for many times a second runs once per frame at most, and no more often than a set pace;
// long loops give the browser a turn between slices.

/**
 * Run fn at the next frame, but at most once every minGapMs however often request() is called
 * (a city-wide warning sends dozens of progress events a second; the map and the counts need
 * a few pictures a second, and every picture of a canvas costs a commit to the compositor).
 */
export class Paced {
  constructor(fn, minGapMs) {
    this.fn = fn;
    this.minGapMs = minGapMs;
    this.last = -Infinity;
    this.pending = false;
  }

  request() {
    if (this.pending) return;
    this.pending = true;
    const wait = Math.max(0, this.last + this.minGapMs - performance.now());
    const run = () =>
      requestAnimationFrame(() => {
        this.pending = false;
        this.last = performance.now();
        this.fn();
      });
    if (wait > 0) setTimeout(run, wait);
    else run();
  }
}

/** Give the browser a turn (input, painting) before going on with a long piece of work. */
export function yieldToMain() {
  if (globalThis.scheduler?.yield) return globalThis.scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Call fn(item) for every item, yielding to the browser every sliceMs of work. */
export async function eachSliced(items, fn, sliceMs = 8) {
  let started = performance.now();
  for (const item of items) {
    fn(item);
    if (performance.now() - started > sliceMs) {
      await yieldToMain();
      started = performance.now();
    }
  }
}

/** Write an element's text only when it changes: the same text written again still replaces
 * its text node and costs a style and layout pass (the live card is written 4 times a second
 * while a warning plays, and most of its lines stay the same). */
export function setText(element, text) {
  const value = String(text);
  if (element.textContent !== value) element.textContent = value;
}

/** The same for a class attribute. */
export function setClass(element, name) {
  if (element.className !== name) element.className = name;
}

const written = new WeakMap(); // element -> the markup setHtml last gave it

/** The same for markup: a list rebuilt from the same rows is left as it is (and a button in it
 * keeps the keyboard focus). */
export function setHtml(element, html) {
  if (written.get(element) === html) return;
  element.innerHTML = html;
  written.set(element, html);
}
