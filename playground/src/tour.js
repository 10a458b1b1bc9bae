// The example tabs, in the order shown: one operation per tab (operations/<file>), who
// runs it, how its variables are filled from earlier answers, and what its answer gives
// the tabs after it. Plain JavaScript without imports, so that test/operations.mjs and
// test/browser.mjs can read it with Node.
//
//   file       operations/<file>, holding exactly one operation, named `op`
//   as         who runs it: a demo login's email, SIGNED_UP (the company SignUp and ConfirmSignUp
//              made) or null (whoever is logged in, or nobody). Running the tab logs the
//              page in as that user first, unless a pasted token is in use.
//   variables  (memory, ctx) => the Variables tab; undefined values are not known yet
//              and show as "(run <tab> first)"
//   gives      memory keys the answer sets (for that placeholder)
//   remember   (data, variables, memory) => memory keys to set from a successful answer
//   afterwards async (data, variables, ctx) => more memory keys, awaited before the answer
//              shows (ctx.mailedToken(email): the newest token mailed there, in development)

export const PRACTICE = 'admin@brightside.example';
export const LAB = 'admin@clearview.example';
export const SUPPLIER = 'admin@northwind.example';
export const PLATFORM = 'platform@ils.example';
export const SIGNED_UP = 'signed-up';

const SIGN_UP_PASSWORD = 'change-me-please-123';

/** A value no earlier run of `op` used: the page's random tag and the run count. */
function fresh(memory, op) {
  return `${memory.tag || 'x'}${(memory.runs && memory.runs[op]) || 0}`;
}

/** The date `days` days before today (UTC), as YYYY-MM-DD. */
function daysAgo(days) {
  return new Date(Date.now() - days * 86400000).toISOString().slice(0, 10);
}

/** A day of last month (UTC), as YYYY-MM-DD. */
function lastMonth() {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 0)).toISOString().slice(0, 10);
}

function nodes(connection) {
  return (connection && Array.isArray(connection.nodes) && connection.nodes) || [];
}

