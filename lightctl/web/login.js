// Signing in (issue 7): a username and password buy a session token for one shift. The dialog
// opens before anything loads when the API asks for credentials, and again whenever a request is
// refused with 401 (the session expired mid-flow); the page underneath keeps what was entered.

import { api, hasToken, setToken } from './api.js';
import { onLanguageChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);

const RETRY_MS = 3000;

let waiting = []; // resolvers of everyone waiting for the next successful sign-in
let me = null;

/**
 * Who is signed in: {subject, roles, ceiling}, or null when the API asks for no credentials
 * (a server without issue 7's sign-in). Opens the sign-in dialog until a sign-in succeeds.
 */
export async function ensureSignedIn() {
  bind();
  for (;;) {
    try {
      me = await api.me();
      showSession();
      return me;
    } catch (error) {
      if (error.status === 404) return null; // no sign-in on this server
      if (error.status === 401) await askSignIn(hasToken() ? 'expired' : 'start');
      else await new Promise((resolve) => setTimeout(resolve, RETRY_MS)); // server not up yet
    }
  }
}

/** Open the dialog (if it is not open yet) and resolve after the next successful sign-in. */
export function askSignIn(reason) {
  const dialog = $('login');
  $('login-reason').textContent = t(`login.${reason}`);
  $('login-error').textContent = '';
  if (!dialog.open) {
    dialog.showModal();
    $('login-user').focus();
  }
  return new Promise((resolve) => waiting.push(resolve));
}

export function signedIn() {
  return me;
}

let bound = false;

function bind() {
  if (bound) return;
  bound = true;
  const dialog = $('login');
  dialog.addEventListener('cancel', (e) => e.preventDefault()); // Escape cannot skip signing in
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const username = $('login-user').value.trim();
    const password = $('login-password').value;
    if (!username || !password) {
      $('login-error').textContent = t('login.missing');
      return;
    }
    $('login-submit').disabled = true;
    try {
      const out = await api.login(username, password);
      setToken(out.token);
      me = { subject: out.username, roles: out.roles, ceiling: out.ceiling };
      $('login-password').value = '';
      dialog.close();
      showSession();
      const resolvers = waiting;
      waiting = [];
      for (const resolve of resolvers) resolve(me);
    } catch (error) {
      $('login-error').textContent =
        error.status === 401 ? t('login.wrong') : error.status === 429 ? t('login.tooMany') : t('err.generic', { detail: error.message });
      $('login-password').select();
    } finally {
      $('login-submit').disabled = false;
    }
  });
  $('session').addEventListener('click', async (e) => {
    if (!e.target.closest('#logout')) return;
    try {
      await api.logout();
    } catch {
      // signed out locally all the same
    }
    setToken(null);
    me = null;
    showSession();
    await askSignIn('signedOut');
  });
  onLanguageChange(showSession);
}

function showSession() {
  const box = $('session');
  if (!me) {
    box.hidden = true;
    box.innerHTML = '';
    return;
  }
  box.hidden = false;
  const roles = (me.roles || []).join(', ');
  box.innerHTML = '';
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = roles ? `${me.subject} (${roles})` : me.subject;
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'logout';
  button.textContent = t('login.logout');
  box.append(who, button);
}
