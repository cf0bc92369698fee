// Training examples from a file or the table, checked as the server checks them before anything is sent.

/** Rows of a CSV file (RFC 4180: quoted fields may hold commas, quotes as "" and line breaks), with their line. */
export function parseCsvRecords(text) {
  const records = [];
  let field = '', record = [], quoted = false, line = 1, recordLine = 1, i = 0;
  const endRecord = () => { record.push(field); records.push({ line: recordLine, fields: record }); field = ''; record = []; };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      if (c === '\n') line++;
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { record.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { i++; continue; }
    if (c === '\n') { endRecord(); line++; recordLine = line; i++; continue; }
    field += c; i++;
  }
  if (quoted) records.push({ line: recordLine, fields: [], error: 'a quoted field is not closed' });
  else if (field !== '' || record.length) endRecord();
  return records.filter(r => r.error || !(r.fields.length === 1 && r.fields[0] === ''));
}

/** Example rows {line, textInput, output, error?} from a file's text; its kind from the name's extension. */
export function parseExamples(name, text) {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return fromCsv(text);
  if (lower.endsWith('.jsonl')) return fromJsonLines(text);
  if (lower.endsWith('.json')) return fromJson(text);
  throw new Error(`${name}: expected a .csv, .jsonl or .json file`);
}

function fromCsv(text) {
  const records = parseCsvRecords(text);
  if (!records.length) return [];
  const header = records[0].fields.map(f => f.trim());
  if (header.length !== 2 || header[0] !== 'text_input' || header[1] !== 'output') {
    return [{ line: 1, textInput: '', output: '', error: `the header must be "text_input,output", found "${header.join(',')}"` }];
  }
  return records.slice(1).map(r => {
    if (r.error) return { line: r.line, textInput: '', output: '', error: r.error };
    const [textInput = '', output = ''] = r.fields;
    const row = { line: r.line, textInput, output };
    if (r.fields.length !== 2) row.error = `has ${r.fields.length} fields; an example is a pair: text_input,output`;
    return row;
  });
}

function fromObject(line, o) {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    return { line, textInput: '', output: '', error: 'is not an object {"text_input": ..., "output": ...}' };
  }
  const textInput = o.text_input ?? o.textInput;
  const output = o.output;
  const extra = Object.keys(o).filter(k => !['text_input', 'textInput', 'output'].includes(k));
  const row = { line, textInput: typeof textInput === 'string' ? textInput : '', output: typeof output === 'string' ? output : '' };
  if (typeof textInput !== 'string' || typeof output !== 'string') row.error = 'needs text_input and output, both strings';
  else if (extra.length) row.error = `has fields other than text_input and output: ${extra.join(', ')}`;
  return row;
}

function fromJsonLines(text) {
  const rows = [];
  text.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    try { rows.push(fromObject(i + 1, JSON.parse(l))); } catch (e) {
      rows.push({ line: i + 1, textInput: '', output: '', error: `is not JSON (${e.message})` });
    }
  });
  return rows;
}

function fromJson(text) {
  let v;
  try { v = JSON.parse(text); } catch (e) {
    return [{ line: 1, textInput: '', output: '', error: `the file is not JSON (${e.message})` }];
  }
  const list = Array.isArray(v) ? v : (v && (v.examples?.examples || v.examples));
  if (!Array.isArray(list)) {
    return [{ line: 1, textInput: '', output: '', error: 'expected an array of examples or {"examples": [...]}' }];
  }
  // a JSON file has no line per example: the row number is the example's position, from 1
  return list.map((o, i) => fromObject(i + 1, o));
}

/** The reason a row would be refused by the server, or null. */
export function problemOf(row, limits) {
  if (row.error) return row.error;
  if (!row.textInput) return 'text_input is empty';
  if (!row.output) return 'output is empty';
  if (row.textInput.length > limits.maxInputChars) return `text_input has ${row.textInput.length} characters; at most ${limits.maxInputChars}`;
  if (row.output.length > limits.maxOutputChars) return `output has ${row.output.length} characters; at most ${limits.maxOutputChars}`;
  return null;
}

export function impliedSteps(examples, epochs, batchSize) {
  return Math.ceil(examples * epochs / batchSize);
}
