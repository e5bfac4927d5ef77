// For working on the console without rebuilding the server: serves console/app/ from disk under
// /console/ and passes everything else (the API, the live stream) to a running server.
//   node console/tools/dev-proxy.mjs http://127.0.0.1:8080 [port]
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const upstream = new URL(process.argv[2] || 'http://127.0.0.1:8080');
const port = Number(process.argv[3] || 8081);
const root = fileURLToPath(new URL('../app/', import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json' };

http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/') {
    res.writeHead(303, { location: '/console/' }).end();
    return;
  }
  if (url.pathname.startsWith('/console/')) {
    const rel = normalize(url.pathname.slice('/console/'.length) || 'index.html');
    if (rel.startsWith('..')) return res.writeHead(404).end();
    try {
      const body = await readFile(join(root, rel));
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] || 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404).end('not found\n');
    }
    return;
  }
  const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.writeHead(502).end());
  req.pipe(up);
}).listen(port, '127.0.0.1', () => console.log(`console dev proxy: http://127.0.0.1:${port}/console/ -> ${upstream.href}`));