export const STEPS = [
  {
    file: '01-sign-up.graphql',
    op: 'SignUp',
    as: null,
    variables: (m) => ({
      email: `owner+${fresh(m, 'SignUp').toLowerCase()}@acme.example`,
      password: SIGN_UP_PASSWORD,
    }),
    gives: ['signUpToken'],
    remember: (_d, v) => ({ pendingEmail: v.email, pendingPassword: v.password }),
    // The token is mailed. In development the server keeps what it mailed at
    // /dev/mail, and the page reads the token from there (elsewhere: from your inbox).
    afterwards: async (_d, v, ctx) => ({ signUpToken: await ctx.mailedToken(v.email) }),
  },
  {
    file: '02-confirm-sign-up.graphql',
    op: 'ConfirmSignUp',
    as: null,
    variables: (m) => ({ token: m.signUpToken }),
    gives: ['signedUpEmail', 'signedUpPassword'],
    remember: (d, _v, m) => ({
      signedUpEmail: d.confirmSignUp.user.email,
      signedUpPassword: m.pendingPassword,
    }),
  },
  {
    file: '03-log-in.graphql',
    op: 'LogIn',
    as: null,
    variables: (m, ctx) => {
      if (m.signedUpEmail) return { email: m.signedUpEmail, password: m.signedUpPassword };
      const demo = ctx.login(PRACTICE);
      return { email: demo ? demo.email : undefined, password: demo ? demo.password : undefined };
    },
  },
  { file: '04-me.graphql', op: 'Me', as: null },
  {
    file: '05-directory.graphql',
    op: 'Directory',
    as: null,
    gives: ['labId', 'supplierId'],
    remember: (d) => {
      const labs = nodes(d.labs);
      const suppliers = nodes(d.suppliers);
      const lab = labs.find((l) => /clearview/i.test(l.name)) || labs[0];
      const supplier = suppliers.find((s) => /northwind/i.test(s.name)) || suppliers[0];
      return { labId: lab && lab.companyId, supplierId: supplier && supplier.companyId };
    },
  },
  {
    file: '06-request-connection.graphql',
    op: 'RequestConnection',
    as: SIGNED_UP,
    variables: (m) => ({ labId: m.labId }),
    gives: ['connectionId'],
    remember: (d) => ({ connectionId: d.requestConnection.connection.id }),
  },
  {
    file: '07-accept-connection.graphql',
    op: 'AcceptConnection',
    as: LAB,
    variables: (m) => ({ connectionId: m.connectionId }),
  },
  { file: '08-lab-connections.graphql', op: 'LabConnections', as: LAB },
  {
    file: '09-create-webhook-endpoint.graphql',
    op: 'CreateWebhookEndpoint',
    as: PRACTICE,
    variables: (_m, ctx) => ({ url: `${ctx.origin}/dev/webhook-sink` }),
    gives: ['endpointId'],
    remember: (d) => ({ endpointId: d.createWebhookEndpoint.webhookEndpoint.id }),
  },
  {
    file: '10-browse-supplier-catalog.graphql',
    op: 'BrowseSupplierCatalog',
    as: PRACTICE,
    variables: (m) => ({ supplierId: m.supplierId }),
    gives: ['itemId'],
    remember: (d) => {
      const first = nodes(d.supplierCatalog)[0];
      return { itemId: first && first.id };
    },
  },
  {
    file: '11-add-catalog-item.graphql',
    op: 'AddCatalogItem',
    as: SUPPLIER,
    variables: (m) => ({ sku: `NW-MONTHLY-M300-6-${fresh(m, 'AddCatalogItem').toUpperCase()}` }),
  },
  { file: '12-my-catalog.graphql', op: 'MyCatalog', as: SUPPLIER },
  {
    file: '13-add-patient.graphql',
    op: 'AddPatient',
    as: PRACTICE,
    gives: ['patientId'],
    remember: (d) => ({ patientId: d.createPatient.patient.id }),
  },
  {
    file: '14-add-prescription.graphql',
    op: 'AddPrescription',
    as: PRACTICE,
    variables: (m) => ({ patientId: m.patientId }),
    gives: ['prescriptionId'],
    remember: (d) => ({ prescriptionId: d.createPrescription.prescription.id }),
  },
  {
    file: '15-patient-record.graphql',
    op: 'PatientRecord',
    as: PRACTICE,
    variables: (m) => ({ patientId: m.patientId }),
  },
  {
    file: '16-draft-order.graphql',
    op: 'DraftOrder',
    as: PRACTICE,
    variables: (m) => ({ patientId: m.patientId, prescriptionId: m.prescriptionId }),
    gives: ['orderId', 'orderVersion'],
    remember: (d) => ({
      orderId: d.createOrderDraft.order.id,
      orderVersion: d.createOrderDraft.order.version,
    }),
  },
  {
    file: '17-complete-draft.graphql',
    op: 'CompleteDraft',
    as: PRACTICE,
    variables: (m) => ({
      orderId: m.orderId,
      version: m.orderVersion,
      patientId: m.patientId,
      prescriptionId: m.prescriptionId,
    }),
    remember: (d) => ({ orderVersion: d.updateOrderDraft.order.version }),
  },
  {
    file: '18-submit-order.graphql',
    op: 'SubmitOrder',
    as: PRACTICE,
    variables: (m) => ({ orderId: m.orderId, labId: m.labId }),
    remember: (d) => ({ orderVersion: d.submitOrder.order.version }),
  },
  {
    file: '19-watch-order.graphql',
    op: 'WatchOrder',
    as: PRACTICE,
    variables: (m) => ({ orderId: m.orderId }),
    remember: (d) => ({ orderVersion: d.orderUpdated.version }),
  },
  { file: '20-set-turnaround.graphql', op: 'SetTurnaround', as: LAB },
  {
    file: '21-lab-inbox.graphql',
    op: 'LabInbox',
    as: LAB,
    remember: (d, _v, m) => {
      const all = nodes(d.labOrders);
      const order = all.find((o) => o.id === m.orderId);
      return order ? { orderVersion: order.version } : {};
    },
  },
  {
    file: '22-accept-order.graphql',
    op: 'AcceptOrder',
    as: LAB,
    variables: (m) => ({ orderId: m.orderId, version: m.orderVersion }),
    remember: (d) => ({ orderVersion: d.moveOrder.order.version }),
  },
  {
    file: '23-order-dcs.graphql',
    op: 'OrderDcs',
    as: LAB,
    variables: (m) => ({ orderId: m.orderId }),
  },
  { file: '24-my-orders.graphql', op: 'MyOrders', as: PRACTICE },
  {
    file: '25-add-frame-product.graphql',
    op: 'AddFrameProduct',
    as: PRACTICE,
    variables: (m) => ({ sku: `BS-AVIATOR-52-${fresh(m, 'AddFrameProduct').toUpperCase()}` }),
    gives: ['productId', 'productSku'],
    remember: (d) => ({
      productId: d.createProduct.product.id,
      productSku: d.createProduct.product.sku,
    }),
  },
  {
    file: '26-receive-and-sell.graphql',
    op: 'ReceiveAndSell',
    as: PRACTICE,
    variables: (m) => ({ productId: m.productId }),
  },
  {
    file: '27-start-count.graphql',
    op: 'StartCount',
    as: PRACTICE,
    gives: ['countId'],
    remember: (d) => ({ countId: d.startStockCount.stockCount.id }),
  },
  {
    file: '28-record-count.graphql',
    op: 'RecordCount',
    as: PRACTICE,
    variables: (m) => ({ countId: m.countId, sku: m.productSku }),
  },
  {
    file: '29-post-count.graphql',
    op: 'PostCount',
    as: PRACTICE,
    variables: (m) => ({ countId: m.countId }),
  },
  {
    file: '30-stock-report.graphql',
    op: 'StockReport',
    as: PRACTICE,
    variables: (m) => ({ productId: m.productId }),
  },
  {
    file: '31-reorder-plan.graphql',
    op: 'ReorderPlan',
    as: PRACTICE,
    gives: ['busiestProductId'],
    remember: (d) => {
      const fastest = (d.reorderSuggestions || [])
        .slice()
        .sort((a, b) => b.meanDailyDemand - a.meanDailyDemand)[0];
      return fastest ? { busiestProductId: fastest.product.id } : {};
    },
  },
  { file: '32-reconcile-and-export.graphql', op: 'ReconcileAndExport', as: PRACTICE },
  {
    file: '33-draft-purchase-order.graphql',
    op: 'DraftPurchaseOrder',
    as: PRACTICE,
    variables: (m) => ({ supplierId: m.supplierId, itemId: m.itemId }),
    gives: ['poId', 'poVersion', 'poLineId'],
    remember: (d) => {
      const po = d.createPurchaseOrder.purchaseOrder;
      return { poId: po.id, poVersion: po.version, poLineId: po.lines[0] && po.lines[0].id };
    },
  },
  {
    file: '34-submit-purchase-order.graphql',
    op: 'SubmitPurchaseOrder',
    as: PRACTICE,
    variables: (m) => ({ poId: m.poId, version: m.poVersion }),
    remember: (d) => ({ poVersion: d.submitPurchaseOrder.purchaseOrder.version }),
  },
  {
    file: '35-purchase-order-inbox.graphql',
    op: 'PurchaseOrderInbox',
    as: SUPPLIER,
    remember: (d, _v, m) => {
      const po = nodes(d.supplierPurchaseOrders).find((p) => p.id === m.poId);
      return po ? { poVersion: po.version } : {};
    },
  },
  {
    file: '36-acknowledge-purchase-order.graphql',
    op: 'AcknowledgePurchaseOrder',
    as: SUPPLIER,
    variables: (m) => ({ poId: m.poId, version: m.poVersion }),
    remember: (d) => ({ poVersion: d.acknowledgePurchaseOrder.purchaseOrder.version }),
  },
  {
    file: '37-receive-purchase-order.graphql',
    op: 'ReceivePurchaseOrder',
    as: PRACTICE,
    variables: (m) => ({ poId: m.poId, version: m.poVersion, lineId: m.poLineId }),
    remember: (d) => ({ poVersion: d.receivePurchaseOrder.purchaseOrder.version }),
  },
  { file: '38-events.graphql', op: 'Events', as: PRACTICE, live: true },
  { file: '39-create-api-key.graphql', op: 'CreateApiKey', as: PRACTICE },
  {
    file: '40-webhook-deliveries.graphql',
    op: 'WebhookDeliveries',
    as: PRACTICE,
    gives: ['deliveryId'],
    remember: (d) => {
      const done = nodes(d.webhookDeliveries)
        .slice()
        .reverse()
        .find((x) => x.status === 'DELIVERED' || x.status === 'DEAD');
      return done ? { deliveryId: done.id } : {};
    },
  },
  {
    file: '41-redeliver-webhook.graphql',
    op: 'RedeliverWebhook',
    as: PRACTICE,
    variables: (m) => ({ deliveryId: m.deliveryId }),
  },
  { file: '42-jobs.graphql', op: 'Jobs', as: PRACTICE },
  { file: '43-audit-log.graphql', op: 'AuditLog', as: PRACTICE },
  { file: '44-companies.graphql', op: 'Companies', as: PLATFORM },
  {
    file: '45-ask-assistant.graphql',
    op: 'AskAssistant',
    as: PRACTICE,
    variables: () => ({ message: 'Which of my orders are late?' }),
  },
  {
    file: '46-demand-forecast.graphql',
    op: 'DemandForecast',
    as: PRACTICE,
    variables: (m) => ({ productId: m.busiestProductId }),
  },
  {
    file: '47-purchasing-agent.graphql',
    op: 'RunPurchasingAgent',
    as: PRACTICE,
    gives: ['pendingPoId', 'pendingPoVersion'],
    remember: (d) => {
      const draft = d.runPurchasingAgent.agentRun.drafts[0];
      return draft ? { pendingPoId: draft.id, pendingPoVersion: draft.version } : {};
    },
  },
  {
    file: '48-pending-approvals.graphql',
    op: 'PendingApprovals',
    as: PRACTICE,
    gives: ['pendingPoId', 'pendingPoVersion'],
    remember: (d) => {
      const draft = d.pendingApprovals[0];
      return draft ? { pendingPoId: draft.id, pendingPoVersion: draft.version } : {};
    },
  },
  {
    file: '49-approve-agent-draft.graphql',
    op: 'ApproveAgentDraft',
    as: PRACTICE,
    variables: (m) => ({ id: m.pendingPoId, version: m.pendingPoVersion }),
  },
  {
    file: '50-practice-dashboard.graphql',
    op: 'PracticeDashboard',
    as: PRACTICE,
    variables: () => ({ period: { from: daysAgo(90), to: daysAgo(0) }, granularity: 'WEEK' }),
  },
  {
    file: '51-lab-dashboard.graphql',
    op: 'LabDashboard',
    as: LAB,
    variables: () => ({ period: { from: daysAgo(90), to: daysAgo(0) }, granularity: 'MONTH' }),
  },
  {
    file: '52-export-dashboard-series.graphql',
    op: 'ExportDashboardSeries',
    as: PRACTICE,
    variables: () => ({
      input: { period: { from: daysAgo(30), to: daysAgo(0) }, granularity: 'DAY', key: 'orders' },
    }),
  },
  {
    file: '53-publish-insight-release.graphql',
    op: 'PublishInsightRelease',
    as: PLATFORM,
    variables: () => ({ month: lastMonth() }),
  },
  { file: '54-peer-benchmarks.graphql', op: 'PeerBenchmarks', as: PRACTICE },
  { file: '55-onboarding.graphql', op: 'Onboarding', as: PRACTICE },
  {
    file: '56-plans.graphql',
    op: 'Plans',
    as: PRACTICE,
    gives: ['practiceCompanyId'],
    remember: (d) => (d.me && d.me.company ? { practiceCompanyId: d.me.company.id } : {}),
  },
  {
    file: '57-usage.graphql',
    op: 'Usage',
    as: PRACTICE,
    variables: () => ({ period: { from: daysAgo(30), to: daysAgo(0) } }),
  },
  {
    file: '58-set-company-plan.graphql',
    op: 'SetCompanyPlan',
    as: PLATFORM,
    variables: (m) => ({ input: { companyId: m.practiceCompanyId, plan: 'FULL' } }),
  },
];

