/**
 * The tools by name, made on demand: `llm-lens chat --tools calculator,python,search`, the Chat panel and
 * the demos ask for a list and get ready tools (each made once per list; dispose them when done).
 *
 *   const tools = await makeTools(parseToolList('calculator,python'), { searchDir: '.' });
 *   …
 *   await disposeTools(tools);
 *   parseToolList('calculator, shell')   // throws: unknown tool "shell" (tools: calculator, python, search)
 *   parseToolList('none')                // []
 */
import { calculator } from './calculator';
import { createPythonTool } from './python';
import { createSearchTool, type SearchDocument, type SearchOptions } from './search';
import { TOOL_NAMES, type Tool, type ToolName } from './tool';

export interface MakeToolsOptions {
  /** The folder the search tool indexes (default: the current folder). */
  searchDir?: string;
  /** Documents the search tool indexes instead of a folder (a task's own collection). */
  searchDocuments?: readonly SearchDocument[];
  searchOptions?: SearchOptions;
}

/** Names from a comma-separated list ("none" or "" for none); unknown names are refused. */
export function parseToolList(list: string): ToolName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'none');
  for (const n of names)
    if (!(TOOL_NAMES as readonly string[]).includes(n))
      throw new Error(`unknown tool "${n}" (tools: ${TOOL_NAMES.join(', ')}, or none)`);
  return [...new Set(names)] as ToolName[];
}

/** The tools of `names`, ready to run. */
export async function makeTools(names: readonly ToolName[], o: MakeToolsOptions = {}): Promise<Tool[]> {
  const out: Tool[] = [];
  for (const name of names) {
    if (name === 'calculator') out.push(calculator);
    else if (name === 'python') out.push(createPythonTool());
    else if (name === 'search') {
      const source = o.searchDocuments
        ? { documents: o.searchDocuments }
        : { dir: o.searchDir ?? process.cwd() };
      out.push(createSearchTool(source, o.searchOptions));
    }
  }
  return out;
}

export async function disposeTools(tools: readonly Tool[]): Promise<void> {
  await Promise.all(tools.map((t) => t.dispose?.()));
}
