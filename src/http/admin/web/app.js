// The admin page: log in with a token, upload a CSV, preview, apply, and
// look after users, phones, the import history and the sources. Talks only
// to the JSON API (docs/openapi.yaml, docs/admin-api.md).
'use strict';

const $ = (s) => document.querySelector(s);
const TOKEN_KEY = 'autoprov-token';
const PER_PAGE = 50;
const ROWS_PER_PAGE = 100;
// The upload being previewed: { file: {name, bytes}, map, ignore, source }.
// The file is read into memory once, so a file changed on disk afterwards
// cannot break Apply (Chromium's ERR_UPLOAD_FILE_CHANGED).
let current = null;
let last = null; // the last preview's JSON
const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'onclick') e.onclick = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(c ?? ''));
  return e;
}

const plural = (n, one, many) => `${n.toLocaleString('en')} ${n === 1 ? one : many || one + 's'}`;

// A time as the admin's clock reads it, to the second.
function when(t) {
  if (!t) return '';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t).replace(/\.\d+/, '');
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

function say(text, kind) {
  $('#status').textContent = text;
  $('#status').className = kind || '';
}

// One API call; XHR for the upload progress events fetch() lacks. A 401
// means the token expired or was revoked: back to the login, never an
// empty table that looks like lost data.
function api(method, path, body, opts) {
  const o = opts || {};
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader('Authorization', 'Bearer ' + (sessionStorage.getItem(TOKEN_KEY) || ''));
    if (o.json) xhr.setRequestHeader('Content-Type', 'application/json');
    if (o.blob) xhr.responseType = 'blob';
    if (o.progress) xhr.upload.onprogress = (e) => e.lengthComputable && o.progress(e.loaded / e.total);
    xhr.onload = () => {
      let json = null;
      if (!o.blob) {
        try { json = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      }
      const r = { status: xhr.status, json, blob: o.blob ? xhr.response : null, headers: xhr };
      if (xhr.status === 401 && !o.login) expired();
      resolve(r);
    };
    xhr.onerror = () => resolve({ status: 0, json: null });
    xhr.send(o.json ? JSON.stringify(body) : body);
  });
}

// What went wrong, in the server's words.
function problem(r, what) {
  const j = r.json;
  if (j && j.detail) return j.detail;
  const errs = j && (j.errors || (j.report && j.report.errors));
  if (errs && errs.length) return errs.map(issueText).join('; ');
  if (j && j.message) return j.message;
  return r.status === 0 ? what + ': the server did not answer' : `${what} (HTTP ${r.status})`;
}

function issueText(e) {
  return (e.column ? e.column + ': ' : '') + e.message;
}

function expired() {
  if ($('#app').hidden) return;
  sessionStorage.removeItem(TOKEN_KEY);
  $('#app').hidden = true;
  $('#nav').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = 'Your session expired or the token was revoked: log in again.';
  $('#token').focus();
}

async function login() {
  sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  const r = await api('GET', '/api/v1/users?format=json&page=1&per_page=1', null, { login: true });
  if (r.status !== 200) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('#login-error').textContent = problem(r, 'login failed');
    return;
  }
  $('#token').value = '';
  $('#login-error').textContent = '';
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#nav').hidden = false;
  say('');
  show('import');
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

function show(view) {
  say('');
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + view;
  for (const b of document.querySelectorAll('.tab')) {
    if (b.dataset.view === view) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  if (view === 'users') loadUsers();
  if (view === 'phones') loadPhones();
  if (view === 'history') loadHistory();
  if (view === 'sources') loadSources();
}

// ---- Import -------------------------------------------------------------

const MODES = {
  upsert: 'upsert: creates new users and updates existing ones (matched by username). Deletes nobody.',
  create: 'create: only adds new users; a username that exists already is an error. Deletes nobody.',
  sync: 'sync: like upsert, then DELETES the users this source created earlier that the file no longer lists (never users added by hand or by another source). Needs a source name.',
  replace: 'replace: the file becomes the whole user set. Every user the file does not list is DELETED.',
};

function importQuery(dryRun, yes) {
  const p = new URLSearchParams({ mode: $('#mode').value, file_name: current.file.name });
  if ($('#source').value.trim()) p.set('source', $('#source').value.trim());
  p.set('encoding', $('#encoding').value);
  if ($('#partial').checked) p.set('partial', 'true');
  if (dryRun) p.set('dry_run', 'true');
  if (yes) p.set('yes', 'true');
  if (current.map) p.set('map', current.map);
  for (const c of current.ignore) p.append('ignore_column', c);
  return p.toString();
}

// The column step's choices as a mapping file (docs/import.md): each
// chosen target = its column, plus the row filter.
function buildMap() {
  const chosen = {};
  for (const s of document.querySelectorAll('#mapping select')) {
    if (!s.value) continue;
    if (chosen[s.value] !== undefined) return { error: `"${chosen[s.value]}" and "${s.dataset.header}" are both imported as ${s.value}; keep one` };
    chosen[s.value] = s.dataset.header;
  }
  // Rows hidden as identity mappings still map to themselves.
  for (const [h, col] of Object.entries(current.identity || {})) if (chosen[col] === undefined) chosen[col] = h;
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
    say(m.error, 'bad');
    return;
  }
  current.map = m.text;
  $('#map-toml').textContent = m.text;
  $('#map-save').hidden = false;
  runPreview();
}

// Upload progress, then an indeterminate bar while the server checks.
function progress(fraction) {
  const bar = $('#progress');
  bar.hidden = false;
  if (fraction < 1) {
    bar.value = Math.round(fraction * 100);
    say('Uploading… ' + bar.value + ' %');
  } else {
    bar.removeAttribute('value');
    say('Checking the file…');
  }
}

