// The admin page: log in with a token, upload a CSV, preview, apply, and
// look at users and phones. Talks only to the JSON API (docs/openapi.yaml).
'use strict';

const $ = (s) => document.querySelector(s);
const TOKEN_KEY = 'autoprov-token';
let current = null; // { file, map } of the previewed upload; map: TOML text or null

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ''));
  return e;
}

// One API call; XHR for the upload progress events fetch() lacks.
function api(method, path, body, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader('Authorization', 'Bearer ' + sessionStorage.getItem(TOKEN_KEY));
    if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let json = null;
      try { json = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      resolve({ status: xhr.status, json, text: xhr.responseText });
    };
    xhr.onerror = () => resolve({ status: 0, json: null, text: 'network error' });
    xhr.send(body);
  });
}

async function login() {
  sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  const r = await api('GET', '/api/v1/users?format=json');
  if (r.status !== 200) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('#login-error').textContent = (r.json && r.json.detail) || 'login failed';
    return;
  }
  $('#token').value = '';
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#nav').hidden = false;
  show('import');
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

function show(view) {
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + view;
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.view === view);
  if (view === 'import') loadSources();
  if (view === 'users') loadUsers();
  if (view === 'phones') loadPhones();
}

function importQuery(dryRun) {
  const p = new URLSearchParams({ mode: $('#mode').value, file_name: current.file.name });
  if ($('#source').value) p.set('source', $('#source').value);
  if ($('#encoding').value !== 'auto') p.set('encoding', $('#encoding').value);
  if ($('#partial').checked) p.set('partial', 'true');
  if (dryRun) p.set('dry_run', 'true');
  if ($('#mode').value === 'replace') p.set('yes', 'true');
  if (current.map) p.set('map', current.map);
  return p.toString();
}

// The column step's choices as a mapping file (docs/import.md): each
// chosen target = its column, plus the row filter. Null when nothing was
// chosen by hand, so the file's own headers are read as usual.
function buildMap() {
  const chosen = {};
  for (const s of document.querySelectorAll('#mapping select')) {
    if (!s.value) continue;
    if (chosen[s.value] !== undefined) return { error: `"${chosen[s.value]}" and "${s.dataset.header}" are both imported as ${s.value}; keep one` };
    chosen[s.value] = s.dataset.header;
  }
  const filter = $('#filter').value.trim();
  let text = filter ? 'filter = ' + JSON.stringify(filter) + '\n' : '';
  text += '[map]\n';
  for (const [field, header] of Object.entries(chosen)) text += `${field} = ${JSON.stringify(header)}\n`;
  return { text };
}

function remap() {
  if (!current || !current.file) return; // a source maps in the config
  const m = buildMap();
  if (m.error) {
    $('#status').textContent = m.error;
    $('#status').className = 'bad';
    return;
  }
  current.map = m.text;
  $('#map-toml').textContent = m.text;
  $('#map-save').hidden = false;
  previewFile(current.file, true);
}

// Upload progress, then an indeterminate bar while the server reads,
// validates and plans (a few seconds for 100,000 rows).
function progress(fraction) {
  const bar = $('#progress');
  bar.hidden = false;
  $('#status').className = '';
  if (fraction < 1) {
    bar.value = Math.round(fraction * 100);
    $('#status').textContent = 'Uploading… ' + bar.value + ' %';
  } else {
    bar.removeAttribute('value');
    $('#status').textContent = 'Checking the file…';
  }
}

// keepMap: the same file again with the column step's mapping; a new
// file starts from its own headers.
async function previewFile(file, keepMap) {
  if (!keepMap) {
    current = { file, map: null };
    $('#filter').value = '';
    $('#map-save').hidden = true;
    $('#preview').hidden = true;
  }
  const r = await api('POST', '/api/v1/import/preview?' + importQuery(true), file, progress);
  $('#progress').hidden = true;
  if (r.status !== 200 || !r.json) {
    $('#status').textContent = (r.json && r.json.detail) || 'preview failed (HTTP ' + r.status + ')';
    $('#status').className = 'bad';
    return;
  }
  renderPreview(r.json);
}

