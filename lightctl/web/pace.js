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
