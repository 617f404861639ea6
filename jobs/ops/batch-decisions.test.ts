import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../../adapters/storage/local.ts';
import { decisionKey } from '../lake/layout.ts';
import { clearBatchDecision, readBatchDecisions, recordBatchDecision } from './batch-decisions.ts';

const folder = mkdtempSync(join(tmpdir(), 'decisions-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("the lake's copy of batch decisions", () => {
  it('supersedes a retried batch decision with a cleared one, which reads as none, and deletes nothing', async () => {
    const store = openLocalStore(`file://${folder}`);
    const deletes: string[] = [];
    const lake = { ...store, delete: async (key: string) => void deletes.push(key) };
    const at = new Date('2026-10-01T10:00:00Z');
    await recordBatchDecision(lake, {
      batch_id: 'b-1',
      decision: 'failed',
      step: 'validate',
      reason: 'truncated object',
      at,
      run_id: 'r-1',
    });
    await recordBatchDecision(lake, {
      batch_id: 'b-2',
      decision: 'skipped',
      step: null,
      reason: 'junk',
      at,
      run_id: 'r-1',
    });
    expect([...(await readBatchDecisions(lake)).keys()].sort()).toEqual(['b-1', 'b-2']);

    await clearBatchDecision(lake, 'b-1', { at, runId: 'r-2' });
    expect([...(await readBatchDecisions(lake)).keys()]).toEqual(['b-2']);
    expect(await lake.head(decisionKey('b-1'))).toBeDefined(); // superseded, kept: the lake's history of it
    expect(deletes).toEqual([]);
  });
});
