/**
 * The cost profile measured on a real model at load (core/profile.ts): a time for every profiled size and
 * for the draft, kept in the store under a key naming where each graph runs, and read back instead of
 * measured again on the next load.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROFILE_SIZES } from '../../src/core/cost';
import { loadModel } from '../../src/core/model';
import { FileCostStore } from '../../src/core/profile';
import { fixtureDir, memoryLog } from '../support/models';

describe('cost profile measured at load', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'chimera-costs-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('times every profiled size and the draft, and names the devices in its key', async () => {
    const log = memoryLog();
    const model = await loadModel(fixtureDir, { device: 'cpu', log: log.log, costStore: new FileCostStore(dir) });
    try {
      const p = model.costs.profile;
      assert.equal(p.targetMs.length, PROFILE_SIZES.length);
      for (const ms of p.targetMs) assert.ok(ms > 0 && ms < 1000, `c(T) ${ms} ms`);
      assert.ok(p.draftMs !== undefined && p.draftMs > 0 && p.draftMs < 1000, `draft ${p.draftMs} ms`);
      assert.ok(p.targetMs[PROFILE_SIZES.length - 1]! > p.targetMs[0]! * 0.8, 'c(32) is not far below c(1)');
      assert.match(p.key, /\|cpu\|draft on cpu\|threads \d+\|/);
      assert.ok(log.lines.some((l) => /cost profile measured in \d+ ms/.test(l)));
    } finally {
      await model.dispose();
    }
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('cost-') && f.endsWith('.json')).length, 1);
  });

  it('reads a stored profile back instead of measuring again', async () => {
    const first = await loadModel(fixtureDir, { device: 'cpu', log: memoryLog().log, costStore: new FileCostStore(dir) });
    const measuredAt = first.costs.profile.measuredAt;
    await first.dispose();
    const log = memoryLog();
    const second = await loadModel(fixtureDir, { device: 'cpu', log: log.log, costStore: new FileCostStore(dir) });
    try {
      assert.equal(second.costs.profile.measuredAt, measuredAt);
      assert.deepEqual(second.costs.profile.targetMs, first.costs.profile.targetMs);
      assert.ok(!log.lines.some((l) => /cost profile measured/.test(l)));
    } finally {
      await second.dispose();
    }
  });
});
