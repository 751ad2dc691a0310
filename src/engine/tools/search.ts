/**
 * The offline "web search" tool: a full-text index (minisearch, BM25) over passages of a folder of
 * documents, or of documents given in memory; a call's input is the query, its output the top passages
 * with their source, short enough to paste into a small model's context.
 *
 *   const search = createSearchTool({ dir: workspaceFolder });
 *   await search.run('Marta Haldeido', { timeoutMs: 2000 });
 *   // { ok: true, ms: 4, output:
 *   //   'people/marta-haldeido.md:1: # Marta Haldeido The chemist Marta Haldeido came from Quenesk. …\n…' }
 *   await search.run('zebra', { timeoutMs: 2000 });   // { ok: true, output: 'no results for "zebra"' }
 *   createSearchTool({ documents: [{ title: 'Quenesk', text: 'Quenesk is a town …' }] });
 *
 * What a folder contributes: files whose extension or name is in TEXT_EXTENSIONS /
 * TEXT_NAMES (prose, data and source code), at most `maxFileBytes` (256 KiB) each, valid UTF-8 with no
 * NUL byte; never folders named in SKIP_DIRS or starting with '.' (.git, .vscode, .venv), never
 * symbolic links (no loops, nothing outside the folder). At most `maxTotalBytes` (32 MiB) of text in
 * all: past it the search answers an error naming the folder.
 *
 * Passages: paragraphs (split at blank lines); a paragraph shorter than 80 characters (a heading, a
 * one-line comment) joins the next one, and one longer than `maxPassageChars` (500) is cut at line
 * ends, or inside a line that is longer still. Each passage keeps its file and first line (1-based).
 * Terms: minisearch's words, lowercased, English stop words dropped, camelCase words also indexed by
 * their parts (`createSearchTool` → create, search, tool); query terms of 4+ letters match as prefixes,
 * of 6+ with one edit in five, both ranked below exact matches. The file's path (or the document's
 * title) is indexed as well, at twice the weight of the text.
 *
 * Output: the `topK` (3) best passages, one per line as `file:line: text` with whitespace collapsed, in
 * rank order, the best whole and the rest cut ("...") or left out to keep the output within
 * `maxOutputChars` (1000) characters; no hit gives `no results for "query"` (ok: true: the model
 * learns that the answer is not there). An empty query is an error result.
 *
 * The index is built on the first search, not before. Every search of a folder first walks it again
 * (a `stat` per file) and re-reads only files whose mtime or size changed, drops deleted ones, adds new
 * ones; `reindex()` throws the index away so that the next search builds it afresh. Building stops at
 * the call's time limit with an error result; what was indexed by then is kept and the next search goes
 * on from there. An abort rejects with the signal's reason, keeping the same.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import MiniSearch from 'minisearch';
import { toolError, type Tool, type ToolResult, type ToolRunOptions } from './tool';

export interface SearchDocument {
  /** Where the passages come from, shown as the source (`title:line`); also indexed. */
  title: string;
  text: string;
}

export interface SearchOptions {
  /** Passages in the output (default 3). */
  topK?: number;
  /** The output's length limit in characters (default 1000). */
  maxOutputChars?: number;
  /** A passage's length limit in characters (default 500). */
  maxPassageChars?: number;
  /** Larger files are skipped (default 256 KiB). */
  maxFileBytes?: number;
  /** More text than this in a folder is an error (default 32 MiB). */
  maxTotalBytes?: number;
}

export type SearchSource = { dir: string } | { documents: readonly SearchDocument[] };

/** One passage found, best first. */
export interface SearchHit {
  /** Path relative to the folder with '/' separators, or the document's title. */
  file: string;
  /** First line of the passage, 1-based. */
  line: number;
  text: string;
  score: number;
}

export interface SearchTool extends Tool {
  name: 'search';
  /** The passages for a query, best first (up to topK), building or updating the index first. */
  search(query: string, o: ToolRunOptions): Promise<SearchHit[]>;
  /** Forgets the index; the next search builds it from scratch. */
  reindex(): void;
  /** Files and passages now in the index. */
  stats(): { files: number; passages: number };
}

