import { createHash } from 'node:crypto';
import { CreateNamedQueryCommand, type AthenaClient } from '@aws-sdk/client-athena';
import type { SavedQueryStore } from '../../ports.js';

export interface AthenaSavedQueriesOptions {
  /** the workgroup the queries are saved in: an analyst finds them under its Saved queries */
  workGroup: string;
  /** the database the query editor opens them in */
  database: string;
}

/**
 * Saved queries as Athena named queries. Athena keeps every CreateNamedQuery as a new query, even under
 * a name it already has; the request token is the hash of what is saved, so a retried or repeated save of
 * the same text is the one query Athena already holds (Athena answers a repeated token with the query
 * it made for it).
 */
export class AthenaSavedQueries implements SavedQueryStore {
  constructor(
    private readonly client: AthenaClient,
    private readonly options: AthenaSavedQueriesOptions,
  ) {}

  async save(query: { name: string; description: string; sql: string }): Promise<void> {
    const { workGroup, database } = this.options;
    const token = createHash('sha256').update(JSON.stringify([workGroup, database, query.name, query.description, query.sql])).digest('hex');
    await this.client.send(
      new CreateNamedQueryCommand({
        Name: query.name,
        Description: query.description,
        Database: database,
        WorkGroup: workGroup,
        QueryString: query.sql,
        ClientRequestToken: token,
      }),
    );
  }
}
