// ILS GraphQL playground: GraphiQL 5 (Monaco editor) bundled by esbuild with its web
// workers; nothing is loaded from outside the server. Above GraphiQL: one login for the
// whole page, and a line about the example tab in front (who runs it, where its
// variables come from).
import './workers.js';
import React, { useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQLProvider, useGraphiQL, useGraphiQLActions } from '@graphiql/react';
import { GraphiQL, GraphiQLInterface } from 'graphiql';
import { DOC_EXPLORER_PLUGIN, DocExplorerStore } from '@graphiql/plugin-doc-explorer';
import { HISTORY_PLUGIN, HistoryStore } from '@graphiql/plugin-history';
import operations from 'ils:operations';

import { STEPS, stepOf, variablesOf, isPlaceholder } from './tour.js';
import { session, memory, useSession, useMemory } from './state.js';
import { createFetcher, logIn, logOut, applyToken, runnerOf, switchNeeded } from './fetcher.js';

import './style.css';

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

const CONFIG = readConfig();
const DEMO_LOGINS = demoLoginsFrom(CONFIG);
const ENV = typeof CONFIG.env === 'string' ? CONFIG.env : '';
const CTX = {
  origin: window.location.origin,
  login: (email) => DEMO_LOGINS.find((l) => l.email === email),
};

// Stable references: GraphiQLProvider resets the visible plugin when these change.
const PLUGINS = [DOC_EXPLORER_PLUGIN, HISTORY_PLUGIN];

function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/**
 * GraphiQL keeps tabs in localStorage. The keys carry a hash of the examples, so a
 * playground with changed examples starts from its new example tabs; older versions'
 * keys are dropped.
 */
function versionedStorage(version) {
  const prefix = `ils-playground:${version}:`;
  let ls = null;
  try {
    ls = window.localStorage;
    for (const key of Object.keys(ls)) {
      if (key.startsWith('ils-playground:') && !key.startsWith(prefix)) ls.removeItem(key);
    }
  } catch {
    return null; // no localStorage: GraphiQL keeps nothing
  }
  const own = () => Object.keys(ls).filter((k) => k.startsWith(prefix));
  return {
    getItem: (key) => ls.getItem(prefix + key),
    setItem: (key, value) => ls.setItem(prefix + key, value),
    removeItem: (key) => ls.removeItem(prefix + key),
    get length() {
      return own().length;
    },
    clear() {
      for (const key of own()) ls.removeItem(key);
    },
  };
}

function variablesText(step, mem) {
  const vars = variablesOf(step, mem, CTX);
  return vars ? JSON.stringify(vars, null, 2) : undefined;
}

const DEFAULT_TABS = STEPS.map((step) => ({
  query: operations[step.file],
  variables: variablesText(step, memory.get()),
}));
const STORAGE = versionedStorage(hash(STEPS.map((s) => operations[s.file]).join('\n')));

function useActiveTab() {
  return useGraphiQL((s) => s.tabs[s.activeTabIndex]);
}

/** Who the page is logged in as, in words. */
function describeSession(s) {
  if (!s) return null;
  const who = s.apiKey ? `API key “${s.apiKey}”` : s.name ? `${s.name} <${s.email}>` : s.email || 'a pasted token';
  const where = s.company ? `${s.company}${s.companyType ? ` (${s.companyType})` : ''}` : s.platformAdmin ? 'platform admin' : '';
  return where ? `${who} · ${where}` : who;
}

