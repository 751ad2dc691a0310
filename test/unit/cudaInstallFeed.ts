/**
 * A NuGet v3 feed on 127.0.0.1 for Install CUDA Support tests, with NuGet's URLs as api.nuget.org serves
 * them for one version of Microsoft.ML.OnnxRuntime.Gpu.Linux, and a .nupkg built here as a zip:
 *
 *   GET /v3/index.json                                     service index (PackageBaseAddress/3.0.0,
 *                                                          RegistrationsBaseUrl/3.6.0)
 *   GET /v3/registration5-gz-semver2/{id}/{version}.json   registration leaf → catalogEntry URL
 *   GET /v3/catalog0/data/…/{id}.{version}.json            packageHash (SHA512, base64), packageSize
 *   GET /v3-flatcontainer/{id}/{version}/{id}.{version}.nupkg   the bytes; Range → 206
 *
 *   const feed = await startFeed(makeZip(fakeLibs()), { cutAfter: 100_000 });
 *   await resolveCudaPackage({ feed: feed.url });  feed.requests;  await feed.close();
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';

const CUDA_PACKAGE = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
const ID = CUDA_PACKAGE.toLowerCase();
const ORT_VERSION = (
  JSON.parse(fs.readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string }
).version;

/** A zip (deflate) of these entries: local headers, data, central directory, end record (APPNOTE 4.3). */
export function makeZip(files: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const packed = zlib.deflateRawSync(data);
    const crc = zlib.crc32(data);
    const fname = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fname.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(packed.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(fname.length, 28);
    cd.writeUInt32LE(offset, 42);
    locals.push(local, fname, packed);
    central.push(cd, fname);
    offset += 30 + fname.length + packed.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBytes, end]);
}

/** Fake provider libraries at the package's paths, plus files that must not be installed. */
export function fakeLibs(): Record<string, Buffer> {
  return {
    'runtimes/linux-x64/native/libonnxruntime_providers_cuda.so': randomBytes(300_000),
    'runtimes/linux-x64/native/libonnxruntime_providers_shared.so': randomBytes(9_000),
    'runtimes/linux-x64/native/libonnxruntime_providers_tensorrt.so': randomBytes(20_000),
    'runtimes/linux-x64/native/libonnxruntime.so': randomBytes(5_000),
    [`${CUDA_PACKAGE}.nuspec`]: Buffer.from('<package/>'),
  };
}

export interface FeedRequest {
  url: string;
  range?: string;
  status: number;
}

export interface FakeFeed {
  url: string;
  requests: FeedRequest[];
  close(): Promise<void>;
}

export interface FeedOptions {
  version?: string;
  /** What the catalog lists (default: the served bytes' own hash and size). */
  listed?: Buffer;
  /** Cut the connection after this many bytes, on the first .nupkg request. */
  cutAfter?: number;
  /** Send this many bytes and then wait (for a cancel), on the first .nupkg request. */
  stallAfter?: number;
}

/** NuGet's v3 URLs as api.nuget.org serves them, for one package version. */
export async function startFeed(nupkg: Buffer, o: FeedOptions = {}): Promise<FakeFeed> {
  const version = o.version ?? ORT_VERSION;
  const listed = o.listed ?? nupkg;
  const requests: FeedRequest[] = [];
  let nupkgRequests = 0;
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r: FeedRequest = { url, range: req.headers.range, status: 200 };
    requests.push(r);
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url === '/v3/index.json')
      return json({
        version: '3.0.0',
        resources: [
          { '@id': `${base}/v3-flatcontainer/`, '@type': 'PackageBaseAddress/3.0.0' },
          { '@id': `${base}/v3/registration5-gz-semver2/`, '@type': 'RegistrationsBaseUrl/3.6.0' },
        ],
      });
    if (url === `/v3/registration5-gz-semver2/${ID}/${version}.json`)
      return json({
        '@id': `${base}${url}`,
        catalogEntry: `${base}/v3/catalog0/data/2026.01.01.00.00.00/${ID}.${version}.json`,
        packageContent: `${base}/v3-flatcontainer/${ID}/${version}/${ID}.${version}.nupkg`,
      });
    if (url === `/v3/catalog0/data/2026.01.01.00.00.00/${ID}.${version}.json`)
      return json({
        id: CUDA_PACKAGE,
        version,
        packageHash: createHash('sha512').update(listed).digest('base64'),
        packageHashAlgorithm: 'SHA512',
        packageSize: listed.length,
      });
    if (url === `/v3-flatcontainer/${ID}/${version}/${ID}.${version}.nupkg`) {
      const first = nupkgRequests++ === 0;
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const body = nupkg.subarray(start);
      r.status = m ? 206 : 200;
      res.writeHead(r.status, {
        'content-length': body.length,
        'accept-ranges': 'bytes',
        ...(m ? { 'content-range': `bytes ${start}-${nupkg.length - 1}/${nupkg.length}` } : {}),
      });
      if (first && o.cutAfter !== undefined) {
        res.write(body.subarray(0, o.cutAfter), () => res.socket?.destroy());
        return;
      }
      if (first && o.stallAfter !== undefined) {
        res.write(body.subarray(0, o.stallAfter)); // and nothing more until the client goes
        return;
      }
      res.end(body);
      return;
    }
    r.status = 404;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/index.json`;
  return {
    url,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
