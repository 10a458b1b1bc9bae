// Monaco (GraphiQL 5's editor) runs its language services in web workers. They are
// bundled by build.mjs as files of their own beside graphiql.js and served by the ILS
// server from /playground/assets/, like every other asset: nothing comes from a CDN.
const script = document.currentScript;
const ASSETS = script && script.src ? new URL('.', script.src).href : `${window.location.origin}/playground/assets/`;

const WORKERS = {
  graphql: 'graphql.worker.js',
  json: 'json.worker.js',
};

globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const file = WORKERS[label] || 'editor.worker.js';
    return new Worker(new URL(file, ASSETS), { name: label });
  },
};