// A newly chosen or dropped file: read once, then previewed from memory.
async function takeFile(file) {
  let bytes;
  try {
    bytes = await file.arrayBuffer();
  } catch (e) {
    say(`Cannot read ${file.name}: ${e.message}`, 'bad');
    return;
  }
  current = { file: { name: file.name, bytes }, map: null, ignore: new Set(), source: null };
  $('#filter').value = '';
  $('#map-save').hidden = true;
  $('#preview').hidden = true;
  await runPreview();
}

async function runPreview() {
  if (!current || !current.file) return;
  const r = await api('POST', '/api/v1/import/preview?' + importQuery(true, false),
    new Blob([current.file.bytes]), { progress });
  $('#progress').hidden = true;
  if (r.status !== 200 || !r.json || !r.json.report) {
    if (r.status !== 401) say('Preview failed: ' + problem(r, 'preview failed'), 'bad');
    $('#preview').hidden = true;
    return;
  }
  renderPreview(r.json);
}

// How many users applying the preview deletes, and who.
function deletions(p) {
  const d = p.deletions;
  if (d && typeof d === 'object') return d.count || 0;
  return d != null ? d : (p.report.summary || {}).deleted || 0;
}

function deletedNames(p) {
  if (p.deletions && Array.isArray(p.deletions.users)) return p.deletions.users;
  return changesOf(p).filter((c) => c.action === 'delete').map((c) => c.username);
}

// The preview's changes: the richer top-level list (extension, MACs,
// models of creates) when the server sends one.
const changesOf = (p) => p.changes || p.report.changes;

function renderPreview(p) {
  last = p;
  const rep = p.report;
  const s = rep.summary;
  const del = deletions(p);
  const ok = p.exit_code === 0;
  const verdict = $('#verdict');
  if (!ok) {
    verdict.textContent = 'The file has problems; nothing can be applied' + ($('#partial').checked ? ' except the valid rows.' : '. Fix them and upload it again.');
    verdict.className = 'bad';
  } else if (del > 0) {
    verdict.textContent = `The file is valid, and applying it DELETES ${plural(del, 'user')} (mode ${rep.mode}). Review the deletions in red below.`;
    verdict.className = 'warn';
  } else {
    verdict.textContent = 'The file is valid. Review the changes, then apply.';
    verdict.className = 'good';
  }
  say(current && current.source ? `Source ${current.source}: test run, nothing written.` : '');
  const f = rep.file || {};
  const dialect = $('#dialect');
  dialect.hidden = !(f.encoding && f.rows);
  dialect.textContent = dialect.hidden ? '' : `Read as ${f.encoding}${f.delimiter ? ', delimiter "' + f.delimiter + '"' : ''}, ${plural(f.rows, 'row')}.`;
  const parts = [['create', s.created], ['update', s.updated], ['delete', s.deleted], ['unchanged', s.unchanged],
    ['skipped', s.skipped], ['errors', s.errors], ['warnings', s.warnings]];
  $('#summary').textContent = parts.map(([k, n]) => `${k} ${n || 0}`).join(', ');

  problemsPage = 1;
  renderProblems(p);
  renderMapping(p);
  changesPage = 1;
  renderChanges();
  rowsPage = 1;
  renderRows();
  $('#preview').hidden = false;
  $('#dl-report').hidden = !(rep.errors.length || rep.warnings.length);
  const applicable = ok && (s.created + s.updated + s.deleted > 0);
  $('#apply').disabled = !applicable;
  $('#apply').textContent = del > 0 ? `Apply (deletes ${plural(del, 'user')})` : 'Apply';
  $('#apply').className = del > 0 ? 'danger' : '';
}

// An unknown column close to a known one blocks Apply until the admin
// maps it or says to ignore it.
function ignorable(e) {
  return e.row == null && e.column && /COLUMN/.test(e.code || '');
}

function where(e) {
  if (e.entry != null) return e.entry;
  if (e.line != null) return 'line ' + e.line;
  if (e.row != null) return 'row ' + e.row;
  return 'file';
}

function issueItem(e, cls) {
  const li = el('li', { class: cls });
  if (e.row != null) {
    li.append(el('button', { type: 'button', class: 'link', 'data-goto': e.row, onclick: () => gotoRow(e.row) }, where(e)));
  } else {
    li.append(where(e));
  }
  li.append(`${e.column ? ', ' + e.column : ''}: ${e.message}${e.code ? ' [' + e.code + ']' : ''}`);
  return li;
}

// Errors, then warnings, then skipped rows, a page at a time, each
// linking to its row.
let problemsPage = 1;
function renderProblems(p) {
  const rep = p.report;
  const items = [
    ...rep.errors.map((e) => [e, 'bad']),
    ...rep.warnings.map((w) => [w, 'ignored']),
    ...(rep.skipped_rows || []).map((k) => [{ row: k.row, line: k.line, entry: k.entry, message: 'skipped: ' + k.reason }, 'ignored']),
  ];
  const list = $('#problems');
  list.replaceChildren();
  const start = (problemsPage - 1) * PER_PAGE;
  for (const [e, cls] of items.slice(start, start + PER_PAGE)) {
    const li = issueItem(e, cls);
    if (cls === 'bad' && current && current.file && ignorable(e)) {
      li.append(' ', el('button', { type: 'button', 'data-ignore': e.column, onclick: () => {
        current.ignore.add(e.column);
        runPreview();
      } }, `ignore the column "${e.column}"`));
    }
    list.append(li);
  }
  if (current && current.ignore && current.ignore.size) {
    list.append(el('li', {}, 'Ignored on purpose: ' + [...current.ignore].join(', ') + ' ',
      el('button', { type: 'button', onclick: () => { current.ignore.clear(); runPreview(); } }, 'stop ignoring')));
  }
  pager($('#problems-pager'), items.length, problemsPage, PER_PAGE, 'problem', (n) => { problemsPage = n; renderProblems(p); });
  $('#problems-box').hidden = !list.children.length;
}

