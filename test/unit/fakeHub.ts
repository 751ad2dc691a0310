/**
 * A Hugging Face hub on 127.0.0.1 for tests: the URLs and headers @huggingface/hub and the hub's own
 * clients use (huggingface_hub's file_download.py), serving repos the test gives as bytes.
 *
 *   GET /api/models/{repo}/revision/{rev}   {_id, id, sha, private, gated, …}; 404 {"error": "Repository
 *                                           not found"} / {"error": "Invalid rev id: …"}
 *   GET /api/models/{repo}/tree/{rev}       [{type, oid, size, path, lfs?: {oid, size, pointerSize}}]
 *   GET /{repo}/resolve/{rev}/{file}        the bytes; ETag (git oid) and X-Linked-Etag (LFS sha256),
 *                                           X-Repo-Commit, Content-Length, Accept-Ranges, Range → 206
 *
 *   const hub = await startFakeHub({ 'org/m': { files: { 'config.json': buf, … } } });
 *   await downloadModel({ repo: 'org/m', endpoint: hub.url, cacheDir });
 *   hub.requests                              // every request, for asserting what was asked
 *   await hub.close();
 *
 * Files ending in .safetensors, .bin or .pt are LFS files (sha256 oid), the rest kept in git (sha1 oid).
 * `cutAfter` ends the connection after so many bytes of a file (once per count); `serve` replaces a
 * file's bytes on the wire while the tree keeps the true hash; `gated` repos need `Bearer <token>` for
 * resolve (their info and tree stay public, as on the hub); `noRanges` repos answer every Range with 200;
 * `stallAfter` sends part of a file and waits, for a client to abort.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  files: Record<string, Buffer>;
  /** Default: a sha1 of the repo name. */
  sha?: string;
  /** The token resolve requires (401 GatedRepo without it, 403 with another). */
  gated?: string;
  /** Bytes served in place of a file's own (the tree still lists the true hash and size). */
  serve?: Record<string, Buffer>;
  /** Send this many bytes of the file and then nothing more (until the client goes), once. */
  stallAfter?: Record<string, number>;
  /** Ignore Range headers and always send the whole file (200), as some proxies do. */
  noRanges?: boolean;
  /** Cut the connection after this many bytes of the file, for the next `times` requests (default 1). */
  cutAfter?: Record<string, { bytes: number; times?: number }>;
}

export interface FakeRequest {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
  status: number;
  /** Bytes of a file's body written before the response ended or was cut. */
  sent: number;
}

export interface FakeHub {
  url: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

const isLfs = (p: string) => /\.(safetensors|bin|pt)$/.test(p);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export function repoSha(name: string, repo: FakeRepo): string {
  return repo.sha ?? createHash('sha1').update(name).digest('hex');
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const requests: FakeRequest[] = [];
  const server = http.createServer((req, res) => {
    const rec: FakeRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
      status: 0,
      sent: 0,
    };
    requests.push(rec);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      rec.status = status;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const u = new URL(req.url ?? '/', 'http://x');
    const parts = u.pathname.split('/').slice(1).map(decodeURIComponent);
    const api = parts[0] === 'api' && parts[1] === 'models';
    const [org, name, kind, rev, ...rest] = api ? parts.slice(2) : parts;
    const id = `${org}/${name}`;
    const repo = repos[id];
    if (!repo) return json(404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
    const sha = repoSha(id, repo);
    if (rev !== 'main' && rev !== sha)
      return json(404, { error: `Invalid rev id: ${rev}` }, { 'X-Error-Code': 'RevisionNotFound' });
    if (api && kind === 'revision')
      return json(200, {
        _id: sha.slice(0, 24),
        id,
        sha,
        private: false,
        gated: repo.gated ? 'manual' : false,
        downloads: 0,
        likes: 0,
        lastModified: '2026-01-01T00:00:00.000Z',
        pipeline_tag: 'text-generation',
      });
    if (api && kind === 'tree')
      return json(
        200,
        Object.entries(repo.files).map(([p, b]) => ({
          type: 'file',
          oid: gitOid(isLfs(p) ? Buffer.from(`lfs pointer ${sha256(b)}`) : b),
          size: b.length,
          path: p,
          ...(isLfs(p) ? { lfs: { oid: sha256(b), size: b.length, pointerSize: 134 } } : {}),
        })),
      );
    if (api || kind !== 'resolve') return json(404, { error: 'Not found' });
    const file = rest.join('/');
    const bytes = repo.files[file];
    if (!bytes) return json(404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    if (repo.gated && req.headers.authorization !== `Bearer ${repo.gated}`) {
      const code = req.headers.authorization ? 403 : 401;
      return json(code, { error: `Access to model ${id} is restricted.` }, { 'X-Error-Code': 'GatedRepo' });
    }
    const body = repo.serve?.[file] ?? bytes;
    const headers: Record<string, string> = {
      ETag: `"${gitOid(body)}"`,
      'X-Repo-Commit': sha,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
    };
    if (isLfs(file)) headers['X-Linked-Etag'] = `"${sha256(bytes)}"`;
    let start = 0;
    let end = body.length - 1;
    const m = repo.noRanges ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      if (m[2]) end = Math.min(end, Number(m[2]));
      if (start >= body.length) {
        rec.status = 416;
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
        return res.end();
      }
      headers['Content-Range'] = `bytes ${start}-${end}/${body.length}`;
    }
    rec.status = m ? 206 : 200;
    res.writeHead(rec.status, { ...headers, 'Content-Length': String(end - start + 1) });
    if (req.method === 'HEAD') return res.end();
    const stall = repo.stallAfter?.[file];
    if (stall !== undefined) {
      delete repo.stallAfter![file];
      rec.sent = Math.max(0, stall - start);
      res.write(body.subarray(start, start + rec.sent));
      return;
    }
    const cut = repo.cutAfter?.[file];
    if (cut && (cut.times ?? 1) > 0) {
      cut.times = (cut.times ?? 1) - 1;
      const n = Math.max(0, cut.bytes - start);
      rec.sent = n;
      res.write(body.subarray(start, start + n), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    rec.sent = end - start + 1;
    res.end(body.subarray(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