function LoginBar() {
  const current = useSession();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);

  const act = async (work) => {
    setBusy(true);
    setProblem(null);
    try {
      await work();
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="ils-bar ils-login-bar" role="region" aria-label="Login">
      <span className="ils-brand">ILS playground{ENV ? ` · ${ENV}` : ''}</span>
      <span className="ils-who" data-testid="ils-who">
        {current ? (
          <>
            Logged in as <strong>{describeSession(current)}</strong>
            {current.problem ? <span className="ils-problem"> ({current.problem})</span> : null}
          </>
        ) : (
          'Not logged in'
        )}
      </span>
      {current ? (
        <button type="button" className="ils-button" disabled={busy} onClick={() => act(logOut)}>
          Log out
        </button>
      ) : null}
      {DEMO_LOGINS.length > 0 ? (
        <span className="ils-demo-logins" role="group" aria-label="Demo logins">
          <span className="ils-label">Log in as</span>
          {DEMO_LOGINS.map((login) => (
            <button
              key={login.email}
              type="button"
              className={`ils-button ils-demo-login${current && current.email === login.email ? ' ils-current' : ''}`}
              title={`${login.email} / ${login.password}`}
              disabled={busy}
              onClick={() => act(() => logIn(login.email, login.password, 'demo'))}
            >
              {login.label || login.email}
            </button>
          ))}
        </span>
      ) : null}
      <form
        className="ils-token-form"
        onSubmit={(e) => {
          e.preventDefault();
          const value = token;
          setToken('');
          act(() => applyToken(value));
        }}
      >
        <input
          className="ils-token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="or paste an access token"
          aria-label="Access token for every tab"
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
        <button type="submit" className="ils-button" disabled={busy || !token.trim()}>
          Use token
        </button>
      </form>
      {problem ? <span className="ils-problem" role="alert">{problem}</span> : null}
    </div>
  );
}

