import { ByteWriter, parquetWrite } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';
import { parquetReadObjects } from 'hyparquet';
import { FACT_COLUMN_KINDS as COLUMN_KINDS, FACT_COLUMNS, type Fact } from './schema.js';

const REQUIRED = new Set(['event_id', 'source', 'kind', 'type', 'created_at', 'author', 'ingested_at']);

function schemaElements(): SchemaElement[] {
  const elements: SchemaElement[] = [{ name: 'root', num_children: FACT_COLUMNS.length }];
  for (const name of FACT_COLUMNS) {
    const kind = COLUMN_KINDS[name];
    const repetition_type = REQUIRED.has(name) ? 'REQUIRED' : 'OPTIONAL';
    if (kind === 'list') {
      // Standard 3-level LIST layout, which Athena and DuckDB both read as array<string>.
      elements.push({ name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 });
      elements.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      elements.push({ name: 'element', repetition_type: 'OPTIONAL', type: 'BYTE_ARRAY', converted_type: 'UTF8' });
    } else if (kind === 'string') {
      elements.push({ name, repetition_type, type: 'BYTE_ARRAY', converted_type: 'UTF8' });
    } else if (kind === 'double') {
      elements.push({ name, repetition_type, type: 'DOUBLE' });
    } else if (kind === 'int32') {
      elements.push({ name, repetition_type, type: 'INT32' });
    } else {
      elements.push({ name, repetition_type, type: 'INT64' });
    }
  }
  return elements;
}

const FACT_SCHEMA = schemaElements();

/** Encodes facts as one Parquet file (snappy). Rows keep the given order. */
export function encodeFacts(facts: readonly Fact[]): Uint8Array {
  const columnData = FACT_COLUMNS.map((name) => {
    const kind = COLUMN_KINDS[name];
    const data = facts.map((fact) => {
      const value = fact[name];
      if (kind === 'int64') return value === null ? null : BigInt(value as number);
      return value;
    });
    return { name, data };
  });
  const writer = new ByteWriter();
  parquetWrite({ writer, columnData, schema: FACT_SCHEMA, codec: 'SNAPPY', rowGroupSize: 100_000 });
  return new Uint8Array(writer.getBuffer());
}

/** Decodes a Parquet file written by `encodeFacts` (or any file with the fact columns). */
export async function decodeFacts(bytes: Uint8Array): Promise<Fact[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({ file, columns: [...FACT_COLUMNS] })) as Record<string, unknown>[];
  return rows.map((row) => {
    const fact = {} as Record<string, unknown>;
    for (const name of FACT_COLUMNS) {
      const value = row[name];
      fact[name] = typeof value === 'bigint' ? Number(value) : (value ?? (COLUMN_KINDS[name] === 'list' ? [] : null));
    }
    return fact as unknown as Fact;
  });
}
