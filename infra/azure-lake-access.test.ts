import { describe, expect, it } from 'vitest';
import { JOB_CATALOG } from '../jobs/catalog.ts';
import {
  LAKE_DATA_ACTIONS,
  LAKE_ROLE_DATA_ACTIONS,
  lakeAccessCondition,
  lakeAccessFromCondition,
  lakeRoleDataActions,
  roleDefinitionGuid,
} from './azure-lake-access.ts';

/** The catalog jobs the stacks deploy: all but the admin's `grants`, which an operator runs by hand. */
const DEPLOYED_JOBS = JOB_CATALOG.filter((job) => job.warehouseAdmin !== true);

describe('Azure lake access condition', () => {
  it('confines reads, listings, writes and deletes each to their own prefixes', () => {
    const condition = lakeAccessCondition({
      read: ['raw/'],
      write: ['quarantine/', 'staging/'],
      delete: ['quarantine/'],
    });
    const blobs = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs';
    expect(condition).toBe(
      [
        `((!(ActionMatches{'${blobs}/read'} AND NOT SubOperationMatches{'Blob.List'})) OR (@Resource[${blobs}:path] StringStartsWith 'raw/'))`,
        `((!(ActionMatches{'${blobs}/read'} AND SubOperationMatches{'Blob.List'})) OR (@Request[${blobs}:prefix] StringStartsWith 'raw/'))`,
        `((!(ActionMatches{'${blobs}/write'} OR ActionMatches{'${blobs}/add/action'})) OR (@Resource[${blobs}:path] StringStartsWith 'quarantine/' OR @Resource[${blobs}:path] StringStartsWith 'staging/'))`,
        `((!(ActionMatches{'${blobs}/delete'})) OR (@Resource[${blobs}:path] StringStartsWith 'quarantine/'))`,
      ].join(' AND '),
    );
  });

  it('refuses a verb outright when the job names no prefix for it', () => {
    const condition = lakeAccessCondition({ read: [], write: ['lineage/'], delete: [] });
    expect(condition).toContain(
      "(!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'}))",
    );
    expect(condition).not.toContain("StringStartsWith 'raw/'");
  });

  it("reads every catalog job's access back from its condition unchanged", () => {
    for (const job of DEPLOYED_JOBS) {
      if (job.lake === undefined) continue;
      expect(lakeAccessFromCondition(lakeAccessCondition(job.lake)), job.name).toEqual(job.lake);
    }
  });

  it('gives the role a delete data action only when some workload deletes', () => {
    const reads = { read: ['raw/' as const], write: [], delete: [] };
    expect(lakeRoleDataActions([reads, null])).not.toContain(LAKE_DATA_ACTIONS.delete);
    expect(lakeRoleDataActions([reads, { ...reads, delete: ['quarantine/' as const] }])).toContain(
      LAKE_DATA_ACTIONS.delete,
    );
  });

  it('holds blob data actions only, and a stable GUID per seed', () => {
    expect(LAKE_ROLE_DATA_ACTIONS.every((a) => a.includes('/containers/blobs/'))).toBe(true);
    expect(roleDefinitionGuid('a')).toBe(roleDefinitionGuid('a'));
    expect(roleDefinitionGuid('a')).not.toBe(roleDefinitionGuid('b'));
    expect(roleDefinitionGuid('a')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
