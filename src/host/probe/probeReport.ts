/**
 * The Probe Knowledge result as the HTML of a script-free webview (strict CSP: no scripts at all, styles
 * by nonce): totals known / wrong / unsure, the SFT file written with a Fine-Tune on It link (a command
 * URI), then a table per question: its groups of answers with counts, the agreement as a meter, the verdict.
 * No 'vscode' here, so the page is tested in unit tests.
 *
 *   panel.webview.html = probeReportHtml(report, { cspSource: webview.cspSource, css, nonce })
 */
import type { ProbeResultMessage } from '../../protocol/probe';

export interface ProbeReport {
  checkpoint: string;
  /** Where the questions came from: a file or a generated task. */
  source: string;
  samples: number;
  temperature: number;
  threshold: number;
  results: ProbeResultMessage[];
  /** The SFT file written, and how many conversations it holds. */
  sftFile: string;
  conversations: number;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Counts of each verdict. */
export function verdictTotals(
  results: readonly ProbeResultMessage[],
): Record<'knows' | 'wrong' | 'unsure', number> {
  const t = { knows: 0, wrong: 0, unsure: 0 };
  for (const r of results) t[r.verdict]++;
  return t;
}

/** The command URI that starts Fine-Tune Checkpoint on `checkpoint` with `data` preselected. */
export function fineTuneUri(checkpoint: string, data: string): string {
  return `command:llmLens.fineTune?${encodeURIComponent(JSON.stringify([checkpoint, { data }]))}`;
}

function questionHtml(r: ProbeResultMessage, i: number): string {
  const n = r.answers.length;
  const rows = r.groups
    .map(
      (g) =>
        `<tr><td class="answer">${esc(g.answer) || '<i>(empty)</i>'}</td><td class="count">${g.count}</td></tr>`,
    )
    .join('');
  const reference = r.answer !== undefined ? `<p class="reference">right answer: ${esc(r.answer)}</p>` : '';
  return `<section class="question" data-index="${i}" data-verdict="${r.verdict}">
<h2>${i + 1}. <span class="text">${esc(r.question)}</span></h2>
<p>agreement <meter min="0" max="1" low="0" value="${r.agreement}"></meter>
<span class="agreement">${(r.agreement * 100).toFixed(0)}%</span> of ${n} ·
verdict <b class="verdict">${r.verdict}</b></p>${reference}
<table class="groups"><thead><tr><th>answer (grouped)</th><th>count</th></tr></thead><tbody>${rows}</tbody></table>
</section>`;
}

export function probeReportHtml(
  report: ProbeReport,
  page: { cspSource: string; css: string; nonce: string },
): string {
  const t = verdictTotals(report.results);
  const csp = `default-src 'none'; style-src ${page.cspSource} 'nonce-${page.nonce}'; font-src ${page.cspSource}`;
  const title = `Probe Knowledge: ${report.checkpoint}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="${esc(page.css)}" nonce="${page.nonce}">
<style nonce="${page.nonce}">
.question { margin: 12px 0 20px; }
.question h2 { font-size: 1.1em; margin: 8px 0 4px; }
.groups { border-collapse: collapse; }
.groups td, .groups th { border-bottom: 1px solid var(--vscode-panel-border); padding: 2px 8px; text-align: left; }
.count { text-align: right; }
.verdict, .totals b { padding: 0 4px; }
[data-verdict="knows"] .verdict, .totals .knows { color: var(--vscode-testing-iconPassed); }
[data-verdict="wrong"] .verdict, .totals .wrong { color: var(--vscode-testing-iconFailed); }
[data-verdict="unsure"] .verdict, .totals .unsure { color: var(--vscode-editorWarning-foreground); }
meter { width: 120px; }
</style>
<title>${esc(title)}</title>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="status">${report.results.length} questions from ${esc(report.source)}, each asked ${report.samples} times
at temperature ${report.temperature}; a question is answered consistently when its largest group of answers
has at least ${report.threshold * 100}% of them.</p>
<p class="totals" id="totals"><b class="knows" data-count="${t.knows}">${t.knows} known</b> ·
<b class="wrong" data-count="${t.wrong}">${t.wrong} wrong</b> ·
<b class="unsure" data-count="${t.unsure}">${t.unsure} unsure</b></p>
<p id="sft">Wrote ${report.conversations} fine-tuning conversations (refusals where unsure, known answers
kept) to <code>${esc(report.sftFile)}</code>.
<a id="fine-tune" href="${esc(fineTuneUri(report.checkpoint, report.sftFile))}">Fine-Tune on It…</a></p>
${report.results.map(questionHtml).join('\n')}
</body>
</html>`;
}
