// dashboard-auth.test.mjs - the dashboard is served from the binary, and
// admin.token guards it: the API answers 401 without the token, pages send
// the browser to /login, a login sets an HttpOnly SameSite=Strict session
// cookie that does not hold the token, the cookie opens the API and the
// pages, a cross-site write with it is refused, a new token (SIGHUP) ends
// every session, and /metrics is open unless admin.metrics_open is false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { tmpdir, writeConfig, startSluice, stopSluice, until, metrics, sample } from './lib.mjs';

const get = (url, headers = {}, extra = {}) => fetch(url, { redirect: 'manual', headers, ...extra });

test('the dashboard and its files are served from the binary', async () => {
  const dir = tmpdir();
  const s = await startSluice(writeConfig(dir));
  try {
    let r = await get(s.admin + '/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
    const html = await r.text();
    assert.match(html, /<script src="\/assets\/echarts\.min\.js">/);
    assert.match(html, /id="view-scenarios"/);
    // Every file the page names is there, and nothing comes from elsewhere.
    const refs = [...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]);
    assert.ok(refs.length >= 4, refs.join(' '));
    for (const ref of refs) {
      assert.ok(ref.startsWith('/'), `${ref} is on the same origin`);
      const f = await get(s.admin + ref);
      assert.equal(f.status, 200, ref);
    }
    for (const js of ['/app.js', '/util.js', '/prom.js', '/scenarios.js', '/pipeline.js', '/editor.js', '/lake.js']) {
      r = await get(s.admin + js);
      assert.equal(r.status, 200, js);
      assert.match(r.headers.get('content-type'), /^text\/javascript/, js);
    }
    // ECharts from npm, vendored at build time, with its licence.
    r = await get(s.admin + '/assets/echarts.min.js');
    const echarts = await r.text();
    assert.ok(echarts.length > 500000, 'the minified ECharts bundle');
    assert.match(echarts, /echarts/);
    assert.equal((await get(s.admin + '/assets/echarts-LICENSE.txt')).status, 200);
    // Revalidation: same ETag -> 304, no body.
    const etag = r.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    r = await get(s.admin + '/assets/echarts.min.js', { 'If-None-Match': etag });
    assert.equal(r.status, 304);
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    // Unknown paths: JSON 404 under /api, 404 elsewhere; writes to files refused.
    r = await get(s.admin + '/api/nope');
    assert.equal(r.status, 404);
    assert.match((await r.json()).error, /no such endpoint/);
    assert.equal((await get(s.admin + '/nope.js')).status, 404);
    assert.equal((await get(s.admin + '/', {}, { method: 'POST', body: 'x' })).status, 405);
    // The built-ins still answer (a route on "/" must not shadow them).
    assert.equal((await get(s.admin + '/health')).status, 200);
    assert.match(await metrics(s), /# TYPE sluice_admin_login_failures_total counter/);
    // Without a token there is nothing to log in to.
    r = await get(s.admin + '/login');
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/');
    // /api/lake answers before anything is written.
    r = await get(s.admin + '/api/lake');
    const lake = await r.json();
    assert.ok(Array.isArray(lake.lakes));
    for (const l of lake.lakes) assert.deepEqual([l.error, l.topics], [null, []]);
    assert.deepEqual(await (await get(s.admin + '/api/session')).json(), { auth: false });
  } finally {
    assert.equal((await stopSluice(s)).code, 0, s.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('admin.token: bearer or login cookie, 401 for the API, /login for pages', async () => {
  const dir = tmpdir();
  const token = 'tok-' + Math.random().toString(36).slice(2);
  const cfg = writeConfig(dir, `  token: "${token}"\n`);
  const s = await startSluice(cfg);
  try {
    const bearer = { Authorization: `Bearer ${token}` };
    // The API without (or with a wrong) token: 401 with a Bearer challenge.
    for (const [path, method] of [['/api/topics', 'GET'], ['/api/scenarios', 'GET'], ['/api/scenarios', 'POST'],
      ['/api/stats/scenarios', 'GET'], ['/api/members', 'POST'], ['/api/lake', 'GET']]) {
      const r = await get(s.admin + path, {}, { method, body: method === 'POST' ? '{}' : undefined });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.match(r.headers.get('www-authenticate'), /^Bearer/);
      const w = await get(s.admin + path, { Authorization: 'Bearer nope' }, { method, body: method === 'POST' ? '{}' : undefined });
      assert.equal(w.status, 401, `${method} ${path} with a wrong token`);
    }
    assert.equal((await get(s.admin + '/api/topics', bearer)).status, 200);
    assert.equal((await get(s.admin + '/api/lake', bearer)).status, 200);
    // Pages without it: to the login form. The form and its stylesheet are open.
    for (const path of ['/', '/app.js', '/assets/echarts.min.js']) {
      const r = await get(s.admin + path);
      assert.equal(r.status, 303, path);
      assert.equal(r.headers.get('location'), '/login');
    }
    let r = await get(s.admin + '/login');
    assert.equal(r.status, 200);
    const form = await r.text();
    assert.match(form, /<form method="post" action="\/login"/);
    assert.match(form, /name="token"/);
    assert.equal((await get(s.admin + '/app.css')).status, 200);
    assert.equal((await get(s.admin + '/favicon.svg')).status, 200);
    assert.equal((await get(s.admin + '/health')).status, 200);

    // A wrong token: the form again, with the reason, no cookie, counted.
    r = await get(s.admin + '/login', { 'Content-Type': 'application/x-www-form-urlencoded' }, { method: 'POST', body: 'token=wrong' });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('set-cookie'), null);
    assert.match(await r.text(), /Wrong token/);
    assert.equal(sample(await metrics(s), 'sluice_admin_login_failures_total'), 1);

    // The right one: a session cookie that does not carry the token.
    r = await get(s.admin + '/login', { 'Content-Type': 'application/x-www-form-urlencoded' },
      { method: 'POST', body: 'token=' + encodeURIComponent(token) });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/');
    const setCookie = r.headers.get('set-cookie');
    assert.match(setCookie, /^sluice_session=v1\.\d+\.[0-9a-f]{64}; /);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Path=\//);
    assert.ok(!setCookie.includes(token), 'the cookie never holds the token');
    const cookie = { Cookie: 'other=1; ' + setCookie.split(';')[0] };
    assert.equal((await get(s.admin + '/', cookie)).status, 200);
    assert.equal((await get(s.admin + '/api/topics', cookie)).status, 200);
    assert.deepEqual(await (await get(s.admin + '/api/session', cookie)).json(), { auth: true });
    r = await get(s.admin + '/login', cookie);
    assert.equal(r.status, 303, 'logged in: /login goes to the dashboard');
    // An altered session is no session.
    const forged = { Cookie: setCookie.split(';')[0].replace(/.$/, (c) => (c === '0' ? '1' : '0')) };
    assert.equal((await get(s.admin + '/api/topics', forged)).status, 401);
    assert.equal((await get(s.admin + '/', forged)).status, 303);
    // Writes with the cookie must come from the dashboard's own origin.
    const write = (headers) => get(s.admin + '/api/scenarios', { 'Content-Type': 'application/json', ...cookie, ...headers },
      { method: 'POST', body: '{}' });
    assert.equal((await write({ Origin: 'http://evil.example' })).status, 401);
    assert.equal((await write({ 'Sec-Fetch-Site': 'cross-site' })).status, 401);
    assert.notEqual((await write({ Origin: s.admin })).status, 401);
    // Log out: the cookie is cleared.
    r = await get(s.admin + '/logout', cookie, { method: 'POST' });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/login');
    assert.match(r.headers.get('set-cookie'), /^sluice_session=; .*Max-Age=0/);

    // /metrics is open by default...
    assert.equal((await get(s.admin + '/metrics')).status, 200);
    // ...and a reload with a new token and metrics_open: false closes it and
    // ends every session made with the old token.
    const token2 = token + '-2';
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(`token: "${token}"`, `token: "${token2}"\n  metrics_open: false`));
    s.proc.kill('SIGHUP');
    await until('the reload', () => /reloaded/.test(s.stderr));
    assert.equal((await get(s.admin + '/metrics')).status, 401);
    assert.equal((await get(s.admin + '/metrics', { Authorization: `Bearer ${token2}` })).status, 200);
    assert.equal((await get(s.admin + '/api/topics', cookie)).status, 401, 'old sessions end with the old token');
    assert.equal((await get(s.admin + '/api/topics', bearer)).status, 401);
    assert.equal((await get(s.admin + '/api/topics', { Authorization: `Bearer ${token2}` })).status, 200);
  } finally {
    assert.equal((await stopSluice(s)).code, 0, s.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