/** The step of an operation name, or undefined. */
export function stepOf(operationName) {
  return STEPS.find((s) => s.op === operationName);
}

/** The first step whose answer gives `key` (for "(run X first)"). */
export function sourceOf(key) {
  const step = STEPS.find((s) => s.gives && s.gives.includes(key));
  return step ? step.op : null;
}

export const PLACEHOLDER_PREFIX = '(run ';

/** A placeholder for a value an earlier tab gives. */
export function placeholderFor(key) {
  const source = sourceOf(key);
  return source ? `${PLACEHOLDER_PREFIX}${source} first)` : `${PLACEHOLDER_PREFIX}the tabs before first)`;
}

/**
 * The variables of a step from the memory; values not known yet as placeholders.
 * Returns null for a step without variables.
 */
export function variablesOf(step, memory, ctx) {
  if (!step.variables) return null;
  const raw = step.variables(memory, ctx);
  const out = {};
  for (const [key, value] of Object.entries(raw)) {
    out[key] = value === undefined || value === null ? placeholderFor(memoryKeyOf(step, key)) : value;
  }
  return out;
}

// The memory key behind a variable, for its placeholder (most share the name).
const VARIABLE_SOURCES = {
  version: { CompleteDraft: 'orderVersion', AcceptOrder: 'orderVersion' },
  sku: { RecordCount: 'productSku' },
  email: { LogIn: 'signedUpEmail' },
  password: { LogIn: 'signedUpPassword' },
};

function memoryKeyOf(step, variable) {
  const special = VARIABLE_SOURCES[variable] && VARIABLE_SOURCES[variable][step.op];
  if (special) return special;
  if (variable === 'version') return 'poVersion';
  return variable;
}

/** Whether a variable value is a placeholder (the tab cannot run as it stands). */
export function isPlaceholder(value) {
  return typeof value === 'string' && value.startsWith(PLACEHOLDER_PREFIX);
}
