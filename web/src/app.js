// app.js - the dashboard's entry: a view per hash (#/scenarios,
// #/pipeline, #/editor, #/lake), each refreshed every 5 s while it is shown.
// The pipeline view samples in the background too, so its rates are ready
// the moment it is opened.
import { api, setStatus, clockNow } from './util.js';
import { createScenariosView } from './scenarios.js';
import { createPipelineView } from './pipeline.js';
import { createEditorView } from './editor.js';
import { createLakeView } from './lake.js';

const PERIOD_MS = 5000;

const views = {
  scenarios: createScenariosView(document.getElementById('view-scenarios')),
  pipeline: createPipelineView(document.getElementById('view-pipeline')),
  editor: createEditorView(document.getElementById('view-editor')),
  lake: createLakeView(document.getElementById('view-lake')),
};

let current = null;
let busy = false;
let again = false; // a view change arrived during a refresh: refresh once more

function viewFromHash() {
  const name = (location.hash || '').replace(/^#\/?/, '');
  return views[name] ? name : 'scenarios';
}

async function tick() {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  again = false;
  try {
    const jobs = [views[current].refresh()];
    if (current !== 'pipeline') jobs.push(views.pipeline.refresh());
    const results = await Promise.all(jobs);
    if (results[0]) setStatus(true, `live · ${clockNow()} UTC`);
    else setStatus(false, `refresh failed · ${clockNow()} UTC`);
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks || 0) + 1);
  } catch (e) {
    setStatus(false, `error: ${e.message}`);
  } finally {
    busy = false;
  }
  if (again) tick();
}

function show() {
  const name = viewFromHash();
  for (const [n] of Object.entries(views)) document.getElementById(`view-${n}`).hidden = n !== name;
  for (const a of document.querySelectorAll('.tabs a')) a.classList.toggle('active', a.dataset.view === name);
  document.title = `sluice · ${name}`;
  const changed = current !== name;
  current = name;
  views[name].show();
  document.body.dataset.view = name;
  if (changed) tick();
}

// "Log out" only means something when admin.token is set.
api('/api/session').then((r) => {
  if (r.ok && r.json && r.json.auth) document.querySelector('form.logout').hidden = false;
});

window.addEventListener('hashchange', show);
show();
setInterval(tick, PERIOD_MS);
