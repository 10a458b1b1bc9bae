#!/usr/bin/env node
// Checks the example operations against the server's schema.
//
//   node playground/test/operations.mjs [path/to/schema.graphql]
//
// Parses every playground/operations/*.graphql and validates it against the
// generated SDL (default: schema.graphql at the repository root) with graphql-js's
// standard rules. Also requires every operation to be named (GraphiQL titles the
// tab after the first one and asks by name which one to run). Prints one line per
// file; exits 1 if any file has a problem.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, parse, validate, Kind, GraphQLError } from 'graphql';

const here = path.dirname(fileURLToPath(import.meta.url));
const playground = path.join(here, '..');
const schemaPath = path.resolve(process.argv[2] || path.join(playground, '..', 'schema.graphql'));
const opsDir = path.join(playground, 'operations');

let schema;
try {
  schema = buildSchema(await readFile(schemaPath, 'utf8'));
} catch (err) {
  console.error(`operations test: FAILED: cannot build the schema from ${schemaPath}: ${err.message}`);
  process.exit(1);
}

const files = (await readdir(opsDir)).filter((f) => f.endsWith('.graphql')).sort();
if (files.length === 0) {
  console.error(`operations test: FAILED: no .graphql files in ${opsDir}`);
  process.exit(1);
}

function where(err, file) {
  const loc = err.locations && err.locations[0];
  return loc ? `${file}:${loc.line}:${loc.column}` : file;
}

let failures = 0;
for (const file of files) {
  const source = await readFile(path.join(opsDir, file), 'utf8');
  let doc;
  try {
    doc = parse(source);
  } catch (err) {
    failures++;
    console.error(`FAIL ${where(err, file)}: ${err instanceof GraphQLError ? err.message : err}`);
    continue;
  }
  const errors = [...validate(schema, doc)];
  const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (ops.length === 0) errors.push(new GraphQLError('no operation in the file'));
  for (const op of ops) {
    if (!op.name) {
      errors.push(new GraphQLError(`an anonymous ${op.operation}: name every example operation`, { nodes: op }));
    }
  }
  if (errors.length) {
    failures++;
    for (const err of errors) console.error(`FAIL ${where(err, file)}: ${err.message}`);
  } else {
    console.log(`ok   ${file}: ${ops.map((o) => `${o.operation} ${o.name.value}`).join(', ')}`);
  }
}

if (failures) {
  console.error(`operations test: FAILED: ${failures} of ${files.length} file(s) invalid against ${schemaPath}`);
  process.exit(1);
}
console.log(`operations test: ok (${files.length} files valid against ${path.relative(process.cwd(), schemaPath) || schemaPath})`);
