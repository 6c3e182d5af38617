// An alert's progress stream, read and parsed off the page's main thread (see sse.js): the
// page posts {url, headers} once, and gets {type: 'progress', alert, changes, sameTarget} per
// event, then {type: 'end'} when the server ends the stream, or {type: 'error', status, detail}
// (status 0: the network). The page ends it by terminating the worker.

import { foldProgress, readEvents } from './sse.js';

self.onmessage = async (event) => {
  const { url, headers } = event.data;
  let response;
  try {
    response = await fetch(url, { headers });
  } catch (error) {
    self.postMessage({ type: 'error', status: 0, detail: String(error.message || error) });
    return;
  }
  if (!response.ok || !response.body) {
    self.postMessage({ type: 'error', status: response.status, detail: response.statusText });
    return;
  }
  let targetKey = null;
  try {
    await readEvents(response, ({ type, data }) => {
      if (type !== 'progress' || !data) return;
      const folded = foldProgress(data, targetKey);
      targetKey = folded.targetKey;
      self.postMessage({ type: 'progress', alert: folded.alert, changes: folded.changes, sameTarget: folded.sameTarget });
    });
  } catch (error) {
    self.postMessage({ type: 'error', status: 0, detail: String(error.message || error) });
    return;
  }
  self.postMessage({ type: 'end' });
};
