// Two small stores the whole page shares, kept in sessionStorage (this browser tab only,
// gone when it closes; never in localStorage):
//   session  who is logged in: the one token every tab and the WebSocket use
//   memory   values earlier answers gave (ids, versions), for the next tabs' variables
import { useSyncExternalStore } from 'react';

function createStore(key, initial) {
  let state = initial;
  try {
    const stored = window.sessionStorage.getItem(key);
    if (stored) state = { ...initial, ...JSON.parse(stored) };
  } catch {
    /* unreadable or unavailable storage: start empty */
  }
  const listeners = new Set();
  return {
    get: () => state,
    set(next) {
      state = next;
      try {
        if (next === null) window.sessionStorage.removeItem(key);
        else window.sessionStorage.setItem(key, JSON.stringify(next));
      } catch {
        /* storage full or unavailable: keep it in memory only */
      }
      for (const listener of listeners) listener();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * The session: null, or
 * { token, refreshToken?, expiresAt? (ms), source: 'demo' | 'login' | 'token',
 *   email?, name?, company?, companyType?, platformAdmin?, apiKey?, problem? }
 * 'demo' and 'login' sessions may be switched automatically by a tab that runs as
 * someone else; a pasted token ('token') never is.
 */
export const session = createStore('ils-playground:session', null);

function randomTag() {
  const bytes = new Uint8Array(3);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => (b % 36).toString(36)).join('');
}

/** The memory: { tag, runs: {op: successful runs}, ...values from answers }. */
export const memory = createStore('ils-playground:memory', { tag: randomTag(), runs: {} });

export function remember(op, values) {
  const current = memory.get();
  const runs = { ...(current.runs || {}) };
  if (op) runs[op] = (runs[op] || 0) + 1;
  const next = { ...current, runs };
  for (const [key, value] of Object.entries(values || {})) {
    if (value !== undefined && value !== null) next[key] = value;
  }
  memory.set(next);
}

export function useSession() {
  return useSyncExternalStore(session.subscribe, session.get);
}

export function useMemory() {
  return useSyncExternalStore(memory.subscribe, memory.get);
}