export const TEXT_EXTENSIONS: ReadonlySet<string> = new Set(
  (
    'md markdown mdx txt text rst adoc org tex csv tsv json jsonc jsonl yaml yml toml ini cfg conf xml ' +
    'html htm css scss less js mjs cjs jsx ts mts cts tsx py pyi ipynb rs go java kt kts scala c h cc cpp ' +
    'cxx hpp hh cs fs rb php pl lua r jl swift m mm dart sh bash zsh fish ps1 bat sql graphql proto vue ' +
    'svelte astro el clj ex exs erl hs ml mli nim zig sol tf'
  )
    .split(' ')
    .map((e) => '.' + e),
);
export const TEXT_NAMES: ReadonlySet<string> = new Set([
  'README',
  'LICENSE',
  'COPYING',
  'NOTICE',
  'AUTHORS',
  'CHANGELOG',
  'Makefile',
  'Dockerfile',
  'Gemfile',
  'Rakefile',
  'Procfile',
]);
export const SKIP_DIRS: ReadonlySet<string> = new Set([
  'node_modules',
  '__pycache__',
  'venv',
  'site-packages',
  'bower_components',
]);

const DEFAULTS: Required<SearchOptions> = {
  topK: 3,
  maxOutputChars: 1000,
  maxPassageChars: 500,
  maxFileBytes: 256 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
};
/** A paragraph shorter than this joins the next one. */
const MIN_PASSAGE_CHARS = 80;
/** Files whose stat runs at once. */
const STAT_BATCH = 64;
/** A passage cut to fewer characters than this is left out of the output instead. */
const MIN_SHOWN_CHARS = 60;

/** Whether a folder's file is indexed, judged by its name (its content is checked after reading). */
export function isTextFileName(name: string): boolean {
  return TEXT_EXTENSIONS.has(extname(name).toLowerCase()) || TEXT_NAMES.has(name.replace(/\.[^.]*$/, ''));
}

// ---- passages ---------------------------------------------------------------------------------

export interface Passage {
  line: number;
  text: string;
}

/** A text's passages (see the header): paragraphs, short ones joined, long ones cut. */
export function splitPassages(text: string, maxChars = DEFAULTS.maxPassageChars): Passage[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const paragraphs: { line: number; lines: string[] }[] = [];
  let cur: { line: number; lines: string[] } | undefined;
  lines.forEach((l, i) => {
    if (!l.trim()) cur = undefined;
    else if (cur) cur.lines.push(l);
    else paragraphs.push((cur = { line: i + 1, lines: [l] }));
  });
  const out: Passage[] = [];
  let pending: Passage | undefined;
  for (const p of paragraphs) {
    for (const piece of cutParagraph(p.line, p.lines, maxChars)) {
      if (pending && pending.text.length + 1 + piece.text.length <= maxChars) {
        pending = { line: pending.line, text: pending.text + '\n' + piece.text };
      } else {
        if (pending) out.push(pending);
        pending = piece;
      }
      if (pending.text.length >= MIN_PASSAGE_CHARS) {
        out.push(pending);
        pending = undefined;
      }
    }
  }
  if (pending) out.push(pending);
  return out;
}

/** A paragraph's lines as pieces of at most maxChars, cut at line ends or inside an overlong line. */
function cutParagraph(first: number, lines: string[], maxChars: number): Passage[] {
  const out: Passage[] = [];
  let cur: Passage | undefined;
  lines.forEach((l, i) => {
    for (let at = 0; at < l.length; at += maxChars) {
      const part = l.slice(at, at + maxChars);
      if (cur && at === 0 && cur.text.length + 1 + part.length <= maxChars) cur.text += '\n' + part;
      else out.push((cur = { line: first + i, text: part }));
    }
  });
  return out;
}

// ---- terms ------------------------------------------------------------------------------------

const STOP_WORDS = new Set(
  (
    'a an and are as at be but by did do does for from had has have he her his how i if in into is it its ' +
    'me my of on or our she so than that the their them then there these they this to was we were what ' +
    'when where which who whom why will with you your'
  ).split(' '),
);

