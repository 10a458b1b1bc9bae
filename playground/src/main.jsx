// ILS GraphQL playground: GraphiQL 3 (CodeMirror 5), bundled by esbuild into
// one JS file and one CSS file. Nothing is loaded from outside the server.
import React, { useCallback } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQLProvider, GraphiQLInterface } from 'graphiql';
import { useEditorContext } from '@graphiql/react';
import { createGraphiQLFetcher } from '@graphiql/toolkit';

import signUpOperation from '../operations/sign-up.graphql';
import logInOperation from '../operations/log-in.graphql';
import meOperation from '../operations/me.graphql';
import eventsOperation from '../operations/events.graphql';
import webhooksOperations from '../operations/webhooks.graphql';
import jobsOperations from '../operations/jobs.graphql';
import auditLogOperation from '../operations/audit-log.graphql';
import marketplaceOperations from '../operations/marketplace.graphql';
import catalogOperations from '../operations/catalog.graphql';
import patientsOperations from '../operations/patients.graphql';
import ordersOperations from '../operations/orders.graphql';
import inventoryOperations from '../operations/inventory.graphql';

import './style.css';

export const PLACEHOLDER_HEADERS = JSON.stringify(
  { Authorization: 'Bearer <paste accessToken from logIn>' },
  null,
  2,
);

/** Reads the JSON the server injects as <script id="ils-config" type="application/json">. */
function readConfig() {
  const el = document.getElementById('ils-config');
  const text = el && el.textContent ? el.textContent.trim() : '';
  if (!text) return {};
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
  } catch (err) {
    console.warn('ILS playground: ignoring unreadable #ils-config JSON', err);
    return {};
  }
}

function demoLoginsFrom(config) {
  if (!Array.isArray(config.demoLogins)) return [];
  return config.demoLogins.filter(
    (l) => l && typeof l.email === 'string' && l.email && typeof l.password === 'string',
  );
}

/**
 * Drops an Authorization header whose value still holds the "<...>" placeholder
 * (or is empty), so the server never sees the literal placeholder text.
 */
export function sanitizeHeaders(headers) {
  if (!headers || typeof headers !== 'object') return headers;
  const out = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'authorization') {
      const v = value == null ? '' : String(value).trim();
      if (v === '' || v.includes('<') || /^bearer$/i.test(v)) continue;
    }
    out[name] = value;
  }
  return out;
}

function makeFetcher() {
  const wsScheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  const base = createGraphiQLFetcher({
    url: '/graphql',
    // graphql-ws ("graphql-transport-ws" subprotocol). The headers from the
    // Headers tab are sent as the connection_init payload.
    subscriptionUrl: `${wsScheme}://${window.location.host}/graphql/ws`,
    // Plain JSON POSTs (no multipart/mixed incremental delivery).
    enableIncrementalDelivery: false,
  });
  return (params, opts) =>
    base(params, opts ? { ...opts, headers: sanitizeHeaders(opts.headers) } : opts);
}

function gqlString(s) {
  return JSON.stringify(String(s));
}

function logInMutationFor(login) {
  return `# Demo login${login.label ? `: ${login.label}` : ''}
# Run it, then paste accessToken into the Headers tab below as
#   {"Authorization": "Bearer <accessToken>"}
mutation LogIn {
  logIn(email: ${gqlString(login.email)}, password: ${gqlString(login.password)}) {
    accessToken
    refreshToken
    expiresIn
    user {
      id
      email
      firstName
      lastName
    }
    company {
      id
      name
      type
      status
    }
  }
}
`;
}

