// recovery.test.mjs - a segment whose last bytes are cut, or whose last batch
// is corrupted: the restart recovers to the last valid batch, says what it
// dropped, and the log goes on from there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tmpdir, writeConfig, startSluice, stopSluice, sluice, readTopic, post,
} from './lib.mjs';

const event = (i) => ({ timestamp: '2026-01-11T09:19:26Z', level: 'INFO', service: 'api-gateway',
  message: `m${i}` });

async function ingest(s, from, n) {
  // one request per event: one batch per event, so a damaged tail is one event
  for (let i = from; i < from + n; i++) {
    const r = await post(s.collector + '/api/collect', JSON.stringify(event(i)));
    assert.equal(r.status, 200, r.text);
  }
}

function lastSegment(dir) {
  const pdir = path.join(dir, 'data/log/logs.raw', '0');
  const segs = fs.readdirSync(pdir).filter((f) => f.endsWith('.log')).sort();
  return path.join(pdir, segs.at(-1));
}

for (const damage of ['cut', 'corrupt']) {
  test(`a ${damage} tail is truncated to the last valid batch and reported`, async () => {
    const dir = tmpdir();
    const cfg = writeConfig(dir);
    let s = await startSluice(cfg);
    await ingest(s, 0, 50);
    assert.equal((await stopSluice(s)).code, 0);
    // api-gateway lands on one partition; find it and damage its last batch
    const part = readTopic(`${dir}/data`, 'logs.raw')[0].partition;
    const seg = lastSegment(dir).replace('/0/', `/${part}/`);
    const size = fs.statSync(seg).size;
    if (damage === 'cut') {
      fs.truncateSync(seg, size - 7);
    } else {
      const fd = fs.openSync(seg, 'r+');
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, size - 5);
      b[0] ^= 0xff;
      fs.writeSync(fd, b, 0, 1, size - 5);
      fs.closeSync(fd);
    }
    s = await startSluice(cfg);
    assert.match(s.stderr, new RegExp(`recovered logs\\.raw/${part}: dropped \\d+ bytes after offset 48`),
      s.stderr);
    assert.match(s.stderr, damage === 'cut' ? /torn|short|cut/ : /crc/i);
    await ingest(s, 50, 5);
    assert.equal((await stopSluice(s)).code, 0);
    const msgs = readTopic(`${dir}/data`, 'logs.raw').map((r) => r.value.message);
    assert.equal(msgs.length, 54);
    assert.deepEqual(msgs.slice(48, 51), ['m48', 'm50', 'm51']);
    const offsets = readTopic(`${dir}/data`, 'logs.raw').map((r) => r.offset);
    assert.deepEqual(offsets, [...offsets.keys()], 'offsets stay dense after recovery');
    const v = sluice(['log', 'verify', '--data', `${dir}/data`]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  });
}
