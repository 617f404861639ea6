import { describe, expect, it } from 'vitest';
import { JOB_CATALOG, warehouseLoginOf } from '../jobs/catalog.ts';
import { loginPassword, loginSecretName } from './warehouse-logins.ts';

const key = 'k'.repeat(48);

describe('warehouse logins', () => {
  it('names each job its login: ecomm_ and its name, dashes as underscores', () => {
    expect(warehouseLoginOf('load')).toBe('ecomm_load');
    expect(warehouseLoginOf('stream-ingest')).toBe('ecomm_stream_ingest');
    expect(warehouseLoginOf('monitor')).toBe('ecomm_monitor');
    expect(loginSecretName('ecomm_stream_ingest')).toBe('ECOMM_STREAM_INGEST_PASSWORD');
    expect(() => warehouseLoginOf('Bad Name')).toThrow('job name "Bad Name"');
    const logins = JOB_CATALOG.map((job) => warehouseLoginOf(job.name));
    expect(new Set(logins).size).toBe(JOB_CATALOG.length);
  });

  it('derives a stable password per login that Redshift and PostgreSQL accept, different per login and key', () => {
    const password = loginPassword(key, 'ecomm_load');
    expect(loginPassword(key, 'ecomm_load')).toBe(password);
    expect(loginPassword(key, 'ecomm_transform')).not.toBe(password);
    expect(loginPassword('j'.repeat(48), 'ecomm_load')).not.toBe(password);
    expect(password).toHaveLength(46);
    // Redshift: 8-64 characters with an upper- and a lowercase letter and a digit; none of ' " \ / @ or space.
    expect(password).toMatch(/[A-Z]/);
    expect(password).toMatch(/[a-z]/);
    expect(password).toMatch(/[0-9]/);
    expect(password).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(password).not.toContain(key);
    expect(() => loginPassword('short', 'ecomm_load')).toThrow(
      'warehouseLoginKey: use at least 32 characters',
    );
  });
});