// The columns that map to something other than their own name (and the
// ignored ones); identity mappings only when asked.
function renderMapping(p) {
  const hints = {};
  for (const w of [...p.report.warnings, ...p.report.errors]) if (w.column && w.row == null) hints[w.column] = w.message;
  const body = $('#mapping tbody');
  body.replaceChildren();
  const t = p.table;
  const all = $('#show-all-cols').checked;
  let hidden = 0;
  if (current) current.identity = {};
  (t ? t.headers : []).forEach((h, i) => {
    const col = t.columns[i];
    if (col && col === h.trim().toLowerCase() && !all) {
      hidden += 1;
      if (current) current.identity[h] = col;
      return;
    }
    const pick = el('select', { 'data-header': h, 'aria-label': `Import "${h}" as` }, el('option', { value: '' }, 'ignored'),
      ...t.fields.map((f) => el('option', { value: f }, f)));
    pick.value = col || '';
    pick.onchange = remap;
    // A configured source maps in the config ([sources.NAME.map]), not here.
    if (current && current.source) pick.disabled = true;
    body.append(el('tr', {}, el('th', { scope: 'row' }, h),
      el('td', col ? {} : { class: 'ignored' }, pick, col ? '' : ' ' + (hints[h] || ''))));
  });
  $('#mapping').hidden = !body.children.length;
  $('#mapping-note').textContent = hidden
    ? `${plural(hidden, 'column')} already named as autoprov reads ${hidden === 1 ? 'it' : 'them'} (hidden).`
    : '';
}

// The row of the table a create came from, for what it will set up.
function rowOf(username) {
  const t = last && last.table;
  if (!t) return null;
  const i = t.columns.indexOf('username');
  const r = i >= 0 ? t.rows.find((x) => x.cells[i] === username) : null;
  if (!r) return null;
  const get = (c) => { const k = t.columns.indexOf(c); return k >= 0 ? r.cells[k] : ''; };
  return { extension: get('extension'), mac: get('mac'), model: get('phone_model'), site: get('site') };
}

// What a new user gets: extension, MAC, model, and a SIP password to be
// generated (never a value).
function createDetails(c) {
  const row = rowOf(c.username) || {};
  const list = (v) => (Array.isArray(v) ? v.filter((x) => x).join(', ') : v);
  const facts = [
    ['extension', list(c.extension) || row.extension],
    ['MAC', list(c.macs) || row.mac],
    ['model', list(c.models) || row.model],
    ['site', c.site || row.site],
  ].filter(([, v]) => v);
  const generated = c.sip_password === 'will be generated'
    || (last.report.generated || []).some((g) => g.username === c.username && g.field === 'sip_password');
  const out = facts.map(([k, v]) => `${k} ${v}`);
  if (generated) out.push('SIP password will be generated');
  return out.join(' · ');
}

let changesPage = 1;
function renderChanges() {
  const all = changesOf(last).filter((c) => c.action !== 'unchanged');
  // Deletions first: the one thing that cannot be undone.
  all.sort((a, b) => (b.action === 'delete') - (a.action === 'delete'));
  const body = $('#changes tbody');
  body.replaceChildren();
  const start = (changesPage - 1) * ROWS_PER_PAGE;
  for (const c of all.slice(start, start + ROWS_PER_PAGE)) {
    const details = el('td');
    if (c.action === 'create') details.append(createDetails(c));
    for (const [field, [oldV, newV]] of Object.entries(c.fields || {})) {
      const line = el('div', {}, field + ': ');
      if (oldV != null) line.append(el('del', {}, oldV), ' → ');
      line.append(newV != null ? el('ins', {}, newV) : el('em', {}, '(removed)'));
      details.append(line);
    }
    if (c.action === 'delete') details.append('will be deleted with its phones');
    body.append(el('tr', { class: 'action-' + c.action, 'data-user': c.username },
      el('td', {}, c.username), el('td', {}, c.action), details));
  }
  $('#changes').hidden = !all.length;
  pager($('#changes-more'), all.length, changesPage, ROWS_PER_PAGE, 'change', (n) => { changesPage = n; renderChanges(); });
}

// Prev/next and "a–b of N" for any list.
function pager(box, total, page, per, noun, go) {
  box.replaceChildren();
  if (total <= per) {
    box.textContent = total ? plural(total, noun) : '';
    return;
  }
  const pages = Math.ceil(total / per);
  const from = (page - 1) * per + 1;
  const to = Math.min(total, page * per);
  const b = (label, n, cls) => el('button', { type: 'button', class: cls, disabled: n < 1 || n > pages || n === page, onclick: () => go(n) }, label);
  box.append(b('« first', 1, 'first'), b('‹ previous', page - 1, 'prev'),
    el('span', { class: 'range' }, `${from.toLocaleString('en')}–${to.toLocaleString('en')} of ${plural(total, noun)}`),
    b('next ›', page + 1, 'next'), b('last »', pages, 'last'));
}

