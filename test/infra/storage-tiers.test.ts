import { describe, expect, it } from 'vitest';
import { archivePolicyFromEnv, DEFAULT_ARCHIVE_AFTER_DAYS, INFREQUENT_ACCESS_AFTER_DAYS, TIERED_OBJECT_MIN_BYTES } from '../../lib/facts/storage-tiers.js';
import { logicalId, resource, synth } from './synth.js';

/**
 * The storage tiers as deployed: the facts bucket's lifecycle rules are built from the same context key
 * the compactor and jobs functions are told (FACTS_ARCHIVE_AFTER_DAYS), so what S3 archives and what
 * the core takes as archived cannot drift apart.
 */
const { stack, template } = synth();
const rulesOf = (s = stack, t = template) => resource(t, logicalId(s, s.storage.factsBucket)).Properties.LifecycleConfiguration.Rules as Record<string, any>[];
const rule = (id: string, rules = rulesOf()) => rules.find((r) => r.Id === id)!;
const envOf = (s: typeof stack, t: typeof template, fn: object) => resource(t, logicalId(s, fn)).Properties.Environment.Variables as Record<string, string>;

describe('the facts bucket moves objects by age', () => {
  it('facts: Standard-IA after 30 days, Deep Archive after the default 365, objects over 128 KiB only', () => {
    expect(rule('tier-facts')).toEqual({
      Id: 'tier-facts',
      Status: 'Enabled',
      Prefix: 'facts/',
      ObjectSizeGreaterThan: TIERED_OBJECT_MIN_BYTES,
      Transitions: [
        { StorageClass: 'STANDARD_IA', TransitionInDays: INFREQUENT_ACCESS_AFTER_DAYS },
        { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: DEFAULT_ARCHIVE_AFTER_DAYS },
      ],
    });
    expect(TIERED_OBJECT_MIN_BYTES).toBe(131_072);
  });

  it('settle results: Standard-IA after 30 days and never archived (an open hour diffs against them)', () => {
    expect(rule('tier-settle-results')).toEqual({
      Id: 'tier-settle-results',
      Status: 'Enabled',
      Prefix: 'counters/results/',
      ObjectSizeGreaterThan: TIERED_OBJECT_MIN_BYTES,
      Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
    });
  });

  it('leaves the manifests, job results, quarantine and the transient prefixes in Standard', () => {
    const transitioned = rulesOf().filter((r) => r.Transitions).map((r) => r.Prefix);
    expect(transitioned.sort()).toEqual(['counters/results/', 'facts/']);
    // job results still expire after a week, before IA's 30 days would matter
    expect(rule('expire-job-results')).toMatchObject({ Prefix: 'jobs/', ExpirationInDays: 7 });
    const archiving = rulesOf().filter((r) => r.Transitions?.some((t: { StorageClass: string }) => t.StorageClass === 'DEEP_ARCHIVE'));
    expect(archiving.map((r) => r.Prefix)).toEqual(['facts/']);
  });

  it('the archive age comes from context and reaches the compactor and the jobs function as one number', () => {
    for (const [fn, name] of [[stack.compactor.fn, 'compactor'], [stack.jobs.fn, 'jobs']] as const) {
      expect(envOf(stack, template, fn).FACTS_ARCHIVE_AFTER_DAYS, name).toBe(String(DEFAULT_ARCHIVE_AFTER_DAYS));
    }
    const { stack: s, template: t } = synth({ factsArchiveAfterDays: '400' });
    expect(rule('tier-facts', rulesOf(s, t)).Transitions[1]).toEqual({ StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 400 });
    for (const fn of [s.compactor.fn, s.jobs.fn]) {
      const env = envOf(s, t, fn);
      expect(env.FACTS_ARCHIVE_AFTER_DAYS).toBe('400');
      expect(archivePolicyFromEnv(env)).toEqual({ archiveAfterSeconds: 400 * 86_400 });
    }
    // the functions that never read old facts are not told
    for (const fn of [s.ingest.fn, s.api.fn, s.compactor.settleFn]) expect(envOf(s, t, fn).FACTS_ARCHIVE_AFTER_DAYS).toBeUndefined();
  });

  it('refuses an archive age S3 would refuse (30 days in Standard, then 30 in Standard-IA), naming the key', () => {
    expect(() => synth({ factsArchiveAfterDays: 59 })).toThrow(/factsArchiveAfterDays must be at least 60, got 59/);
    expect(() => synth({ factsArchiveAfterDays: 'next year' })).toThrow(/factsArchiveAfterDays/);
    const shortest = synth({ factsArchiveAfterDays: 60 });
    expect(rule('tier-facts', rulesOf(shortest.stack, shortest.template)).Transitions[1].TransitionInDays).toBe(60);
  });
});

describe('analysts can read what they restore', () => {
  it('the facts table reads restored archive objects (Athena skips archived objects otherwise)', () => {
    expect(resource(template, logicalId(stack, stack.analytics.table)).Properties.TableInput.Parameters.read_restored_glacier_objects).toBe('true');
  });
});