function renderPreview(p) {
  const rep = p.report;
  const s = rep.summary;
  $('#status').textContent = p.exit_code === 0
    ? 'The file is valid. Review the changes, then apply.'
    : 'The file has problems; nothing can be applied' + ($('#partial').checked ? ' except the valid rows.' : '. Fix them and upload it again.');
  $('#status').className = p.exit_code === 0 ? 'good' : 'bad';
  $('#dialect').textContent = 'Detected: ' + rep.file.encoding + ', delimiter "' + rep.file.delimiter + '", ' + rep.file.rows + ' rows.';
  $('#summary').textContent = `create ${s.created}, update ${s.updated}, delete ${s.deleted}, unchanged ${s.unchanged}, skipped ${s.skipped}, errors ${s.errors}, warnings ${s.warnings}`;

  const hints = {};
  for (const w of rep.warnings) if (w.code === 'W_UNKNOWN_COLUMN' && w.column) hints[w.column] = w.message;
  const mapping = $('#mapping tbody');
  mapping.replaceChildren();
  const t = p.table;
  (t ? t.headers : []).forEach((h, i) => {
    const col = t.columns[i];
    const pick = el('select', { 'data-header': h }, el('option', { value: '' }, 'ignored'),
      ...t.fields.map((f) => el('option', { value: f }, f)));
    pick.value = col || '';
    pick.onchange = remap;
    // A configured source maps in the config ([sources.NAME.map]), not here.
    if (current && current.source) pick.disabled = true;
    mapping.append(el('tr', {}, el('td', {}, h),
      el('td', col ? {} : { class: 'ignored' }, pick, col ? '' : ' ' + (hints[h] || ''))));
  });

  const changes = $('#changes tbody');
  changes.replaceChildren();
  for (const c of rep.changes.filter((c) => c.action !== 'unchanged')) {
    const diff = el('td');
    for (const [field, [oldV, newV]] of Object.entries(c.fields || {})) {
      diff.append(el('div', {}, field + ': ', el('del', {}, oldV ?? '∅'), ' → ', el('ins', {}, newV ?? '∅')));
    }
    changes.append(el('tr', { class: 'action-' + c.action }, el('td', {}, c.username), el('td', {}, c.action), diff));
  }

  const problems = $('#problems');
  problems.replaceChildren();
  for (const e of rep.errors) {
    const where = e.entry != null ? `row ${e.row} (${e.entry})` : e.row != null ? `row ${e.row} (line ${e.line})` : e.line != null ? `line ${e.line}` : 'file';
    problems.append(el('li', { class: 'bad' }, `${where}${e.column ? ', ' + e.column : ''}: ${e.message} [${e.code}]`));
  }
  for (const w of rep.warnings) problems.append(el('li', { class: 'ignored' }, `${w.column || ''}: ${w.message}`));
  for (const k of rep.skipped_rows || []) problems.append(el('li', { class: 'ignored' }, `row ${k.row} (${k.entry != null ? k.entry : 'line ' + k.line}) skipped: ${k.reason}`));

  renderRows(t, rep.errors);
  $('#preview').hidden = false;
  const applicable = p.exit_code === 0 && (s.created + s.updated + s.deleted > 0);
  $('#apply').disabled = !applicable;
}

