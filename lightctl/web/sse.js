// Reading an alert's progress stream (server-sent events over fetch()) and folding each event
// into what the console needs: used in events_worker.js, and on the page where workers are
// missing.
//
// Why a worker: the first event of a city-wide warning lists all 3,533 lanterns' delivery rows
// (~500 KB of JSON), later ones hundreds; parsing them on the page took 15-30 ms of main-thread
// CPU each in a trace on the demo fleet. Off the page, the main thread gets three flat arrays.

/** Read a text/event-stream response, calling onEvent({type, data}) for each event. */
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      onEvent(parseEvent(block));
    }
  }
}

function parseEvent(block) {
  const event = { type: 'message', data: '' };
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event.type = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  event.data = data.join('\n');
  return event;
}

/**
 * One progress event as the page takes it: the alert without its delivery rows, and the rows
 * as parallel arrays (ids, states, reasons: null where none), or changes null when the server
 * sent counts only. The target travels only when it differs from the previous event's
 * (targetKey: its JSON then), since a target of chosen lanterns names every one of them.
 */
export function foldProgress(text, previousTargetKey) {
  const alert = JSON.parse(text);
  let changes = null;
  if (Array.isArray(alert.lanterns)) {
    const rows = alert.lanterns;
    const ids = new Array(rows.length);
    const states = new Array(rows.length);
    const reasons = new Array(rows.length);
    for (let i = 0; i < rows.length; i += 1) {
      ids[i] = rows[i].lantern;
      states[i] = rows[i].state;
      reasons[i] = rows[i].reason ?? null;
    }
    changes = { ids, states, reasons };
  }
  alert.lanterns = null;
  const targetKey = JSON.stringify(alert.target ?? null);
  const sameTarget = targetKey === previousTargetKey;
  if (sameTarget) delete alert.target;
  return { alert, changes, sameTarget, targetKey };
}