/** The line about the example in front: its place, who runs it, what it still needs. */
function StepBar() {
  const tab = useActiveTab();
  const activeTabIndex = useGraphiQL((s) => s.activeTabIndex);
  const tabCount = useGraphiQL((s) => s.tabs.length);
  const { changeTab } = useGraphiQLActions();
  useSession();
  useMemory();
  const [problem, setProblem] = useState(null);
  const step = tab ? stepOf(tab.title) : undefined;
  useEffect(() => setProblem(null), [tab && tab.id]);
  if (!step) {
    return (
      <div className="ils-bar ils-step-bar" data-testid="ils-step">
        <span>Your own tab: it runs as whoever is logged in.</span>
      </div>
    );
  }
  const runner = runnerOf(step, DEMO_LOGINS);
  const needsSwitch = switchNeeded(step, DEMO_LOGINS);
  const pasted = session.get() && session.get().source === 'token';
  const vars = variablesOf(step, memory.get(), CTX) || {};
  const missing = Object.values(vars).filter(isPlaceholder);
  return (
    <div className="ils-bar ils-step-bar" data-testid="ils-step">
      <span className="ils-step-no">
        Example {STEPS.indexOf(step) + 1} of {STEPS.length}
      </span>
      <span>
        {runner ? (
          <>
            Runs as <strong>{runner.label}</strong>
            {needsSwitch ? ': running it logs the page in as them first' : null}
            {!needsSwitch && pasted && runner.email && session.get().email !== runner.email
              ? ' (you use a pasted token: log in as them to run it as written)'
              : null}
          </>
        ) : (
          'Runs as whoever is logged in (or nobody)'
        )}
      </span>
      {runner && runner.email && (needsSwitch || pasted) && session.get()?.email !== runner.email ? (
        <button
          type="button"
          className="ils-button"
          onClick={() => logIn(runner.email, runner.password, 'demo').catch((e) => setProblem(e.message))}
        >
          Log in now
        </button>
      ) : null}
      {missing.length ? (
        <span className="ils-problem">Needs answers from earlier tabs: {missing.join(', ')}</span>
      ) : step.variables ? (
        <span className="ils-hint">Variables filled in by the page</span>
      ) : null}
      {step.live ? <span className="ils-hint">Waits for events: switching tabs stops it</span> : null}
      {problem ? <span className="ils-problem">{problem}</span> : null}
      <span className="ils-spacer" />
      <label
        className="ils-by-id"
        title="Send the tab as a persisted operation: its documentId (the SHA-256 of the tab's exact text) instead of the text. The examples are published as the operation list “playground” in development; an edited tab has an unknown ID (PERSISTED_QUERY_NOT_FOUND)."
      >
        <input
          type="checkbox"
          checked={!!memory.get().byId}
          onChange={(e) => memory.set({ ...memory.get(), byId: e.target.checked })}
        />{' '}
        Run by ID
      </label>
      <button
        type="button"
        className="ils-button"
        disabled={activeTabIndex === 0}
        onClick={() => changeTab(activeTabIndex - 1)}
      >
        ← Previous tab
      </button>
      <button
        type="button"
        className="ils-button"
        disabled={activeTabIndex >= tabCount - 1}
        onClick={() => changeTab(activeTabIndex + 1)}
      >
        Next tab →
      </button>
    </div>
  );
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Fills the Variables tab of the example in front from the answers so far, whenever the
 * tab comes to the front or a new answer arrives. A value the user typed over (this
 * page session) is left alone; a placeholder or the page's own earlier value is replaced.
 */
function VariablesSync() {
  const tab = useActiveTab();
  const variableEditor = useGraphiQL((s) => s.variableEditor);
  const mem = useMemory();
  const filled = useRef(new Map()); // tab id -> { variable: value the page put there }
  const tabId = tab ? tab.id : null;
  const title = tab ? tab.title : null;
  useEffect(() => {
    if (!variableEditor || !tabId) return;
    const step = stepOf(title);
    if (!step || !step.variables) return;
    const wanted = variablesOf(step, mem, CTX);
    const text = variableEditor.getValue();
    let current = {};
    if (text.trim()) {
      try {
        current = JSON.parse(text);
      } catch {
        return; // being edited: leave it
      }
      if (!current || typeof current !== 'object' || Array.isArray(current)) return;
    }
    const ours = filled.current.get(tabId);
    const next = { ...current };
    for (const [key, value] of Object.entries(wanted)) {
      const have = current[key];
      const replace =
        have === undefined ||
        isPlaceholder(have) ||
        (ours ? key in ours && same(have, ours[key]) : !isPlaceholder(value));
      if (replace) next[key] = value;
    }
    filled.current.set(tabId, { ...(ours || {}), ...Object.fromEntries(Object.keys(wanted).map((k) => [k, next[k]])) });
    if (!same(next, current) || !text.trim()) variableEditor.setValue(JSON.stringify(next, null, 2));
  }, [tabId, title, variableEditor, mem]);
  return null;
}

/**
 * Opens the example named in the address (`/playground?tab=PendingApprovals`, the link
 * in a mail) once, when the page loads.
 */
function TabFromAddress() {
  const tabs = useGraphiQL((s) => s.tabs);
  const { changeTab } = useGraphiQLActions();
  const done = useRef(false);
  useEffect(() => {
    if (done.current || !tabs.length) return;
    done.current = true;
    const wanted = new URLSearchParams(window.location.search).get('tab');
    const index = wanted ? tabs.findIndex((t) => t.title === wanted) : -1;
    if (index >= 0) changeTab(index);
  }, [tabs, changeTab]);
  return null;
}

function App() {
  const fetcher = React.useMemo(() => createFetcher(DEMO_LOGINS), []);
  return (
    <GraphiQLProvider
      fetcher={fetcher}
      defaultTabs={DEFAULT_TABS}
      defaultHeaders=""
      shouldPersistHeaders={false}
      plugins={PLUGINS}
      referencePlugin={DOC_EXPLORER_PLUGIN}
      visiblePlugin={DOC_EXPLORER_PLUGIN}
      storage={STORAGE}
    >
      <HistoryStore>
        <DocExplorerStore>
          <div className="ils-playground">
            <LoginBar />
            <StepBar />
            <VariablesSync />
            <TabFromAddress />
            <div className="ils-graphiql">
              <GraphiQLInterface
                defaultEditorToolsVisibility="variables"
                isHeadersEditorEnabled
                showPersistHeadersSettings={false}
              >
                <GraphiQL.Logo>ILS</GraphiQL.Logo>
              </GraphiQLInterface>
            </div>
          </div>
        </DocExplorerStore>
      </HistoryStore>
    </GraphiQLProvider>
  );
}

createRoot(document.getElementById('graphiql')).render(<App />);