// The rows with each error on its cell (or its row when no cell matches).
function renderRows(t, errors) {
  const head = $('#rows thead');
  const body = $('#rows tbody');
  head.replaceChildren();
  body.replaceChildren();
  if (!t) return;
  head.append(el('tr', {}, el('th', {}, 'row'), ...t.headers.map((h) => el('th', {}, h)), el('th', {}, 'problems')));
  const byRow = {};
  for (const e of errors) if (e.row != null) (byRow[e.row] = byRow[e.row] || []).push(e);
  for (const r of t.rows) {
    const errs = byRow[r.row] || [];
    const tr = el('tr', { 'data-row': r.row, class: errs.length ? 'error' : '' }, el('td', {}, r.entry != null ? r.entry : String(r.row)));
    const unplaced = [];
    const cellErr = {};
    for (const e of errs) {
      const i = t.headers.findIndex((h, k) => t.columns[k] === e.column || h === e.column);
      if (i >= 0) cellErr[i] = (cellErr[i] ? cellErr[i] + '; ' : '') + e.message;
      else unplaced.push(e.message);
    }
    t.headers.forEach((_, i) => {
      const attrs = cellErr[i] ? { class: 'error', title: cellErr[i], 'data-column': t.columns[i] || t.headers[i] } : {};
      tr.append(el('td', attrs, r.cells[i] ?? ''));
    });
    tr.append(el('td', { class: 'rowmsg' }, [...Object.values(cellErr), ...unplaced].join('; ')));
    body.append(tr);
  }
}

// Configured sources (CSV URLs and LDAP directories): a preview of one is
// shown exactly like an upload's, and Apply runs it.
async function loadSources() {
  const r = await api('GET', '/api/v1/sources');
  const list = $('#sources');
  list.replaceChildren();
  for (const src of r.json || []) {
    const b = el('button', { 'data-source': src.name }, 'Preview');
    b.onclick = () => previewSource(src.name);
    list.append(el('li', {}, `${src.name} (${src.kind || 'csv'}, ${src.url}, ${src.mode}) `, b));
  }
  $('#sources-box').hidden = !list.children.length;
}

async function previewSource(name) {
  current = { source: name, map: null };
  $('#preview').hidden = true;
  $('#status').className = '';
  $('#status').textContent = 'Fetching source ' + name + '…';
  const r = await api('POST', '/api/v1/sources/' + encodeURIComponent(name) + '/preview');
  if (r.status !== 200 || !r.json) {
    $('#status').textContent = (r.json && r.json.detail) || 'preview failed (HTTP ' + r.status + ')';
    $('#status').className = 'bad';
    return;
  }
  renderPreview(r.json);
}

async function apply() {
  $('#apply').disabled = true;
  $('#status').textContent = 'Applying…';
  const r = current.source
    ? await api('POST', '/api/v1/sources/' + encodeURIComponent(current.source) + '/run?dry_run=false&format=json')
    : await api('POST', '/api/v1/import?' + importQuery(false), current.file, progress);
  $('#progress').hidden = true;
  if (r.status === 200 && r.json && r.json.applied) {
    const s = r.json.summary;
    $('#status').textContent = `Applied: created ${s.created}, updated ${s.updated}, deleted ${s.deleted}.`;
    $('#status').className = 'good';
    $('#preview').hidden = true;
  } else {
    $('#status').textContent = 'Not applied: ' + ((r.json && (r.json.detail || (r.json.errors[0] || {}).message)) || r.status);
    $('#status').className = 'bad';
  }
}

async function loadUsers() {
  const r = await api('GET', '/api/v1/users?format=json');
  const body = $('#users tbody');
  body.replaceChildren();
  for (const u of r.json || []) {
    body.append(el('tr', { 'data-username': u.username },
      el('td', {}, u.username), el('td', {}, u.display_name),
      el('td', {}, (u.lines[0] || {}).extension || ''), el('td', {}, u.site),
      el('td', {}, u.phones.map((p) => p.mac).join(', '))));
  }
}

// The state of a phone's last telling fetch, as people read it.
function provisioning(p) {
  const words = {
    never_fetched: 'never fetched', unknown: 'fetched', common_only: 'common files only',
    bootstrap_only: 'bootstrap only', provisioned: 'provisioned',
  };
  return p.provisioning === 'refused' ? `refused (${p.refusal_reason || ''})` : words[p.provisioning] || '';
}

