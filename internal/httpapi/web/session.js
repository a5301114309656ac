// The sign-in shared by sluice's pages (Streams, Explorer): a project id
// and its master key, checked against the server, kept in this tab's
// sessionStorage under one name for every page of the project (signing in
// to one page signs in to the others). A page calls sluiceSession with:
//   page       its path under /projects/{pid}/ ("streams", "explorer");
//   check      async (api) => data: what proves the key is the master key
//              (and what the page needs first);
//   onSignIn   (data) => void: show the signed-in page;
//   onSignOut  () => void: hide it (the form is shown by this module).
// It returns {api, signOut}: api(method, path, body) calls
// /3.0/projects/{pid}{path} with the key and throws an Error (with .status)
// on an error answer; signOut forgets the key and shows the form.
'use strict';

window.sluiceSession = function (opts) {
  const $ = (id) => document.getElementById(id);
  const meta = (name) => (document.querySelector('meta[name="' + name + '"]') || {}).content || '';
  const pagePID = meta('sluice-project-id');
  const keyName = (pid) => 'sluice.master.' + pid;
  let session = null; // {pid, key}

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: session.key } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const resp = await fetch('/3.0/projects/' + encodeURIComponent(session.pid) + path, init);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = data && data.message ? data.message : 'HTTP ' + resp.status;
      const err = new Error(data && data.error_code ? data.error_code + ': ' + msg : msg);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  async function signIn(pid, key) {
    session = { pid, key };
    const data = await opts.check(api);
    sessionStorage.setItem(keyName(pid), key);
    $('sign-in').hidden = true;
    $('sign-out').hidden = false;
    await opts.onSignIn(data);
  }

  function signOut() {
    if (session) sessionStorage.removeItem(keyName(session.pid));
    session = null;
    opts.onSignOut();
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    $('master-key').value = '';
    $('master-key').focus();
  }

  $('sign-in-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const pid = $('project-id').value.trim();
    const key = $('master-key').value.trim();
    $('sign-in-error').textContent = '';
    if (!/^[0-9a-f]{24}$/.test(pid)) {
      $('sign-in-error').textContent = 'A project id is 24 lowercase hexadecimal characters.';
      return;
    }
    if (key === '') {
      $('sign-in-error').textContent = 'Enter the project\'s master key.';
      return;
    }
    if (pid !== pagePID) {
      // Each project has its own page; carry the key over in this tab.
      sessionStorage.setItem(keyName(pid), key);
      window.location.assign('/projects/' + pid + '/' + opts.page);
      return;
    }
    $('sign-in-button').disabled = true;
    try {
      await signIn(pid, key);
    } catch (e) {
      session = null;
      $('sign-in-error').textContent = e.status === 401 || e.status === 404
        ? 'Sign-in failed: ' + e.message + ' Check the project id and use its master key.'
        : 'Sign-in failed: ' + e.message;
    } finally {
      $('sign-in-button').disabled = false;
    }
  });

  $('sign-out').addEventListener('click', signOut);

  // A key kept in this tab signs in at once.
  const kept = sessionStorage.getItem(keyName(pagePID));
  if (kept) {
    $('master-key').value = '';
    signIn(pagePID, kept).catch((e) => {
      sessionStorage.removeItem(keyName(pagePID));
      session = null;
      opts.onSignOut();
      $('sign-out').hidden = true;
      $('sign-in').hidden = false;
      $('sign-in-error').textContent = 'Please sign in again: ' + e.message;
    });
  }

  return { api, signOut };
};
