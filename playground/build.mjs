// Bundles the playground into dist/: index.html, and in assets/ the page's JS and CSS,
// Monaco's web workers (one file each) and Monaco's codicon font. Everything the page
// loads comes from the ILS server. Run through build.sh (which runs `npm ci` first).
import { readFile, readdir, mkdir, rm, copyFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(root, 'dist');
const assets = path.join(dist, 'assets');

// GraphiQL's font CSS inlines every unicode subset (cyrillic, greek,
// vietnamese, ...) as base64 data: URLs. Keep only the latin subset; other
// characters fall back to the system sans-serif / monospace fonts.
const latinFontsOnly = {
  name: 'latin-fonts-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]@graphiql[\\/]react[\\/]font[\\/][^\\/]+\.css$/ }, async (args) => {
      const css = await readFile(args.path, 'utf8');
      const blocks = css.match(/@font-face\s*\{[^}]*\}/g) || [];
      const kept = blocks.filter((b) => /unicode-range:\s*U\+0000-00FF\b/i.test(b));
      if (kept.length === 0) throw new Error(`no latin @font-face found in ${args.path}`);
      return { contents: kept.join('\n'), loader: 'css' };
    });
  },
};

// `import operations from 'ils:operations'`: { '<file>.graphql': '<text>' } for every
// file in operations/ (src/tour.js says which file is which tab).
const operationsModule = {
  name: 'ils-operations',
  setup(build) {
    build.onResolve({ filter: /^ils:operations$/ }, () => ({ path: 'operations', namespace: 'ils' }));
    build.onLoad({ filter: /.*/, namespace: 'ils' }, async () => {
      const dir = path.join(root, 'operations');
      const files = (await readdir(dir)).filter((f) => f.endsWith('.graphql')).sort();
      const texts = {};
      for (const f of files) texts[f] = await readFile(path.join(dir, f), 'utf8');
      return {
        contents: `export default ${JSON.stringify(texts)};`,
        loader: 'js',
        watchFiles: files.map((f) => path.join(dir, f)),
        watchDirs: [dir],
      };
    });
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  charset: 'utf8',
  legalComments: 'eof',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

// The page. splitting is off: GraphiQL's dynamic import()s of Monaco are inlined.
await esbuild.build({
  ...common,
  entryPoints: ['src/main.jsx'],
  outfile: path.join(assets, 'graphiql.js'), // the imported CSS goes to graphiql.css beside it
  splitting: false,
  jsx: 'automatic',
  loader: { '.ttf': 'file' },
  assetNames: '[name]', // codicon.ttf, referenced from graphiql.css as ./codicon.ttf
  plugins: [latinFontsOnly, operationsModule],
});

// Monaco's workers, as src/workers.js names them.
const WORKERS = {
  'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
  'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
  'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
};
await esbuild.build({
  ...common,
  entryPoints: Object.fromEntries(Object.entries(WORKERS).map(([name, mod]) => [name, mod])),
  outdir: assets,
  entryNames: '[name]',
});

await copyFile(path.join(root, 'index.html'), path.join(dist, 'index.html'));

// Guard against anything that would load code, workers or styles from elsewhere.
const files = (await readdir(assets)).sort();
const read = (f) => readFile(path.join(assets, f), 'utf8');
const js = await read('graphiql.js');
const css = await read('graphiql.css');
const html = await readFile(path.join(dist, 'index.html'), 'utf8');
const problems = [];
const expected = ['codicon.ttf', 'graphiql.css', 'graphiql.js', ...Object.keys(WORKERS).map((w) => `${w}.js`)].sort();
if (JSON.stringify(files) !== JSON.stringify(expected)) {
  problems.push(`assets/ holds ${files.join(', ')}; expected ${expected.join(', ')}`);
}
for (const f of files.filter((name) => name.endsWith('.js'))) {
  const text = f === 'graphiql.js' ? js : await read(f);
  // Monaco's fallback worker factory (a blob: worker calling importScripts) stays in
  // graphiql.js but is never used: src/workers.js sets MonacoEnvironment.getWorker, and
  // the page's CSP allows no blob: workers. The workers themselves import nothing.
  if (f !== 'graphiql.js' && /importScripts\s*\(/.test(text)) problems.push(`${f} calls importScripts`);
  if (/importScripts\s*\(\s*['"`](https?:)?\/\//.test(text)) problems.push(`${f} imports a script from another host`);
  if (/esm\.sh|unpkg\.com|jsdelivr|cdnjs|fonts\.googleapis/.test(text)) problems.push(`${f} names a CDN`);
  if (/\?worker\b/.test(text)) problems.push(`${f} still has a bundler ?worker import`);
}
for (const w of Object.keys(WORKERS)) {
  if (!js.includes(`${w}.js`) && !(await readFile(path.join(root, 'src/workers.js'), 'utf8')).includes(`${w}.js`)) {
    problems.push(`nothing starts ${w}.js`);
  }
}
if (/@import/.test(css)) problems.push('graphiql.css still has an @import');
const cssUrls = [...css.matchAll(/url\(\s*['"]?([^'")]+)/g)].map((m) => m[1]).filter((u) => !u.startsWith('data:') && !u.startsWith('#'));
for (const u of cssUrls) {
  const local = u.replace(/^\.\//, '');
  if (/^[a-z]+:|^\/\//i.test(u) || !files.includes(local)) problems.push(`graphiql.css references ${u}, not a file beside it`);
}
if (!html.includes('<!--ILS_CONFIG-->')) problems.push('index.html lacks the <!--ILS_CONFIG--> placeholder');
if (/(src|href)=["'](https?:)?\/\//i.test(html)) problems.push('index.html loads something from another host');
if (problems.length) {
  console.error(`build check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

for (const f of ['index.html', ...files.map((name) => `assets/${name}`)]) {
  const { size } = await stat(path.join(dist, f));
  console.log(`dist/${f}  ${(size / 1024).toFixed(1)} KiB`);
}