async function loadPhones() {
  const r = await api('GET', '/api/v1/phones?format=json');
  const body = $('#phones tbody');
  body.replaceChildren();
  for (const p of r.json || []) {
    const f = p.last_fetch;
    const state = !f ? 'never' : f.status === 200 ? 'ok' : 'failed';
    const fetched = f ? `${p.last_seen} from ${f.ip}: ${f.file} (${f.status})` : 'never fetched';
    const open = el('button', { class: 'link', type: 'button', 'aria-controls': 'phone-detail' }, p.mac);
    open.onclick = () => loadPhone(p.mac);
    body.append(el('tr', { class: state, 'data-mac': p.mac },
      el('td', {}, open), el('td', {}, p.vendor), el('td', {}, p.model || ''),
      el('td', {}, p.firmware || ''), el('td', {}, p.firmware_target ? p.firmware_current : 'no target'),
      el('td', {}, p.username), el('td', {}, provisioning(p)), el('td', {}, fetched)));
  }
}

// One phone's story: its fields, lines (passwords masked) and last fetches.
async function loadPhone(mac) {
  const r = await api('GET', `/api/v1/phones/${encodeURIComponent(mac)}?format=json`);
  const box = $('#phone-detail');
  box.hidden = false;
  const p = r.json;
  if (r.status !== 200 || !p) {
    box.replaceChildren(el('p', { class: 'bad' }, (p && p.detail) || 'cannot load the phone'));
    return;
  }
  const facts = [
    ['User', `${p.username} (${p.display_name})`], ['Site', p.site],
    ['Vendor and model', `${p.vendor} ${p.model || ''}`], ['Firmware', p.firmware || 'not reported'],
    ['Target firmware', p.firmware_target ? `${p.firmware_target} (runs it: ${p.firmware_current})` : 'none set'],
    ['State', provisioning(p)], ['Last seen', p.last_seen || 'never'],
  ];
  const dl = el('dl', {});
  for (const [k, v] of facts) dl.append(el('dt', {}, k), el('dd', {}, v));
  const lines = el('table', {}, el('caption', {}, 'Lines'),
    el('thead', {}, el('tr', {}, ...['Extension', 'SIP user', 'Transport'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...p.lines.map((l) => el('tr', {},
      el('td', {}, l.extension), el('td', {}, l.sip_username), el('td', {}, l.transport || '')))));
  const fetches = el('table', { id: 'fetches' }, el('caption', {}, 'Last fetches, newest first'),
    el('thead', {}, el('tr', {}, ...['Time', 'Via', 'File', 'Status', 'Kind', 'Firmware', 'Reason']
      .map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...p.fetches.slice().reverse().map((f) => el('tr', { class: f.kind },
      el('td', {}, f.time.replace('T', ' ').replace('Z', ' UTC')), el('td', {}, f.channel), el('td', {}, f.file),
      el('td', {}, String(f.status)), el('td', {}, f.kind), el('td', {}, f.firmware || ''), el('td', {}, f.reason || '')))));
  const heading = el('h3', { tabindex: '-1' }, `Phone ${p.mac}`);
  box.replaceChildren(heading, dl, lines, fetches);
  heading.focus();
}

document.addEventListener('DOMContentLoaded', () => {
  $('#login-btn').onclick = login;
  // (A handler returning false would cancel every other key's typing.)
  $('#token').addEventListener('keydown', (e) => { if (e.key === 'Enter') login(); });
  $('#logout').onclick = logout;
  for (const b of document.querySelectorAll('.tab')) b.onclick = () => show(b.dataset.view);
  $('#file').onchange = (e) => e.target.files[0] && previewFile(e.target.files[0]);
  const drop = $('#drop');
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add('over'); };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) previewFile(e.dataTransfer.files[0]);
  };
  for (const id of ['#mode', '#partial', '#source', '#encoding']) {
    $(id).onchange = () => current && current.file && previewFile(current.file, true);
  }
  $('#filter').onchange = () => current && remap();
  $('#apply').onclick = apply;
  if (sessionStorage.getItem(TOKEN_KEY)) {
    $('#token').value = sessionStorage.getItem(TOKEN_KEY);
    login();
  }
});
