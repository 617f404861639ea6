import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvLine } from '../../adapters/csv.ts';
import { CopyCsvReader, CsvRecordCounter } from './csv.ts';

/** What validate's csv-parse reading gives: an unquoted empty cell is null, a quoted one the empty string. */
const csvParse = (bytes: Buffer): (string | null)[][] =>
  parse(bytes, {
    cast: (value, context) => (value === '' && !context.quoting ? null : value),
    relax_column_count: true,
  });

/** CopyCsvReader over the bytes cut at the given offsets; null when it gave up. */
function readInChunks(bytes: Buffer, cuts: number[]): (string | null)[][] | null {
  const reader = new CopyCsvReader();
  const rows: (string | null)[][] = [];
  let from = 0;
  for (const cut of [...cuts.filter((at) => at > 0 && at < bytes.length)].sort((a, b) => a - b)) {
    const read = reader.push(bytes.subarray(from, cut));
    if (!read) return null;
    rows.push(...read);
    from = cut;
  }
  const last = reader.push(bytes.subarray(from));
  const end = reader.end();
  if (!last || !end) return null;
  return [...rows, ...last, ...end];
}

const cell = fc.oneof(
  fc.constant(null),
  fc.constant(''),
  fc.string({ unit: fc.constantFrom('a', 'é', '中', '😀', ',', '"', '\n', '\r', ' ', '0', '-') }),
  fc.string(),
);

describe('CopyCsvReader', () => {
  it('reads what COPY writes exactly as csv-parse does, however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 1, maxLength: 6 }), { minLength: 0, maxLength: 12 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 8 }),
        (rows, finalNewline, cuts) => {
          const text = rows.map((row) => csvLine(row)).join('');
          // A one-cell null row is an empty line, which COPY never writes (it quotes a lone empty string).
          fc.pre(rows.every((row) => row.length > 1 || row[0] !== null));
          const bytes = Buffer.from(finalNewline ? text : text.replace(/\n$/, ''));
          const fromBytes = readInChunks(
            bytes,
            cuts.map((cut) => cut % (bytes.length + 1)),
          );
          expect(fromBytes).toEqual(csvParse(bytes));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives up at what COPY does not write, where csv-parse reads differently or fails', () => {
    const cases = [
      'a,b\r\n1,2\r\n', // CRLF: csv-parse takes the first line end it meets as the delimiter
      'a,b\n1,2\r3,4\n',
      'a,b\n\n1,2\n', // an empty line: one empty cell to csv-parse
      'a,b\n1,x"y\n', // a quote inside an unquoted cell: csv-parse fails
      'a,b\n1,"x"y\n', // text after a closing quote: csv-parse fails
      'a,b\n1,"unclosed\n', // a quote still open at the end: csv-parse fails
    ];
    for (const text of cases) expect(readInChunks(Buffer.from(text), []), JSON.stringify(text)).toBeNull();
    expect(readInChunks(Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0xff, 0x2c, 0x32, 0x0a]), [])).toBeNull();
    // A line end inside quotes is text, \r included, and a byte-order mark is the first cell's, as csv-parse has them.
    for (const text of ['a,b\n"1\r\n2",3\n', '\ufeffa,b\n1,2\n', 'a,b\n"",\n', 'a\n"\\."\n'])
      expect(readInChunks(Buffer.from(text), [1, 5])).toEqual(csvParse(Buffer.from(text)));
  });
});

describe('CsvRecordCounter', () => {
  /** The definition: every quote toggles "inside quotes"; a newline outside quotes ends a record. */
  const byteByByte = (bytes: Buffer): number => {
    let inside = false;
    let records = 0;
    for (const byte of bytes) {
      if (byte === 0x22) inside = !inside;
      else if (byte === 0x0a && !inside) records += 1;
    }
    return records;
  };
  const counted = async (bytes: Buffer, cuts: number[]): Promise<number> => {
    const counter = new CsvRecordCounter();
    const passed: Buffer[] = [];
    counter.on('data', (chunk: Buffer) => passed.push(chunk));
    const ends = [...new Set(cuts.filter((at) => at > 0 && at < bytes.length))].sort((a, b) => a - b);
    let from = 0;
    for (const end of [...ends, bytes.length]) {
      counter.write(bytes.subarray(from, end));
      from = end;
    }
    counter.end();
    await new Promise((resolve) => counter.on('end', resolve));
    expect(Buffer.concat(passed).equals(bytes)).toBe(true);
    return counter.records;
  };

  it('counts the records of COPY CSV with quoted newlines and doubled quotes, across any chunking', async () => {
    const bytes = Buffer.from('id,note\n1,"a\nb"\n2,"say ""hi""\n"\n3,\n4,"x"\n');
    for (let cut = 0; cut <= bytes.length; cut += 1) expect(await counted(bytes, [cut])).toBe(5);
  });

  it('agrees with counting byte by byte on any bytes and any chunking', async () => {
    const byte = fc.constantFrom(0x22, 0x0a, 0x2c, 0x61, 0x0d, 0xc3);
    await fc.assert(
      fc.asyncProperty(fc.array(byte, { maxLength: 300 }), fc.array(fc.nat(300)), async (list, cuts) => {
        const bytes = Buffer.from(list);
        expect(await counted(bytes, cuts)).toBe(byteByByte(bytes));
      }),
      { seed: 20261207, numRuns: 300 },
    );
  });
});