/** A word's index terms: lowercased, none for a stop word, camelCase parts too. */
export function processTerm(term: string): string[] | null {
  const lower = term.toLowerCase();
  if (STOP_WORDS.has(lower)) return null;
  const parts = term.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+/g) ?? [];
  if (parts.length < 2) return [lower];
  return [lower, ...parts.map((p) => p.toLowerCase()).filter((p) => !STOP_WORDS.has(p))];
}

// ---- the index --------------------------------------------------------------------------------

interface IndexedPassage {
  id: number;
  file: string;
  line: number;
  text: string;
}

interface FileEntry {
  mtimeMs: number;
  size: number;
  /** Bytes of text indexed: 0 for a binary. */
  bytes: number;
  ids: number[];
}

/** Stops building at the deadline (an error result) or on abort (rejects with the reason). */
class Stop extends Error {}

function newIndex(): MiniSearch<IndexedPassage> {
  return new MiniSearch<IndexedPassage>({
    fields: ['file', 'text'],
    storeFields: ['file', 'line', 'text'],
    processTerm,
    searchOptions: {
      boost: { file: 2 },
      prefix: (t) => t.length >= 4,
      fuzzy: (t) => (t.length >= 6 ? 0.2 : false),
      maxFuzzy: 2,
    },
  });
}