let rowsPage = 1;
let targetRow = null;
// The rows, a page at a time, each error on its cell.
function renderRows() {
  const t = last.table;
  const head = $('#rows thead');
  const body = $('#rows tbody');
  head.replaceChildren();
  body.replaceChildren();
  if (!t) {
    $('#rows-pager').replaceChildren();
    return;
  }
  const label = t.rows.some((r) => r.entry != null) ? 'entry' : 'line';
  head.append(el('tr', {}, el('th', { scope: 'col' }, label), ...t.headers.map((h) => el('th', { scope: 'col' }, h)), el('th', { scope: 'col' }, 'problems')));
  const byRow = {};
  for (const e of [...last.report.errors, ...last.report.warnings]) if (e.row != null) (byRow[e.row] = byRow[e.row] || []).push(e);
  const start = (rowsPage - 1) * ROWS_PER_PAGE;
  for (const r of t.rows.slice(start, start + ROWS_PER_PAGE)) {
    const errs = (byRow[r.row] || []);
    const bad = errs.some((e) => /^E_/.test(e.code || 'E_') && last.report.errors.includes(e));
    const tr = el('tr', { id: 'row-' + r.row, 'data-row': r.row, tabindex: '-1', class: (bad ? 'error' : '') + (r.row === targetRow ? ' target' : '') },
      el('th', { scope: 'row' }, r.entry != null ? r.entry : String(r.line ?? r.row)));
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
  const box = $('#rows-pager');
  pager(box, t.rows.length, rowsPage, ROWS_PER_PAGE, 'row', (n) => { rowsPage = n; renderRows(); });
  const total = t.total_rows != null ? t.total_rows : t.rows.length;
  if (total > t.rows.length) box.append(el('span', { class: 'hint' }, ` (the server sent ${t.rows.length.toLocaleString('en')} of the file's ${plural(total, 'row')}: the first ones and every row with an error)`));
}

// A problem's link: the page of the Rows table with that row, focused.
function gotoRow(row) {
  const i = last.table ? last.table.rows.findIndex((r) => r.row === row) : -1;
  if (i < 0) return;
  rowsPage = Math.floor(i / ROWS_PER_PAGE) + 1;
  targetRow = row;
  renderRows();
  const tr = document.getElementById('row-' + row);
  if (tr) {
    tr.scrollIntoView({ block: 'center' });
    tr.focus();
  }
}

async function apply(yes) {
  if (!last) return;
  const del = deletions(last);
  // A source's run deletes as its config says; still asked first here.
  if (!yes && del > 0) {
    confirmDelete(del, deletedNames(last), () => apply(true));
    return;
  }
  $('#apply').disabled = true;
  say('Applying…');
  const r = current.source
    ? await api('POST', '/api/v1/sources/' + encodeURIComponent(current.source) + '/run?dry_run=false&format=json')
    : await api('POST', '/api/v1/import?' + importQuery(false, yes), new Blob([current.file.bytes]), { progress });
  $('#progress').hidden = true;
  if (r.status === 409 && !yes && !current.source) {
    // Something would be deleted after all (the store changed since the preview).
    const j = r.json || {};
    const n = typeof j.deletions === 'number' ? j.deletions : deletions(last);
    confirmDelete(n, j.users || deletedNames(last), () => apply(true));
    $('#apply').disabled = false;
    return;
  }
  if (r.status === 200 && r.json && r.json.applied) {
    const s = r.json.summary;
    say(`Applied: created ${s.created}, updated ${s.updated}, deleted ${s.deleted}.`, 'good');
    $('#preview').hidden = true;
  } else if (r.status !== 401) {
    say('Not applied: ' + problem(r, 'the import failed'), 'bad');
    $('#apply').disabled = false;
  }
}

// The modal that names what a delete removes; `onYes` only after the
// admin says so. Cancelling writes nothing.
function confirmDelete(n, names, onYes, what) {
  const d = $('#confirm');
  $('#confirm-h').textContent = what ? what.title : `Delete ${plural(n, 'user')}?`;
  $('#confirm-text').textContent = what ? what.text
    : `Applying this import deletes ${plural(n, 'user')} and their phones' provisioning. This cannot be undone.`;
  const list = $('#confirm-list');
  list.replaceChildren(...names.slice(0, 50).map((u) => el('li', {}, u)));
  if (names.length > 50) list.append(el('li', {}, `… and ${names.length - 50} more`));
  $('#confirm-yes').textContent = what ? what.yes : `Delete ${plural(n, 'user')} and apply`;
  $('#confirm-yes').onclick = () => { d.close(); onYes(); };
  $('#confirm-no').onclick = () => { d.close(); say('Cancelled: nothing was written.'); };
  d.showModal();
  $('#confirm-no').focus();
}

// ---- Downloads ----------------------------------------------------------

function save(blob, name) {
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

async function download(method, path, name, body) {
  const r = await api(method, path, body, { blob: true });
  if (r.status === 200) save(r.blob, name);
  else if (r.status !== 401) say(`Cannot download ${name} (HTTP ${r.status})`, 'bad');
  return r.status;
}

function csvCell(v) {
  const s = v == null ? '' : String(v);
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// The error report: the server's (report=csv), or built here from the
// preview when the server has none.
async function downloadReport() {
  const name = (current && current.file ? current.file.name.replace(/\.[^.]*$/, '') : 'import') + '-errors.csv';
  if (current && current.file) {
    const r = await api('POST', '/api/v1/import/preview?report=csv&' + importQuery(true, false), new Blob([current.file.bytes]), { blob: true });
    if (r.status === 200 && r.blob && /csv/.test(r.blob.type)) return save(r.blob, name);
    if (r.status === 401) return;
  }
  const lines = ['row,line,column,code,message'];
  for (const e of [...last.report.errors, ...last.report.warnings]) {
    lines.push([e.row, e.line, e.column, e.code, e.message].map(csvCell).join(','));
  }
  save(new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv' }), name);
}

// ---- Users --------------------------------------------------------------

let usersPage = 1;
const firstLine = (u) => (u.lines && u.lines[0]) || {};

// One page of users: the server pages, searches and sorts; an older
// server's plain list is paged here the same way.
async function loadUsers() {
  const q = $('#users-q').value.trim();
  const sort = $('#users-sort').value;
  const p = new URLSearchParams({ format: 'json', page: usersPage, per_page: PER_PAGE, sort });
  if (q) p.set('q', q);
  const r = await api('GET', '/api/v1/users?' + p);
  if (r.status !== 200 || !r.json) {
    if (r.status !== 401) say('Cannot list the users: ' + problem(r, 'users'), 'bad');
    return;
  }
  let env = r.json;
  if (Array.isArray(env)) env = pageHere(env, q, sort, usersPage);
  const body = $('#users tbody');
  body.replaceChildren();
  for (const u of env.items) {
    const open = el('button', { type: 'button', class: 'link', 'aria-controls': 'user-detail', onclick: () => loadUser(u.username) }, u.username);
    body.append(el('tr', { 'data-username': u.username },
      el('td', {}, open), el('td', {}, u.display_name || ''),
      el('td', {}, firstLine(u).extension || ''), el('td', {}, u.site || ''),
      el('td', {}, (u.phones || []).map((x) => x.mac).join(', '))));
  }
  $('#users').hidden = !env.items.length;
  const matched = env.matched ?? env.total;
  $('#users-count').textContent = q
    ? `${plural(matched, 'user')} match "${q}" (of ${env.total.toLocaleString('en')}).`
    : `${plural(env.total, 'user')}.`;
  pager($('#users-pager'), matched, env.page || usersPage, env.per_page || PER_PAGE, 'user', (n) => { usersPage = n; loadUsers(); });
}

function pageHere(list, q, sort, page) {
  const needle = q.toLowerCase().replace(/[:-]/g, '');
  const hit = (u) => !needle || [u.username, u.display_name, ...(u.lines || []).map((l) => l.extension),
    ...(u.phones || []).map((x) => x.mac)].some((v) => v && String(v).toLowerCase().replace(/[:-]/g, '').includes(needle));
  const items = list.filter(hit);
  const key = sort.replace('-', '') === 'extension' ? (u) => firstLine(u).extension || '' : (u) => u.username;
  items.sort((a, b) => natural.compare(key(a), key(b)) * (sort.startsWith('-') ? -1 : 1));
  return { total: list.length, matched: items.length, page, per_page: PER_PAGE, items: items.slice((page - 1) * PER_PAGE, page * PER_PAGE) };
}

const EDITABLE = ['first_name', 'last_name', 'display_name', 'email', 'mobile', 'extension', 'site', 'language', 'timezone'];

// One user: the facts, an edit form, phones to add and remove, a new SIP
// password, and delete, each through the same checks as an import.
async function loadUser(name, note) {
  const box = $('#user-detail');
  const r = await api('GET', '/api/v1/users/' + encodeURIComponent(name) + '?format=json');
  if (r.status !== 200 || !r.json) {
    if (r.status === 401) return;
    box.hidden = false;
    box.replaceChildren(el('p', { class: 'bad' }, problem(r, 'cannot load the user')));
    return;
  }
  const u = r.json;
  const value = (f) => f === 'extension' ? firstLine(u).extension || '' : u[f] ?? '';
  const inputs = {};
  const form = el('div', { class: 'form' });
  for (const f of EDITABLE) {
    const id = 'edit-' + f;
    inputs[f] = el('input', { id, name: f, value: value(f) });
    form.append(el('label', { for: id }, f.replace('_', ' ')), inputs[f]);
  }
  const enabled = el('input', { id: 'edit-enabled', type: 'checkbox', checked: u.enabled !== false });
  form.append(el('label', { for: 'edit-enabled' }, 'enabled'), enabled);
  const msg = el('div', { id: 'user-msg', role: 'status', 'aria-live': 'polite', class: note ? 'good' : '' }, note || '');
  const saveBtn = el('button', { type: 'button', id: 'user-save', onclick: async () => {
    const fields = {};
    for (const f of EDITABLE) if (inputs[f].value !== String(value(f))) fields[f] = inputs[f].value;
    if (enabled.checked !== (u.enabled !== false)) fields.enabled = enabled.checked ? 'yes' : 'no';
    if (!Object.keys(fields).length) { msg.textContent = 'Nothing changed.'; return; }
    await userOp('PATCH', name, '', { fields }, msg, 'Saved.');
  } }, 'Save changes');

  const phones = el('ul', { id: 'user-phones' }, ...(u.phones || []).map((x) => el('li', {}, `${x.mac}${x.model ? ' (' + x.model + ')' : ''} `,
    el('button', { type: 'button', 'data-remove': x.mac, onclick: () => confirmDelete(0, [], () => userOp('DELETE', name, '/phones/' + encodeURIComponent(x.mac) + '?yes=true', null, msg, `Phone ${x.mac} removed.`),
      { title: `Remove phone ${x.mac}?`, text: `${x.mac} stops getting ${u.username}'s configuration.`, yes: 'Remove the phone' }) }, 'remove'))));
  const mac = el('input', { id: 'add-mac', placeholder: '805ec0123456' });
  const model = el('input', { id: 'add-model', placeholder: 'T54W' });
  const addPhone = el('div', { class: 'form' }, el('label', { for: 'add-mac' }, 'MAC'), mac, el('label', { for: 'add-model' }, 'model (optional)'), model,
    el('span'), el('button', { type: 'button', id: 'add-phone', onclick: () => {
      const body = { mac: mac.value.trim() };
      if (model.value.trim()) body.model = model.value.trim();
      userOp('POST', name, '/phones', body, msg, `Phone ${body.mac} added.`);
    } }, 'Add phone'));
  const rotate = el('button', { type: 'button', id: 'user-rotate', onclick: () => userOp('POST', name, '/rotate-sip-password', {}, msg,
    'A new SIP password was generated; the phone takes it on its next fetch.') }, 'Rotate SIP password');
  const del = el('button', { type: 'button', id: 'user-delete', class: 'danger', onclick: () => confirmDelete(1, [u.username], async () => {
    const ok = await userOp('DELETE', name, '?yes=true', null, msg, `User ${u.username} deleted.`, true);
    if (ok) { box.hidden = true; loadUsers(); say(`User ${u.username} deleted.`, 'good'); }
  }, { title: `Delete ${u.username}?`, text: `${u.username}${u.display_name ? ' (' + u.display_name + ')' : ''}${(u.phones || []).length ? ' and the provisioning of ' + plural(u.phones.length, 'phone') + ' are' : ' is'} deleted. This cannot be undone.`, yes: `Delete ${u.username}` }) }, 'Delete user');

  const facts = el('dl', {}, ...[['Username', u.username], ['Name', u.display_name], ['Extension', firstLine(u).extension],
    ['SIP user', firstLine(u).sip_username], ['Site', u.site], ['Source', u.source || 'added by hand'], ['Config version', u.config_version]]
    .flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v == null ? '' : String(v))]));
  const heading = el('h3', { id: 'user-h', tabindex: '-1' }, `User ${u.username}`);
  box.replaceChildren(el('div', { class: 'detail' }, heading, msg, facts,
    el('h4', {}, 'Edit'), form, el('p', {}, saveBtn),
    el('h4', {}, 'Phones'), phones, addPhone,
    el('h4', {}, 'Other'), el('p', {}, rotate, ' ', del)));
  box.hidden = false;
  heading.focus();
}

// One single-user call; the answer's errors (the import's, by column)
// shown beside the form. Resolves true when it was applied.
async function userOp(method, name, rest, body, msg, done, leaving) {
  msg.className = '';
  msg.textContent = 'Working…';
  const r = await api(method, '/api/v1/users/' + encodeURIComponent(name) + rest, body, { json: body != null });
  if (r.status === 401) return false;
  const j = r.json || {};
  const errs = j.errors || (j.report && j.report.errors) || [];
  if (r.status >= 200 && r.status < 300 && !errs.length && (j.exit_code ?? 0) === 0) {
    if (!leaving) {
      await loadUser(name, done);
      loadUsers();
    }
    return true;
  }
  msg.className = 'bad';
  msg.replaceChildren(el('span', {}, 'Not saved: '), ...(errs.length ? [el('ul', {}, ...errs.map((e) => el('li', {}, issueText(e))))] : [problem(r, 'failed')]));
  return false;
}

function newUser() {
  const box = $('#user-detail');
  const inputs = {};
  const form = el('div', { class: 'form' });
  for (const f of ['username', ...EDITABLE, 'mac', 'phone_model']) {
    inputs[f] = el('input', { id: 'new-' + f, name: f });
    form.append(el('label', { for: 'new-' + f }, f.replace('_', ' ')), inputs[f]);
  }
  const msg = el('div', { id: 'user-msg', role: 'status', 'aria-live': 'polite' });
  const create = el('button', { type: 'button', id: 'user-create', onclick: async () => {
    const fields = {};
    for (const [f, i] of Object.entries(inputs)) if (i.value.trim()) fields[f] = i.value.trim();
    const r = await api('POST', '/api/v1/users', { fields }, { json: true });
    const j = r.json || {};
    const errs = j.errors || (j.report && j.report.errors) || [];
    if (r.status >= 200 && r.status < 300 && !errs.length) {
      loadUsers();
      loadUser(fields.username, `User ${fields.username} created; a SIP password was generated.`);
    } else if (r.status !== 401) {
      msg.className = 'bad';
      msg.replaceChildren('Not created: ', ...(errs.length ? [el('ul', {}, ...errs.map((e) => el('li', {}, issueText(e))))] : [problem(r, 'failed')]));
    }
  } }, 'Create user');
  const heading = el('h3', { id: 'user-h', tabindex: '-1' }, 'New user');
  box.replaceChildren(el('div', { class: 'detail' }, heading, msg, form, el('p', {}, create)));
  box.hidden = false;
  heading.focus();
}

// ---- Phones -------------------------------------------------------------

let phonesPage = 1;
const STATES = {
  never_fetched: 'never fetched',
  bootstrap_only: 'bootstrap only (waiting for HTTPS)',
  provisioned: 'provisioned',
  refused: 'refused',
  outdated: 'outdated',
};
const FILTER_STATE = { never: 'never_fetched', bootstrap: 'bootstrap_only', provisioned: 'provisioned', refused: 'refused', outdated: 'outdated' };

// A phone row from either the paged API or an older plain list.
function phoneRow(p) {
  let state = p.state;
  let reason = p.state_reason;
  if (!state) {
    const prov = p.provisioning;
    state = prov === 'never_fetched' || prov === 'bootstrap_only' || prov === 'refused' || prov === 'provisioned' ? prov
      : prov === 'common_only' ? 'bootstrap_only' : 'never_fetched';
    if (state === 'provisioned' && p.firmware_target && p.firmware_current === 'no') state = 'outdated';
    reason = p.refusal_reason || (state === 'outdated' ? 'firmware is not ' + p.firmware_target : null);
  }
  const f = p.last_fetch;
  const time = f && typeof f === 'object' ? f.time : f;
  const status = p.last_status ?? (f && typeof f === 'object' ? f.status : null);
  const file = f && typeof f === 'object' ? f.file : p.last_file;
  const via = p.last_channel ?? (f && typeof f === 'object' ? f.channel : null);
  return { ...p, state, reason, time, status, file, via };
}

function stateBadge(row) {
  return el('span', { class: 'state state-' + row.state }, STATES[row.state] || row.state,
    row.reason ? ': ' + row.reason : '');
}

async function loadPhones() {
  const q = $('#phones-q').value.trim();
  const st = $('#phones-state').value;
  const p = new URLSearchParams({ format: 'json', page: phonesPage, per_page: PER_PAGE });
  if (q) p.set('q', q);
  if (st) p.set('state', st);
  const r = await api('GET', '/api/v1/phones?' + p);
  if (r.status !== 200 || !r.json) {
    if (r.status !== 401) say('Cannot list the phones: ' + problem(r, 'phones'), 'bad');
    return;
  }
  let env = r.json;
  if (Array.isArray(env)) {
    const rows = env.map(phoneRow);
    const needle = q.toLowerCase().replace(/[:-]/g, '');
    const states = {};
    for (const x of rows) states[x.state] = (states[x.state] || 0) + 1;
    const items = rows.filter((x) => (!st || x.state === FILTER_STATE[st])
      && (!needle || [x.mac, x.username, x.extension].some((v) => v && String(v).toLowerCase().includes(needle))));
    items.sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
    env = { total: rows.length, matched: items.length, states, page: phonesPage, per_page: PER_PAGE,
      items: items.slice((phonesPage - 1) * PER_PAGE, phonesPage * PER_PAGE) };
  }
  const body = $('#phones tbody');
  body.replaceChildren();
  for (const raw of env.items) {
    const x = phoneRow(raw);
    const open = el('button', { type: 'button', class: 'link', 'aria-controls': 'phone-detail', onclick: () => loadPhone(x.mac) }, x.mac);
    const fetched = x.time ? `${when(x.time)}${x.file ? ': ' + x.file : ''}${x.status != null ? ' (' + x.status + ')' : ''}${x.via ? ' via ' + x.via : ''}` : 'never';
    body.append(el('tr', { class: 'phone-' + x.state, 'data-mac': x.mac, 'data-state': x.state },
      el('td', {}, open), el('td', {}, x.model || ''), el('td', {}, x.username || ''), el('td', {}, x.extension || ''),
      el('td', {}, stateBadge(x)), el('td', {}, x.firmware || ''), el('td', {}, fetched)));
  }
  $('#phones').hidden = !env.items.length;
  const counts = env.states || {};
  const parts = Object.entries(counts).filter(([, n]) => n).map(([k, n]) => `${STATES[k] || STATES[FILTER_STATE[k]] || k} ${n}`);
  $('#phones-count').textContent = `${plural(env.total, 'phone')}${parts.length ? ': ' + parts.join(', ') : ''}.`
    + (q || st ? ` ${plural(env.matched ?? env.total, 'match', 'matches')}.` : '');
  pager($('#phones-pager'), env.matched ?? env.total, env.page || phonesPage, env.per_page || PER_PAGE, 'phone', (n) => { phonesPage = n; loadPhones(); });
}

// One phone's story: its facts, lines (passwords masked), its masked
// config as it would be served, and its fetches.
async function loadPhone(mac) {
  const box = $('#phone-detail');
  const [r, pv] = await Promise.all([
    api('GET', `/api/v1/phones/${encodeURIComponent(mac)}?format=json`),
    api('GET', `/api/v1/phones/${encodeURIComponent(mac)}/preview`),
  ]);
  if (r.status === 401 || pv.status === 401) return;
  box.hidden = false;
  const p = r.json;
  if (r.status !== 200 || !p) {
    box.replaceChildren(el('p', { class: 'bad' }, problem(r, 'cannot load the phone')));
    return;
  }
  const row = phoneRow(p);
  const facts = [
    ['User', `${p.username} (${p.display_name})`], ['Site', p.site],
    ['Vendor and model', `${p.vendor} ${p.model || ''}`], ['Firmware', p.firmware || 'not reported'],
    ['Target firmware', p.firmware_target ? `${p.firmware_target} (runs it: ${p.firmware_current})` : 'none set'],
    ['Last fetch', row.time ? when(row.time) + (row.via ? ' via ' + row.via : '') : 'never'],
  ];
  const dl = el('dl', {}, el('dt', {}, 'State'), el('dd', {}, stateBadge(row)),
    ...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  const lines = el('table', {}, el('caption', {}, 'Lines'),
    el('thead', {}, el('tr', {}, ...['Extension', 'SIP user', 'Transport'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...(p.lines || []).map((l) => el('tr', {},
      el('td', {}, l.extension), el('td', {}, l.sip_username), el('td', {}, l.transport || '')))));
  const fetches = el('table', { id: 'fetches' }, el('caption', {}, 'Fetch history, newest first'),
    el('thead', {}, el('tr', {}, ...['Time', 'Via', 'File', 'Status', 'Kind', 'Firmware', 'Reason']
      .map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...(p.fetches || []).slice().reverse().map((f) => el('tr', { class: f.kind },
      el('td', {}, when(f.time)), el('td', {}, f.channel), el('td', {}, f.file),
      el('td', {}, String(f.status)), el('td', {}, f.kind), el('td', {}, f.firmware || ''), el('td', {}, f.reason || '')))));
  const config = el('div', { id: 'phone-config' }, el('h4', {}, 'Config as served (secrets masked)'));
  if (pv.status === 200 && pv.json && pv.json.files) {
    for (const file of pv.json.files) config.append(el('p', {}, el('code', {}, file.name)), el('pre', { tabindex: '0', 'aria-label': file.name }, file.content));
  } else {
    config.append(el('p', { class: 'hint' }, 'No config preview: ' + problem(pv, 'not available')));
  }
  const heading = el('h3', { id: 'phone-h', tabindex: '-1' }, `Phone ${p.mac}`);
  const wrap = (t, label) => el('div', { class: 'scroll-x', tabindex: '0', role: 'region', 'aria-label': label }, t);
  box.replaceChildren(el('div', { class: 'detail' }, heading, dl, wrap(lines, 'Lines'),
    wrap(fetches, 'Fetch history'), config));
  heading.focus();
}

// ---- History and sources -----------------------------------------------

async function loadHistory() {
  const r = await api('GET', '/api/v1/history?format=json');
  if (r.status !== 200 || !Array.isArray(r.json)) {
    if (r.status !== 401) say('Cannot load the history: ' + problem(r, 'history'), 'bad');
    return;
  }
  const body = $('#history tbody');
  body.replaceChildren(...r.json.slice().reverse().map((h) => el('tr', {},
    el('td', {}, when(h.time)), el('td', {}, h.mode), el('td', {}, h.file),
    el('td', {}, String(h.created ?? '')), el('td', {}, String(h.updated ?? '')), el('td', {}, String(h.deleted ?? '')),
    el('td', {}, String(h.unchanged ?? '')), el('td', {}, h.outcome || 'applied'))));
  if (!r.json.length) body.append(el('tr', {}, el('td', { colspan: 8 }, 'No imports yet.')));
}

// A run's counts as a sentence: "created 2, updated 1, unchanged 9".
function countsText(c, would) {
  const parts = [['created', 'create'], ['updated', 'update'], ['deleted', 'delete'], ['unchanged', 'unchanged'],
    ['skipped', 'skip'], ['errors', 'errors']]
    .filter(([k]) => c[k]).map(([k, w]) => `${would ? w : k} ${c[k].toLocaleString('en')}`);
  return parts.length ? parts.join(', ') : 'nothing in the file';
}

// What a run (or test) did: its counts, or why it wrote nothing.
function runResult(run, would) {
  if (!run) return el('span', {}, '');
  if (run.error) return el('span', { class: 'bad' }, run.error);
  if (run.result === 'skipped') return el('span', {}, run.outcome);
  if (!run.counts) return el('span', {}, run.outcome || run.result || '');
  return el('span', { class: 'good' }, (would ? 'would ' : run.result === 'applied' ? 'applied: ' : '') + countsText(run.counts, would));
}

async function loadSources() {
  const r = await api('GET', '/api/v1/sources');
  if (r.status !== 200 || !Array.isArray(r.json)) {
    if (r.status !== 401) say('Cannot list the sources: ' + problem(r, 'sources'), 'bad');
    return;
  }
  const body = $('#sources tbody');
  body.replaceChildren();
  for (const src of r.json) {
    const run = src.last_run && typeof src.last_run === 'object' ? src.last_run : null;
    const test = src.last_test;
    const button = el('button', { type: 'button', 'data-source': src.name, onclick: () => previewSource(src.name) }, 'Test now');
    const tested = test ? el('p', { class: 'tested' }, `Tested ${when(test.time)}: `, runResult(test, true)) : '';
    const next = src.next_run ? when(src.next_run) : run ? '' : 'due now';
    body.append(el('tr', { 'data-source': src.name },
      el('th', { scope: 'row' }, src.name), el('td', {}, `${src.kind || 'csv'}`), el('td', {}, src.mode || ''),
      el('td', { class: 'last' }, run ? when(run.time) : 'not run yet'),
      el('td', { class: 'next' }, next, src.every ? el('br') : '', src.every ? `(every ${src.every})` : ''),
      el('td', { class: 'result' }, runResult(run, false)), el('td', { class: 'test' }, button, tested)));
  }
  $('#sources-empty').hidden = r.json.length > 0;
  $('#sources-wrap').hidden = !r.json.length;
}

// "Test now": the source's dry run, shown in the Import view like an
// upload's preview (Apply there runs the source); a source that cannot be
// fetched stays here with the reason, as its last test.
async function previewSource(name) {
  say('Testing source ' + name + '…');
  const r = await api('POST', '/api/v1/sources/' + encodeURIComponent(name) + '/preview');
  if (r.status === 401) return;
  if (r.status !== 200 || !r.json || !r.json.report) {
    await loadSources();
    // The server's sentence names the source already.
    say(problem(r, `test of source ${name} failed`), 'bad');
    return;
  }
  current = { source: name, map: null, ignore: new Set() };
  show('import');
  renderPreview(r.json);
  say(`Source ${name} tested: nothing was written. Apply runs it now.`);
}

// ---- Wiring -------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  $('#login-btn').onclick = login;
  // (A handler returning false would cancel every other key's typing.)
  $('#token').addEventListener('keydown', (e) => { if (e.key === 'Enter') login(); });
  $('#logout').onclick = logout;
  for (const b of document.querySelectorAll('.tab')) b.onclick = () => show(b.dataset.view);
  const input = $('#file');
  input.onchange = () => {
    const f = input.files[0];
    // Cleared at once, so choosing the same (fixed) file again is a change.
    input.value = '';
    if (f) takeFile(f);
  };
  const drop = $('#drop');
  $('#choose').onclick = () => input.click();
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add('over'); };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer.files[0]) takeFile(e.dataTransfer.files[0]);
  };
  const modeHelp = () => {
    const m = $('#mode').value;
    $('#mode-help').textContent = MODES[m];
    $('#mode-help').className = m === 'replace' || m === 'sync' ? 'hint warn' : 'hint';
  };
  modeHelp();
  $('#mode').addEventListener('change', modeHelp);
  for (const id of ['#mode', '#partial', '#source', '#encoding']) {
    $(id).addEventListener('change', () => current && current.file && runPreview());
  }
  $('#filter').onchange = () => current && remap();
  $('#show-all-cols').onchange = () => last && renderMapping(last);
  $('#apply').onclick = () => apply(false);
  $('#dl-template').onclick = () => download('GET', '/api/v1/template.csv', 'autoprov-template.csv');
  $('#dl-export').onclick = () => download('GET', '/api/v1/export', 'autoprov-users.csv');
  $('#dl-report').onclick = downloadReport;
  let timer = null;
  const later = (f) => { clearTimeout(timer); timer = setTimeout(f, 250); };
  $('#users-q').addEventListener('input', () => later(() => { usersPage = 1; loadUsers(); }));
  $('#users-sort').onchange = () => { usersPage = 1; loadUsers(); };
  $('#user-new').onclick = newUser;
  $('#phones-q').addEventListener('input', () => later(() => { phonesPage = 1; loadPhones(); }));
  $('#phones-state').onchange = () => { phonesPage = 1; loadPhones(); };
  if (sessionStorage.getItem(TOKEN_KEY)) {
    $('#token').value = sessionStorage.getItem(TOKEN_KEY);
    login();
  }
});