function DemoLoginBar({ logins, env }) {
  const editor = useEditorContext({ nonNull: true });
  const open = useCallback(
    (login) => {
      const query = logInMutationFor(login);
      editor.addTab();
      // addTab resets the shared editors to the new tab's (default) values when
      // React processes the state update; fill the query after that.
      setTimeout(() => {
        if (editor.queryEditor) {
          editor.queryEditor.setValue(query);
          editor.queryEditor.focus();
        } else {
          editor.updateActiveTabValues({ query });
        }
      }, 0);
    },
    [editor],
  );
  return (
    <div className="ils-demo-logins" role="region" aria-label="Demo logins">
      <span className="ils-demo-title">
        Demo logins{env ? ` (${env})` : ''}:
      </span>
      {logins.map((login, i) => (
        <button
          key={`${login.email}-${i}`}
          type="button"
          className="ils-demo-login"
          title="Open a new tab with a logIn mutation for this user"
          onClick={() => open(login)}
        >
          {login.label ? <span className="ils-demo-label">{login.label}</span> : null}
          <span className="ils-demo-email">{login.email}</span>
          <span className="ils-demo-sep">/</span>
          <code className="ils-demo-password">{login.password}</code>
        </button>
      ))}
      <span className="ils-demo-hint">click one to open a logIn tab</span>
    </div>
  );
}

// The first tabs of a fresh playground (GraphiQL keeps the user's tabs in
// localStorage afterwards). The variables prefill the operations that take an id.
const DEFAULT_TABS = [
  { query: signUpOperation },
  { query: logInOperation },
  { query: meOperation },
  { query: eventsOperation },
  {
    query: webhooksOperations,
    variables: JSON.stringify({ deliveryId: '<paste a delivery id from WebhookDeliveries>' }, null, 2),
  },
  {
    query: jobsOperations,
    variables: JSON.stringify({ id: '<paste a job id from DeadJobs>' }, null, 2),
  },
  { query: auditLogOperation },
  {
    query: marketplaceOperations,
    variables: JSON.stringify(
      { companyId: '<paste a companyId from FindLabs>', connectionId: '<paste an id from MyConnections>' },
      null,
      2,
    ),
  },
  {
    query: catalogOperations,
    variables: JSON.stringify(
      { supplierId: '<paste a companyId from FindSuppliers>', importId: '<paste an import id>' },
      null,
      2,
    ),
  },
  {
    query: patientsOperations,
    variables: JSON.stringify({ patientId: '<paste an id from FindPatients>' }, null, 2),
  },
  {
    query: ordersOperations,
    variables: JSON.stringify(
      { orderId: '<paste an id from DraftOrder>', labId: '<paste a companyId from FindLabs>', version: 1 },
      null,
      2,
    ),
  },
  {
    query: inventoryOperations,
    variables: JSON.stringify(
      {
        productId: '<paste an id from AddFrameProduct>',
        countId: '<paste an id from StartCount>',
        supplierId: '<paste a companyId from FindSuppliers>',
        itemId: '<paste an item id from BrowseSupplierCatalog>',
        poId: '<paste an id from DraftPurchaseOrder>',
        version: 1,
      },
      null,
      2,
    ),
  },
];

function App({ config }) {
  const logins = demoLoginsFrom(config);
  const fetcher = React.useMemo(makeFetcher, []);
  const defaultTabs = DEFAULT_TABS.map((tab) => ({ ...tab, headers: PLACEHOLDER_HEADERS }));
  return (
    <GraphiQLProvider
      fetcher={fetcher}
      defaultTabs={defaultTabs}
      defaultQuery={meOperation}
      defaultHeaders={PLACEHOLDER_HEADERS}
      shouldPersistHeaders={false}
    >
      <div className="ils-playground">
        {logins.length > 0 ? (
          <DemoLoginBar logins={logins} env={typeof config.env === 'string' ? config.env : ''} />
        ) : null}
        <div className="ils-graphiql">
          <GraphiQLInterface
            defaultEditorToolsVisibility="headers"
            isHeadersEditorEnabled
            showPersistHeadersSettings={false}
          />
        </div>
      </div>
    </GraphiQLProvider>
  );
}

const container = document.getElementById('graphiql');
createRoot(container).render(<App config={readConfig()} />);
