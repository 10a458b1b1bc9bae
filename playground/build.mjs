// Bundles the playground into dist/: one JS file, one CSS file, index.html.
// Run through build.sh (which runs `npm ci` first).
import { readFile, writeFile, mkdir, rm, copyFile, stat } from 'node:fs/promises';
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

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['src/main.jsx'],
  outfile: path.join(assets, 'graphiql.js'), // the imported CSS goes to graphiql.css beside it
  bundle: true,
  splitting: false, // dynamic import()s are inlined: one JS file
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: false,
  charset: 'utf8',
  legalComments: 'eof',
  jsx: 'automatic',
  loader: { '.graphql': 'text' },
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [latinFontsOnly],
  logLevel: 'warning',
});

await copyFile(path.join(root, 'index.html'), path.join(dist, 'index.html'));

// Guard against anything that would load code or styles from elsewhere.
const js = await readFile(path.join(assets, 'graphiql.js'), 'utf8');
const css = await readFile(path.join(assets, 'graphiql.css'), 'utf8');
const html = await readFile(path.join(dist, 'index.html'), 'utf8');
const problems = [];
if (/new\s+(Shared)?Worker\s*\(/.test(js)) problems.push('graphiql.js creates a web worker');
if (/importScripts\s*\(/.test(js)) problems.push('graphiql.js calls importScripts');
if (/@import/.test(css)) problems.push('graphiql.css still has an @import');
const cssUrls = [...css.matchAll(/url\(\s*['"]?([^'")]+)/g)].map((m) => m[1]).filter((u) => !u.startsWith('data:') && !u.startsWith('#'));
if (cssUrls.length) problems.push(`graphiql.css references external URLs: ${cssUrls.slice(0, 5).join(', ')}`);
if (!html.includes('<!--ILS_CONFIG-->')) problems.push('index.html lacks the <!--ILS_CONFIG--> placeholder');
if (/(src|href)=["'](https?:)?\/\//i.test(html)) problems.push('index.html loads something from another host');
if (problems.length) {
  console.error(`build check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

for (const f of ['index.html', 'assets/graphiql.js', 'assets/graphiql.css']) {
  const { size } = await stat(path.join(dist, f));
  console.log(`dist/${f}  ${(size / 1024).toFixed(1)} KiB`);
}
