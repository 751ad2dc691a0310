/**
 * The import rules of ARCHITECTURE.md as code, used by the unit tests:
 * - src/engine imports no `vscode` and nothing from host, worker, cli or webview;
 * - only src/engine/runtime imports onnxruntime-node;
 * - src/protocol imports only src/protocol (types shared by every side);
 * - webview/ imports no `vscode` and nothing from src/ but src/protocol.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

export interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

/** Every module specifier in a TypeScript source: import/export from, side-effect imports, require() and import(). */
export function importsOf(source: string): string[] {
  const re =
    /(?:^|[^.\w])(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\s+from\s+)?['"]([^'"]+)['"]|(?:require|import)\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;
  const out: string[] = [];
  for (const m of source.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** All .ts files under src/ and webview/, keyed by repo-relative POSIX path. */
export function sourceFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = posix.join(rel, name);
      if (statSync(join(root, r)).isDirectory()) walk(r);
      else if (name.endsWith('.ts')) files.set(r, readFileSync(join(root, r), 'utf8'));
    }
  };
  walk('src');
  walk('webview');
  return files;
}

export function boundaryViolations(files: Map<string, string>): Violation[] {
  const out: Violation[] = [];
  for (const [file, text] of files) {
    for (const spec of importsOf(text)) {
      const target = spec.startsWith('.') ? posix.normalize(posix.join(posix.dirname(file), spec)) : spec;
      const add = (rule: string) => out.push({ file, specifier: spec, rule });
      if (spec === 'onnxruntime-node' && !file.startsWith('src/engine/runtime/'))
        add('only src/engine/runtime imports onnxruntime-node');
      if (file.startsWith('src/engine/')) {
        if (spec === 'vscode') add('src/engine never imports vscode');
        else if (/^(src\/(host|worker|cli)|webview)\//.test(target))
          add('src/engine imports nothing from host, worker, cli or webview');
      } else if (file.startsWith('src/protocol/')) {
        if (spec === 'vscode' || (spec.startsWith('.') && !target.startsWith('src/protocol/')))
          add('src/protocol imports only src/protocol');
      } else if (file.startsWith('webview/')) {
        if (spec === 'vscode') add('webviews never import vscode');
        else if (
          spec.startsWith('.') &&
          !target.startsWith('webview/') &&
          !target.startsWith('src/protocol/')
        )
          add('webviews import only src/protocol and browser libraries');
      }
    }
  }
  return out;
}
