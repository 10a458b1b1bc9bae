// The graphql-http audit (the GraphQL-over-HTTP specification's own conformance suite)
// against a running server: `ILS_GRAPHQL_URL=http://127.0.0.1:8080/graphql node http-audit.mjs`.
// Prints one line per level ("MUST 13/13") and every audit that did not pass; exits 1 when
// a MUST or SHOULD audit fails (MAY audits are reported, not required).
import { serverAudits } from 'graphql-http';

const url = process.env.ILS_GRAPHQL_URL;
if (!url) {
  console.error('set ILS_GRAPHQL_URL');
  process.exit(2);
}

const results = [];
for (const audit of serverAudits({ url })) {
  results.push(await audit.fn());
}

const levels = ['MUST', 'SHOULD', 'MAY'];
let failed = false;
for (const level of levels) {
  const of = results.filter((r) => r.name.startsWith(`${level} `));
  const ok = of.filter((r) => r.status === 'ok');
  console.log(`${level} ${ok.length}/${of.length}`);
  if (level !== 'MAY' && ok.length !== of.length) failed = true;
}
for (const r of results) {
  if (r.status === 'ok') continue;
  let body = '';
  try {
    body = (await r.response.text()).slice(0, 300);
  } catch {
    // the audit already read it
  }
  console.log(`${r.status} ${r.id} ${r.name}: ${r.reason}${body ? ` | ${r.response.status} ${body}` : ''}`);
}
process.exit(failed ? 1 : 0);
