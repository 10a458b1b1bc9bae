// ILS as an Apollo Federation v2 subgraph, tried the way a platform team would:
// ILS's SDL (`_service { sdl }` on /subgraph) is composed with a small second subgraph
// ("shipping", which adds `courierNote` to LensOrder) by @theguild/federation-composition,
// and @graphql-hive/gateway serves the supergraph over HTTP, passing the caller's
// Authorization header to both subgraphs. Then, through the gateway:
//   1. the caller's own order, read from ILS, joined to the field shipping adds;
//   2. the same order reached from shipping (ILS answers `_entities`);
//   3. another company's order reached from shipping: ILS's guard answers null, so the
//      gateway answers null too, with none of that order's ILS fields.
// One line per check, then "federation N/M"; exits non-zero when a check fails.
//
// ILS_SUBGRAPH_URL    ILS's subgraph endpoint (http://…/subgraph)
// ILS_ACCESS_TOKEN    a signed-in user of the company that owns ILS_OWN_ORDER_ID
// ILS_OWN_ORDER_ID    an order of that company
// ILS_OTHER_ORDER_ID  an order of another company

import { createServer } from 'node:http';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@theguild/federation-composition';
import { createGatewayRuntime } from '@graphql-hive/gateway';

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

const ilsUrl = env('ILS_SUBGRAPH_URL');
const token = env('ILS_ACCESS_TOKEN');
const ownOrder = env('ILS_OWN_ORDER_ID');
const otherOrder = env('ILS_OTHER_ORDER_ID');
const authorization = `Bearer ${token}`;

const results = [];
function check(name, ok, detail) {
  results.push(ok);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `: ${JSON.stringify(detail)}`}`);
}

async function post(url, query, variables = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

function listen(handler) {
  const server = createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// The second subgraph: shipping knows orders only by their ILS global ID.
const shippingTypeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  type LensOrder @key(fields: "id") {
    id: ID!
    courierNote: String!
  }

  type Query {
    trackedOrder(id: ID!): LensOrder
  }
`);
const shippingResolvers = {
  Query: { trackedOrder: (_, { id }) => ({ id }) },
  LensOrder: {
    __resolveReference: (ref) => ({ id: ref.id }),
    courierNote: (order) => `courier note for ${order.id}`,
  },
};

let shipping;
let gatewayServer;
try {
  const sdl = await post(ilsUrl, '{ _service { sdl } }');
  const ilsSdl = sdl.body?.data?._service?.sdl;
  check('ILS serves its subgraph SDL', typeof ilsSdl === 'string', sdl);
  if (typeof ilsSdl !== 'string') throw new Error('no SDL');

  const yoga = createYoga({
    schema: buildSubgraphSchema([{ typeDefs: shippingTypeDefs, resolvers: shippingResolvers }]),
    graphqlEndpoint: '/graphql',
    logging: false,
  });
  shipping = await listen(yoga);
  const shippingUrl = `http://127.0.0.1:${shipping.address().port}/graphql`;

  const composed = composeServices([
    { name: 'ils', typeDefs: parse(ilsSdl), url: ilsUrl },
    { name: 'shipping', typeDefs: shippingTypeDefs, url: shippingUrl },
  ]);
  const composeErrors = (composed.errors ?? []).map((e) => e.message);
  check('the two subgraphs compose', composeErrors.length === 0, composeErrors);
  if (composeErrors.length > 0) throw new Error('composition failed');

  const gateway = createGatewayRuntime({
    supergraph: () => composed.supergraphSdl,
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({
        authorization: request.headers.get('authorization'),
      }),
    },
    logging: false,
  });
  gatewayServer = await listen(gateway);
  const gatewayUrl = `http://127.0.0.1:${gatewayServer.address().port}/graphql`;

  const joined = await post(
    gatewayUrl,
    'query($id: ID!) { order(id: $id) { id status courierNote } }',
    { id: ownOrder },
  );
  check(
    'own order from ILS joined to the shipping field',
    !joined.body.errors &&
      joined.body.data?.order?.id === ownOrder &&
      joined.body.data.order.status === 'DRAFT' &&
      joined.body.data.order.courierNote === `courier note for ${ownOrder}`,
    joined.body,
  );

  const tracked = await post(
    gatewayUrl,
    'query($id: ID!) { trackedOrder(id: $id) { id status courierNote } }',
    { id: ownOrder },
  );
  check(
    'own order reached from shipping resolves through ILS _entities',
    !tracked.body.errors &&
      tracked.body.data?.trackedOrder?.id === ownOrder &&
      tracked.body.data.trackedOrder.status === 'DRAFT',
    tracked.body,
  );

  const foreign = await post(
    gatewayUrl,
    'query($id: ID!) { trackedOrder(id: $id) { id status courierNote } }',
    { id: otherOrder },
  );
  check(
    "another company's order is null through the gateway",
    foreign.body.data !== undefined && foreign.body.data?.trackedOrder === null,
    foreign.body,
  );

  const direct = await post(gatewayUrl, 'query($id: ID!) { order(id: $id) { id status } }', {
    id: otherOrder,
  });
  check(
    "another company's order is null from ILS's own field too",
    !direct.body.errors && direct.body.data?.order === null,
    direct.body,
  );
} catch (e) {
  check('the run finished', false, String(e?.stack ?? e));
} finally {
  gatewayServer?.close();
  shipping?.close();
}

const passed = results.filter(Boolean).length;
console.log(`federation ${passed}/${results.length}`);
process.exit(passed === results.length ? 0 : 1);
