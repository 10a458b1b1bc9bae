#!/usr/bin/env node
// Checks the example operations against the server's schema.
//
//   node playground/test/operations.mjs [path/to/schema.graphql]
//
// Parses every playground/operations/*.graphql and validates it against the
// generated SDL (default: schema.graphql at the repository root) with graphql-js's
// standard rules. Each file is one example tab, so it must hold exactly one named
// operation (GraphiQL titles the tab after it), and src/tour.js must list the files
// in the order of their names, with that operation name and the variables it takes.
// Prints one line per file; exits 1 if any file has a problem.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, parse, validate, Kind, GraphQLError } from 'graphql';
import { STEPS } from '../src/tour.js';

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
  if (ops.length > 1) errors.push(new GraphQLError(`${ops.length} operations: one tab runs one operation`));
  for (const op of ops) {
    if (!op.name) {
      errors.push(new GraphQLError(`an anonymous ${op.operation}: name every example operation`, { nodes: op }));
    }
  }
  const index = files.indexOf(file);
  const step = STEPS[index];
  const op = ops[0];
  if (!step || step.file !== file) {
    errors.push(new GraphQLError(`src/tour.js lists ${step ? step.file : 'no file'} as tab ${index + 1}`));
  } else if (op && op.name && step.op !== op.name.value) {
    errors.push(new GraphQLError(`src/tour.js names the operation ${step.op}`, { nodes: op.name }));
  } else if (op) {
    // The page fills exactly the variables the operation declares.
    const declared = (op.variableDefinitions || []).map((v) => v.variable.name.value).sort();
    const filled = step.variables
      ? Object.keys(step.variables({ runs: {} }, { origin: 'http://localhost', login: () => undefined })).sort()
      : [];
    if (JSON.stringify(declared) !== JSON.stringify(filled)) {
      errors.push(
        new GraphQLError(`declares $${declared.join(', $') || '(none)'}; src/tour.js fills ${filled.join(', ') || 'none'}`, { nodes: op }),
      );
    }
  }
  if (errors.length) {
    failures++;
    for (const err of errors) console.error(`FAIL ${where(err, file)}: ${err.message}`);
  } else {
    console.log(`ok   ${file}: ${ops.map((o) => `${o.operation} ${o.name.value}`).join(', ')}`);
  }
}

if (STEPS.length !== files.length) {
  failures++;
  console.error(`FAIL src/tour.js lists ${STEPS.length} tabs for ${files.length} files`);
}

if (failures) {
  console.error(`operations test: FAILED: ${failures} of ${files.length} file(s) invalid against ${schemaPath}`);
  process.exit(1);
}
console.log(`operations test: ok (${files.length} files valid against ${path.relative(process.cwd(), schemaPath) || schemaPath})`);
