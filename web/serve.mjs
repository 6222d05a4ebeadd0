// Serves the built mini app (dist/) on the loopback for local development and the browser tests,
// with the headers the production static hosting must send too: framing allowed for VK only, no
// referrer, gzip. Stops by itself when the process that started it (--parent <pid>) is gone.
//
//   node serve.mjs [--dir dist] [--port 5173] [--parent <pid>]
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
};
const port = Number(option('--port', '5173'));
const parent = Number(option('--parent', '0'));
const root = resolve(new URL('.', import.meta.url).pathname, option('--dir', 'dist'));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};
const FRAME_ANCESTORS = "frame-ancestors 'self' https://vk.com https://*.vk.com https://vk.ru https://*.vk.ru";

createServer(async (request, response) => {
  try {
    const path = decodeURIComponent(new URL(request.url, 'http://local').pathname);
    let file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root)) throw new Error('outside');
    if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    let body = await readFile(file);
    const headers = {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
      // The Facebook tab's HTML (another origin) loads the entry script as a module: CORS.
      'Access-Control-Allow-Origin': '*',
      Vary: 'Accept-Encoding',
    };
    if (extname(file) === '.html') headers['Content-Security-Policy'] = FRAME_ANCESTORS;
    if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
      body = gzipSync(body, { level: 9 });
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = body.length;
    response.writeHead(200, headers);
    response.end(request.method === 'HEAD' ? undefined : body);
  } catch {
    response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end('not found');
  }
}).listen(port, '127.0.0.1', () => console.log(`mini app on http://127.0.0.1:${port}/`));

if (parent > 0) {
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 1000).unref();
}
