// editor.js - the Scenario editor: list, create, edit and delete scenarios
// through /api/scenarios, and import members through /api/members.
//
// The form sends what the user typed and lets the API judge it: a 400
// answers {"error": "filters[1].left: must name a field; title: ...",
// "field": "filters[1].left"}, and each problem is shown beside the input
// it names (or above the form when it names none).
import { h, api, apiError, showError, fillRows } from './util.js';

const OPERATORS = ['==', '!=', '>', '>=', '<', '<=', 'contains', 'in', 'not in', 'startswith', 'endswith'];
const METADATA = ['version', 'created_at', 'updated_at', 'expression'];
const PARTS = /^(scenario_id|title|manager|logical_operator|log_format(?:\.[^:]+)?|filters(?:\[\d+\](?:\.(?:left|operator|right))?)?)(?:\[\d+\])?:\s*/;

// "filters[1].left: must name a field; title: must be a string" -> [[path, message], ...]
export function splitProblems(error) {
  const out = [];
  for (const piece of String(error || '').split(/;\s+(?=[a-z_]+(?:[[.:]))/)) {
    const m = PARTS.exec(piece);
    out.push(m ? [m[1], piece.slice(m[0].length)] : ['', piece]);
  }
  return out;
}

function rightText(v) {
  if (Array.isArray(v)) return v.map((x) => String(x)).join(', ');
  if (v === null || v === undefined) return '';
  return String(v);
}

export function createEditorView(root) {
  const form = root.querySelector('#ed-form');
  const filters = root.querySelector('#ed-filters');
  const fields = root.querySelector('#ed-fields');
  const listBody = root.querySelector('#ed-list tbody');
  const listError = root.querySelector('#ed-list-error');
  const listEmpty = root.querySelector('#ed-list-empty');
  const formTitle = root.querySelector('#ed-form-title');
  const saveButton = root.querySelector('#ed-save');
  const saved = root.querySelector('#ed-saved');
  let editing = null; // the scenario document being edited, or null for a new one
  let scenarios = [];

  // ---- rows of the form ----

  function filterRow(f = { left: '', operator: '==', right: '' }) {
    const i = () => [...filters.children].indexOf(row);
    const left = h('input', { type: 'text', name: 'left', placeholder: 'field (age, gender, h)', value: f.left ?? '', 'aria-label': 'left' });
    const op = h('select', { name: 'operator', 'aria-label': 'operator' }, OPERATORS.map((o) => h('option', { value: o }, o)));
    if (f.operator && !OPERATORS.includes(f.operator)) op.append(h('option', { value: f.operator }, f.operator));
    op.value = f.operator || '==';
    const text = rightText(f.right);
    const right = h('input', { type: 'text', name: 'right', placeholder: 'value (20, MALE, a, b for in)', value: text, 'aria-label': 'right' });
    // Keep the stored type (20 vs "20", lists) unless the user changes the text.
    right.dataset.original = JSON.stringify(f.right ?? '');
    right.dataset.originalText = text;
    const remove = h('button', { type: 'button', class: 'secondary small', title: 'remove this filter', onclick: () => row.remove() }, '✕');
    const err = h('span', { class: 'field-error' });
    const row = h('div', { class: 'row filter' }, left, op, right, remove, err);
    row.errorFor = (path) => {
      const n = i();
      if (path === `filters[${n}]`) return [err, null];
      if (path === `filters[${n}].left`) return [err, left];
      if (path === `filters[${n}].operator`) return [err, op];
      if (path === `filters[${n}].right`) return [err, right];
      return null;
    };
    row.value = () => {
      const r = right.value === right.dataset.originalText ? JSON.parse(right.dataset.original) : right.value;
      return { left: left.value, operator: op.value, right: r };
    };
    return row;
  }

  function fieldRow(name = '', keep = 1) {
    const input = h('input', { type: 'text', name: 'field', placeholder: 'field (memberId, h, url)', value: name, 'aria-label': 'field' });
    const sel = h('select', { name: 'keep', 'aria-label': 'keep' }, h('option', { value: '1' }, '1 · keep'), h('option', { value: '0' }, '0 · drop'));
    sel.value = String(Number(keep) ? 1 : 0);
    const remove = h('button', { type: 'button', class: 'secondary small', title: 'remove this field', onclick: () => row.remove() }, '✕');
    const err = h('span', { class: 'field-error' });
    const row = h('div', { class: 'row field' }, input, sel, remove, err);
    row.errorFor = (path) => (path === `log_format.${input.value}` ? [err, input] : null);
    row.value = () => [input.value, Number(sel.value)];
    return row;
  }

  function clearErrors() {
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
    for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
    showError(form.querySelector('.error-box[data-error-for=""]'), '');
    saved.textContent = '';
  }

  function showProblem(path, message) {
    for (const row of [...filters.children, ...fields.children]) {
      const hit = row.errorFor(path);
      if (hit) {
        hit[0].textContent = hit[0].textContent ? `${hit[0].textContent}; ${message}` : message;
        if (hit[1]) hit[1].classList.add('invalid');
        return;
      }
    }
    // A top-level part, or a list as a whole ("filters[3]" with no such row -> "filters").
    const top = path.replace(/[[.].*$/, '');
    const slot = path && form.querySelector(`.field-error[data-error-for="${top}"]`);
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
      const input = form.elements[top];
      if (input && input.classList) input.classList.add('invalid');
      return;
    }
    const box = form.querySelector('.error-box[data-error-for=""]');
    showError(box, box.hidden ? message : `${box.textContent}\n${message}`);
  }

  function fill(doc) {
    editing = doc;
    clearErrors();
    form.elements.scenario_id.value = doc ? doc.scenario_id : '';
    form.elements.scenario_id.readOnly = !!doc;
    form.elements.title.value = doc ? doc.title ?? '' : '';
    form.elements.manager.value = doc ? doc.manager ?? '' : '';
    form.elements.logical_operator.value = doc && String(doc.logical_operator).toUpperCase() === 'OR' ? 'OR' : 'AND';
    filters.replaceChildren(...(doc ? (doc.filters || []).map((f) => filterRow(f)) : [filterRow()]));
    fields.replaceChildren(...(doc ? Object.entries(doc.log_format || {}).map(([k, v]) => fieldRow(k, v)) : []));
    formTitle.textContent = doc ? `Edit scenario ${doc.scenario_id}` : 'New scenario';
    saveButton.textContent = doc ? 'Save' : 'Create';
    for (const tr of listBody.children) tr.classList.toggle('selected', !!doc && tr.dataset.sid === String(doc.scenario_id));
  }

  function collect() {
    const doc = editing ? { ...editing } : {};
    for (const k of METADATA) delete doc[k];
    const id = form.elements.scenario_id.value.trim();
    if (id === '') delete doc.scenario_id;
    else doc.scenario_id = /^\d+$/.test(id) ? Number(id) : id;
    doc.title = form.elements.title.value;
    doc.manager = form.elements.manager.value;
    doc.log_format = {};
    for (const row of fields.children) {
      const [k, v] = row.value();
      if (k.trim() !== '') doc.log_format[k.trim()] = v;
    }
    doc.filters = [...filters.children].map((row) => row.value());
    doc.logical_operator = form.elements.logical_operator.value;
    return doc;
  }

  async function save(ev) {
    ev.preventDefault();
    clearErrors();
    const doc = collect();
    const path = editing ? `/api/scenarios/${encodeURIComponent(editing.scenario_id)}` : '/api/scenarios';
    const r = await api(path, {
      method: editing ? 'PUT' : 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(doc),
    });
    if (!r.ok) {
      if (r.status === 400 && r.json && r.json.error) {
        for (const [p, msg] of splitProblems(r.json.error)) showProblem(p, msg);
      } else if (r.status === 409) {
        showProblem('scenario_id', r.json ? r.json.error : 'this id exists');
      } else showProblem('', apiError(r));
      root.dataset.saveStatus = String(r.status);
      return;
    }
    root.dataset.saveStatus = String(r.status);
    await loadList();
    fill(r.json);
    saved.textContent = r.status === 201 ? `Scenario ${r.json.scenario_id} created.` : `Scenario ${r.json.scenario_id} saved (version ${r.json.version}).`;
  }

  async function remove(s, button) {
    if (button.dataset.armed !== '1') {
      // Two clicks instead of a dialog: the second one within 4 s deletes.
      button.dataset.armed = '1';
      button.textContent = 'Confirm';
      setTimeout(() => {
        button.dataset.armed = '';
        button.textContent = 'Delete';
      }, 4000);
      return;
    }
    const r = await api(`/api/scenarios/${encodeURIComponent(s.scenario_id)}`, { method: 'DELETE' });
    if (!r.ok) showError(listError, apiError(r));
    if (editing && String(editing.scenario_id) === String(s.scenario_id)) fill(null);
    await loadList();
  }

  async function loadList() {
    const r = await api('/api/scenarios');
    if (!r.ok || !r.json) {
      showError(listError, r.status === 404 ? 'This sluice has no catalogue API.' : apiError(r));
      return false;
    }
    showError(listError, '');
    scenarios = r.json.scenarios || [];
    fillRows(
      listBody,
      scenarios.map((s) => {
        const del = h('button', { type: 'button', class: 'danger small', onclick: (e) => remove(s, e.currentTarget) }, 'Delete');
        const tr = h('tr', { dataset: { sid: String(s.scenario_id) } },
          h('td', { class: 'num' }, s.scenario_id),
          h('td', { class: 'wrap' }, s.title || ''),
          h('td', {}, s.manager || ''),
          h('td', { class: 'wrap' }, h('code', {}, s.expression || (s.filters || []).map((f) => `${f.left} ${f.operator} ${rightText(f.right)}`).join(` ${s.logical_operator || 'AND'} `))),
          h('td', {}, h('div', { class: 'actions' },
            h('button', { type: 'button', class: 'secondary small', onclick: () => fill(s) }, 'Edit'), del)));
        if (editing && String(editing.scenario_id) === String(s.scenario_id)) tr.classList.add('selected');
        return tr;
      }),
    );
    listEmpty.hidden = scenarios.length > 0;
    root.dataset.scenarios = String(scenarios.length);
    return true;
  }

  // ---- members ----

  const mbForm = root.querySelector('#mb-form');
  const mbResult = root.querySelector('#mb-result');
  async function memberCount() {
    const r = await api('/api/members?limit=1');
    root.querySelector('#mb-count').textContent = r.ok && r.json ? `${r.json.total} members in the catalogue.` : '';
  }
  mbForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const file = root.querySelector('#mb-file').files[0];
    const body = file ? await file.text() : root.querySelector('#mb-text').value;
    mbResult.className = '';
    if (!body.trim()) {
      mbResult.textContent = 'Choose a CSV file or paste CSV first.';
      mbResult.className = 'field-error';
      return;
    }
    const json = /^\s*[[{]/.test(body);
    const r = await api('/api/members', { method: 'POST', headers: { 'Content-Type': json ? 'application/json' : 'text/csv' }, body });
    if (r.ok && r.json) {
      mbResult.textContent = `Imported ${r.json.imported} members.`;
      mbResult.className = 'ok';
      mbForm.reset();
    } else {
      mbResult.textContent = apiError(r) + (r.json && r.json.line ? ` (line ${r.json.line})` : '');
      mbResult.className = 'field-error';
    }
    memberCount();
  });

  form.addEventListener('submit', save);
  root.querySelector('#ed-add-filter').addEventListener('click', () => filters.append(filterRow()));
  root.querySelector('#ed-add-field').addEventListener('click', () => fields.append(fieldRow()));
  root.querySelector('#ed-new').addEventListener('click', () => fill(null));
  root.querySelector('#ed-cancel').addEventListener('click', () => fill(null));
  fill(null);

  return {
    async refresh() {
      // The list changes only through writes; refresh it on every visit
      // and every 5 s (another user, `sluice scenario add`).
      const ok = await loadList();
      return ok;
    },
    show() {
      memberCount();
    },
  };
}