/** The search tool over a folder or a list of documents (see the file's header). */
export function createSearchTool(source: SearchSource, options: SearchOptions = {}): SearchTool {
  const o = { ...DEFAULTS, ...options };
  for (const [k, v] of Object.entries(o))
    if (!Number.isInteger(v) || v < 1)
      throw new Error(`search tool option ${k} must be a positive integer, got ${String(v)}`);
  if (o.maxOutputChars < 100)
    throw new Error(`search tool option maxOutputChars must be at least 100, got ${o.maxOutputChars}`);
  let index = newIndex();
  let files = new Map<string, FileEntry>();
  let totalBytes = 0;
  let nextId = 0;
  let built = false;
  /** Updates run one at a time: a second search waits for the first one's. */
  let queue: Promise<unknown> = Promise.resolve();

  const addPassages = (file: string, text: string): number[] => {
    const docs = splitPassages(text, o.maxPassageChars).map((p) => ({ id: nextId++, file, ...p }));
    index.addAll(docs);
    return docs.map((d) => d.id);
  };

  const check = (deadline: number, signal: AbortSignal | undefined, what: () => string) => {
    if (signal?.aborted) throw signal.reason;
    if (performance.now() > deadline) throw new Stop(what());
  };

  const updateDocuments = (docs: readonly SearchDocument[]) => {
    if (built) return;
    docs.forEach((d, i) => {
      if (typeof d?.title !== 'string' || typeof d.text !== 'string')
        throw new Error(`search documents[${i}] needs a string title and text`);
      addPassages(d.title, d.text);
    });
    built = true;
  };

  /** Walks the folder, (re)indexing changed files; throws Stop past the deadline. */
  const updateFolder = async (dir: string, deadline: number, signal?: AbortSignal) => {
    const seen = new Set<string>();
    let visited = 0;
    const stopped = () =>
      `indexing the search folder ${dir} took longer than the limit (${files.size} files indexed ` +
      `so far, ${visited} looked at); search again to go on, or pick a smaller folder`;
    const walk = async (abs: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(abs, { withFileTypes: true });
      } catch (e) {
        if (abs === dir) throw new Stop(`cannot read the search folder ${dir}: ${(e as Error).message}`);
        return; // a folder deleted or unreadable under the walk: skipped
      }
      entries.sort((a, b) => Number(a.name > b.name) - Number(a.name < b.name));
      const texts = entries.filter((e) => e.isFile() && isTextFileName(e.name));
      for (let i = 0; i < texts.length; i += STAT_BATCH) {
        check(deadline, signal, stopped);
        const batch = texts.slice(i, i + STAT_BATCH).map((e) => join(abs, e.name));
        const stats = await Promise.all(batch.map((p) => lstat(p).catch(() => undefined)));
        for (const [k, path] of batch.entries()) {
          check(deadline, signal, stopped);
          visited++;
          await updateFile(path, relative(dir, path).split(sep).join('/'), stats[k], seen);
        }
      }
      for (const e of entries)
        if (e.isDirectory() && !e.name.startsWith('.') && !SKIP_DIRS.has(e.name)) {
          check(deadline, signal, stopped);
          await walk(join(abs, e.name));
        }
    };
    await walk(dir);
    for (const [file, entry] of files)
      if (!seen.has(file)) {
        index.discardAll(entry.ids);
        totalBytes -= entry.bytes;
        files.delete(file);
      }
    built = true;
  };

  const updateFile = async (path: string, file: string, st: Stats | undefined, seen: Set<string>) => {
    if (!st?.isFile() || st.size > o.maxFileBytes) return;
    seen.add(file);
    const old = files.get(file);
    if (old && old.mtimeMs === st.mtimeMs && old.size === st.size) return;
    if (old) {
      index.discardAll(old.ids);
      totalBytes -= old.bytes;
      files.delete(file);
    }
    const bytes = await readFile(path).catch(() => undefined);
    const text = bytes && decodeText(bytes);
    if (text === undefined) {
      // binary: remember it as empty so it is not read again until it changes
      files.set(file, { mtimeMs: st.mtimeMs, size: st.size, bytes: 0, ids: [] });
      return;
    }
    if (totalBytes + bytes!.length > o.maxTotalBytes)
      throw new Stop(
        `the search folder holds more than ${o.maxTotalBytes} bytes of text (at ${file}); ` +
          `pick a smaller folder or raise maxTotalBytes`,
      );
    totalBytes += bytes!.length;
    files.set(file, {
      mtimeMs: st.mtimeMs,
      size: st.size,
      bytes: bytes!.length,
      ids: addPassages(file, text),
    });
  };

  const update = (deadline: number, signal?: AbortSignal): Promise<void> => {
    const run = queue.then(() =>
      'dir' in source ? updateFolder(source.dir, deadline, signal) : updateDocuments(source.documents),
    );
    queue = run.catch(() => undefined);
    return run;
  };

  const search = async (query: string, ro: ToolRunOptions): Promise<SearchHit[]> => {
    await update(performance.now() + ro.timeoutMs, ro.signal);
    return index
      .search(query)
      .slice(0, o.topK)
      .map((r) => ({
        file: r.file as string,
        line: r.line as number,
        text: r.text as string,
        score: r.score,
      }));
  };

  return {
    name: 'search',
    search,
    async run(input: string, ro: ToolRunOptions): Promise<ToolResult> {
      const t0 = performance.now();
      const ms = () => performance.now() - t0;
      const query = input.trim();
      if (!query) return toolError('the search query is empty; write the words to look for', ms());
      let hits: SearchHit[];
      try {
        hits = await search(query, ro);
      } catch (e) {
        if (e instanceof Stop) return toolError(e.message, ms());
        if (ro.signal?.aborted) throw e;
        return toolError(`search failed: ${(e as Error).message}`, ms());
      }
      if (!hits.length) return { ok: true, output: `no results for "${query}"`, ms: ms() };
      return { ok: true, output: formatHits(hits, o.maxOutputChars), ms: ms() };
    },
    reindex() {
      index = newIndex();
      files = new Map();
      totalBytes = 0;
      built = false;
    },
    stats() {
      const indexed = 'dir' in source ? [...files.values()].filter((f) => f.ids.length).length : 0;
      return { files: 'dir' in source ? indexed : source.documents.length, passages: index.documentCount };
    },
    dispose() {
      this.reindex();
    },
  };
}

/** A file's text, or undefined for a binary: not valid UTF-8, or a NUL byte. */
function decodeText(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Hits as `file:line: text` lines, best first, whole while they fit in maxChars, then cut or left out. */
export function formatHits(hits: readonly SearchHit[], maxChars: number): string {
  const lines: string[] = [];
  let left = maxChars;
  for (const h of hits) {
    const head = `${h.file}:${h.line}: `;
    const text = h.text.replace(/\s+/g, ' ').trim();
    const avail = left - (lines.length ? 1 : 0); // 1 for the newline before it
    if (avail - head.length >= text.length) lines.push(head + text);
    else if (avail - head.length >= MIN_SHOWN_CHARS || !lines.length)
      lines.push((head + text).slice(0, avail - 3).trimEnd() + '...');
    else break;
    left = maxChars - lines.join('\n').length;
    if (left <= 0) break;
  }
  return lines.join('\n');
}
