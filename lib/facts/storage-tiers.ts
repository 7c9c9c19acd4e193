import type { ObjectSize } from '../ports.js';
import { parseVariables, wholeNumberVariable, type Environment } from '../util/env.js';
import { MAX_CREATED_AT_AHEAD_SECONDS } from './partition.js';

/**
 * The storage tiers of the facts bucket, as its lifecycle rules (infra/lib/storage.ts) set them and as
 * the core reads them. S3 moves an object by its own age, counted from its creation (LastModified) and
 * applied at the next midnight UTC or later, never earlier (docs/deploy.md, "Storage tiers"); so the
 * core judges each object by the age its store reports, the same way locally (where nothing moves) and
 * in AWS. An archived object is in S3 Glacier Deep Archive: Athena skips it and a GET fails until it is
 * restored, so jobs leave its hours out and say so, and the compactor leaves its hours as settled.
 */

/** Days an object stays in S3 Standard before Standard-IA (S3's minimum for a transition to IA). */
export const INFREQUENT_ACCESS_AFTER_DAYS = 30;
/** S3 moves an object from Standard-IA to a Glacier class only after 30 days there. */
export const MIN_DAYS_IN_INFREQUENT_ACCESS = 30;
export const MIN_ARCHIVE_AFTER_DAYS = INFREQUENT_ACCESS_AFTER_DAYS + MIN_DAYS_IN_INFREQUENT_ACCESS;
/** A year of facts Athena can read; older ones wait, restorable, at a twenty-third of Standard's price. */
export const DEFAULT_ARCHIVE_AFTER_DAYS = 365;
/**
 * The archive class (infra's StorageClass.DEEP_ARCHIVE). Deep Archive over Glacier Flexible Retrieval:
 * both are unreadable until restored, so the core treats them alike, and Deep Archive stores for
 * $0.00099 instead of $0.0036 per GB-month. Over Glacier Instant Retrieval, which Athena reads: that
 * bills $0.03 per GB read on every scan, six times Athena's own price, with no step to stop it.
 */
export const ARCHIVE_STORAGE_CLASS = 'DEEP_ARCHIVE';
export const ARCHIVE_TIER_NAME = 'S3 Glacier Deep Archive';
/**
 * Objects of at most this size never leave S3 Standard (the rules' objectSizeGreaterThan): Standard-IA
 * bills at least 128 KB an object and an archived object carries 40 KB of index, so tiering them costs more.
 */
export const TIERED_OBJECT_MIN_BYTES = 128 * 1024;
/**
 * An object counts as archived this long before S3 may move it: room for the clocks of S3 and the
 * functions, and for a job whose steps run across a midnight.
 */
export const ARCHIVE_MARGIN_SECONDS = 86_400;

export interface ArchivePolicy {
  /** the facts rule's archive transition, in seconds of object age */
  archiveAfterSeconds: number;
}

export const archivePolicyOfDays = (days: number): ArchivePolicy => ({ archiveAfterSeconds: days * 86_400 });
export const DEFAULT_ARCHIVE_POLICY = archivePolicyOfDays(DEFAULT_ARCHIVE_AFTER_DAYS);

/**
 * Whether a fact object may be in the archive tier now: larger than the rules' size floor and written
 * at least the archive age (less the margin) ago. An object whose store gives no time is taken as
 * readable: both real stores give one (S3's LastModified, the file's mtime).
 */
export function mayBeArchived(object: ObjectSize, nowMs: number, policy: ArchivePolicy): boolean {
  if (object.bytes <= TIERED_OBJECT_MIN_BYTES || object.modifiedAt === undefined) return false;
  return nowMs - object.modifiedAt >= (policy.archiveAfterSeconds - ARCHIVE_MARGIN_SECONDS) * 1000;
}

/**
 * Whether an hour partition can hold an object old enough to be archived: its objects are written no
 * earlier than MAX_CREATED_AT_AHEAD_SECONDS before the hour starts (ingest's clock-skew allowance), so
 * a younger hour needs no listing to know.
 */
export function hourMayHoldArchived(hourStart: number, nowMs: number, policy: ArchivePolicy): boolean {
  return (hourStart - MAX_CREATED_AT_AHEAD_SECONDS) * 1000 <= nowMs - (policy.archiveAfterSeconds - ARCHIVE_MARGIN_SECONDS) * 1000;
}

/**
 * FACTS_ARCHIVE_AFTER_DAYS (whole days of object age, at least MIN_ARCHIVE_AFTER_DAYS; default
 * DEFAULT_ARCHIVE_AFTER_DAYS) as an ArchivePolicy: infra/lib/config.ts sets it from the same context key
 * the lifecycle rule is built from.
 */
export const ARCHIVE_ENV_VARIABLE = 'FACTS_ARCHIVE_AFTER_DAYS';
export const archiveEnvShape = {
  [ARCHIVE_ENV_VARIABLE]: wholeNumberVariable(DEFAULT_ARCHIVE_AFTER_DAYS, MIN_ARCHIVE_AFTER_DAYS, undefined, `a whole number of days of at least ${MIN_ARCHIVE_AFTER_DAYS}`).transform(archivePolicyOfDays),
};

/** A parsed archive environment (archiveEnvShape) as its ArchivePolicy. */
export const archivePolicyOf = (env: { [ARCHIVE_ENV_VARIABLE]: ArchivePolicy }): ArchivePolicy => env[ARCHIVE_ENV_VARIABLE];

/** The archive policy `env` configures; a bad value throws, naming the variable. */
export function archivePolicyFromEnv(env: Environment): ArchivePolicy {
  return archivePolicyOf(parseVariables(archiveEnvShape, env));
}
