// The console's entry point: loads what every view needs, wires tabs and the language switch, and
// keeps the map live by polling the fleet's state.

import { api, onUnauthorized } from './api.js';
import { Dispatcher } from './dispatcher.js';
import { Events, mountFeatures } from './extend.js';
import { describeTarget } from './format.js';
import './features.js';
import { applyStatic, onLanguageChange, setLang, t } from './i18n.js';
import { LiveFleet } from './live.js';
import { askSignIn, ensureSignedIn } from './login.js';
import { ConsoleMap } from './map.js';
import { Operator } from './operator.js';

const $ = (id) => document.getElementById(id);

const LIVE_POLL_MS = 1500; // lantern colours on the map lag the fleet by at most this much
const HEALTH_POLL_MS = 10000;
// Alerts waiting for a second dispatcher's approval show up within this time.
const HISTORY_POLL_MS = 4000;
const RETRY_MS = 3000;

async function main() {
  applyStatic();
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.addEventListener('click', () => setLang(button.dataset.lang));
  }

  // Sign in before loading anything (when the API asks for credentials). A 401 later on (the
  // session expired mid-flow) opens the same dialog; the form keeps what the user entered.
  onUnauthorized(() => askSignIn('expired'));
  const me = await ensureSignedIn();

  let dispatcher;
  let operator;
  const cmap = new ConsoleMap($('map'), {
    onStreet: (name) => dispatcher.toggleStreet(name),
    onLantern: (id) => operator.select(id),
    // In the dispatch view a lantern the followed alert missed opens its story.
    canPickInDispatch: (id) => dispatcher.follower.isProblem(id),
    onDispatchLantern: (id) => dispatcher.follower.showLantern(id),
    onClick: (latlng) => (operator.draw.active ? operator.draw : dispatcher.draw).click(latlng),
  });
  cmap.attachLegend($('legend'));
  onLanguageChange(() => cmap.renderLegend());
  const events = new Events();
  dispatcher = new Dispatcher(cmap, events);
  operator = new Operator(cmap);
  const selectTab = setupTabs(cmap, dispatcher, operator, events);

  const fleet = new LiveFleet();
  const data = await loadAll(fleet);
  cmap.setStreets(data.geometry);
  cmap.setLive(fleet.lanterns);
  cmap.fitAll();
  dispatcher.init(data);
  dispatcher.setAccess(me);
  operator.init(me);
  // The audit trail names a warning as the dispatcher knows it ("Fire – Talstrasse").
  operator.alertName = (id) => {
    const a = [...(dispatcher.history || []), ...dispatcher.running.list].find((x) => x.id === id);
    return a ? `${dispatcher.composer.templateTitle(a.template)} – ${describeTarget(a.target)}` : null;
  };
  operator.renderFleet(fleet.list());
  dispatcher.history = data.alerts;
  // Whatever is still on the street is followed again after a reload or on another device.
  const running = await dispatcher.running.refresh();
  dispatcher.renderHistory(data.alerts);
  // (A warning held for approval waits in its own card; it has not reached the street.)
  const onStreet = running.find((a) => a.status !== 'awaiting_approval');
  if (onStreet) dispatcher.follow(onStreet);
  mountFeatures({ cmap, api, t, onLanguageChange, events, dispatcher, operator });
  land(me, selectTab);

  pollLive(fleet, cmap, operator);
  pollHealth();
  setInterval(() => {
    if (document.hidden) return;
    if (!$('view-dispatch').hidden) dispatcher.refreshHistory();
    if (!$('view-operate').hidden) {
      operator.refreshAudit();
      operator.refreshSteering();
    }
  }, HISTORY_POLL_MS);

  // For the browser test and for debugging from the developer console.
  window.lightctl = { map: cmap, fleet, dispatcher, operator };
  document.body.dataset.ready = 'true';
}

/**
 * Everyone lands where they work: whoever may alert on the dispatch form; an operator (who may
 * not) on the fleet view; anyone else (a viewer) on the running warnings, without a form they
 * could not use. The capabilities come from the API (GET /auth/me), not from a role list here.
 */
function land(me, selectTab) {
  const caps = me && Array.isArray(me.capabilities) ? me.capabilities : null;
  if (!caps || caps.includes('alert')) return;
  if (caps.includes('import') || caps.includes('simulate')) {
    selectTab($('tab-operate'), false);
    return;
  }
  document.body.classList.add('watch-only');
  $('running').focus();
}

async function loadAll(fleet) {
  for (;;) {
    try {
      const [templates, groups, streets, geometry, , alerts, settings] = await Promise.all([
        api.templates(),
        api.groups(),
        api.streets(),
        api.streetGeometry(),
        fleet.poll(),
        api.alerts(15),
        api.consoleSettings().catch(() => ({ city_languages: null })),
      ]);
      $('health').textContent = '';
      return { templates, groups, streets, geometry, alerts, cityLanguages: settings.city_languages };
    } catch (error) {
      $('health').textContent = error.status === 0 || error.status >= 500 ? t('health.down') : t('err.generic', { detail: error.message });
      $('health').className = 'health down';
      await sleep(RETRY_MS);
    }
  }
}

async function pollLive(fleet, cmap, operator) {
  for (;;) {
    await sleep(LIVE_POLL_MS);
    if (document.hidden) continue;
    try {
      const changes = await fleet.poll();
      cmap.setLive(fleet.lanterns, changes.full ? null : changes);
      if (changes.full || changes.changed.length || changes.removed.length) operator.renderFleet(fleet.list());
    } catch {
      // the health line says when the server is gone; the map keeps its last picture
    }
  }
}

async function pollHealth() {
  let health = null; // null: the server did not answer
  const render = () => {
    const line = $('health');
    const ok = health && health.status === 'ok';
    if (!health) line.textContent = t('health.down');
    else line.textContent = ok ? t('health.ok') : t('health.degraded', { detail: `MQTT ${health.mqtt}, DB ${health.db}` });
    line.className = `health ${ok ? 'ok' : health ? 'degraded' : 'down'}`;
  };
  onLanguageChange(render);
  for (;;) {
    try {
      health = await api.health();
    } catch {
      health = null;
    }
    render();
    await sleep(HEALTH_POLL_MS);
  }
}

function setupTabs(cmap, dispatcher, operator, events) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute('aria-selected', String(on));
      other.tabIndex = on ? 0 : -1;
      $(other.getAttribute('aria-controls')).hidden = !on;
    }
    if (focus) tab.focus();
    dispatcher.draw.cancel();
    operator.draw.cancel();
    cmap.setMode(tab.id === 'tab-operate' ? 'operate' : 'dispatch');
    cmap.map.invalidateSize();
    events.emit('view', { view: tab.id === 'tab-operate' ? 'operate' : 'dispatch' });
    if (tab.id === 'tab-operate') {
      operator.refreshAudit();
      operator.refreshSimulator();
      operator.refreshSteering();
    }
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (e) => {
      const keys = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
      if (!(e.key in keys)) return;
      e.preventDefault();
      select(tabs[(keys[e.key] + tabs.length) % tabs.length], true);
    });
  });
  return select;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main();
