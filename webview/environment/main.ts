/** Environment panel: versions, backends and execution providers, with Refresh and Copy. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type {
  CudaMissing,
  EnvironmentHostMessage,
  EnvironmentReport,
  EnvironmentWebviewMessage,
} from '../../src/protocol/environment';
import { el } from '../common/dom';
import { hostBridge } from '../common/vscode';

const host = hostBridge<EnvironmentWebviewMessage, EnvironmentHostMessage>();
const app = document.getElementById('app')!;

const status = el('p', { id: 'status', class: 'status' }, 'Probing the runtime…');
const table = el('table', { id: 'env-table', class: 'kv' });
const refresh = el('vscode-button', { id: 'refresh', secondary: true }, 'Refresh');
const copy = el('vscode-button', { id: 'copy', secondary: true }, 'Copy as Markdown');
refresh.addEventListener('click', () => host.post({ type: 'refresh' }));
copy.addEventListener('click', () => host.post({ type: 'copy' }));
app.append(
  el('h1', {}, 'LLM Lens environment'),
  el('div', { class: 'toolbar' }, refresh, copy),
  status,
  table,
);

function row(key: string, value: Node | string, id?: string): HTMLTableRowElement {
  return el('tr', id ? { 'data-key': id } : {}, el('th', {}, key), el('td', {}, value));
}

const PIECE_NAMES: Record<CudaMissing['piece'], string> = {
  platform: 'Platform',
  driver: 'NVIDIA driver',
  cuda: 'CUDA 12',
  cudnn: 'cuDNN 9',
  providers: 'CUDA provider libraries',
};

function providerCell(p: EnvironmentReport['runtime']['providers'][number]): HTMLElement {
  const badge = el(
    'vscode-badge',
    { variant: p.ok ? 'counter' : 'default', class: p.ok ? 'ok' : 'bad' },
    p.ok ? 'works' : 'unavailable',
  );
  const detail = p.ok ? `session + run in ${(p.ms ?? 0).toFixed(0)} ms` : (p.error ?? '');
  const cell = el('span', { class: 'provider' }, badge, ' ', el('span', { class: 'detail' }, detail));
  if (p.missing?.length)
    cell.append(
      el(
        'ul',
        { class: 'missing' },
        ...p.missing.map((m) =>
          el(
            'li',
            { 'data-piece': m.piece },
            el('strong', {}, `${PIECE_NAMES[m.piece]} missing: `),
            m.detail,
          ),
        ),
      ),
    );
  if (p.missing?.some((m) => m.piece === 'providers')) {
    const install = el('vscode-button', { id: 'install-cuda' }, 'Install CUDA Support…');
    install.addEventListener('click', () => host.post({ type: 'installCuda' }));
    cell.append(install);
  }
  return cell;
}

function render(r: EnvironmentReport): void {
  const rt = r.runtime;
  table.replaceChildren(
    row('LLM Lens', r.extensionVersion, 'extension'),
    row(r.appName, `${r.vscodeVersion} (${r.uiKind})`, 'vscode'),
    row('Node.js', rt.nodeVersion, 'node'),
    row('Platform', `${rt.platform}-${rt.arch}, ${rt.cpus} CPUs`, 'platform'),
    row('onnxruntime-node', rt.ortVersion ?? `not loaded: ${rt.ortError ?? ''}`, 'ort'),
    row(
      'Backends',
      rt.backends.map((b) => b.name + (b.bundled ? '' : ' (not bundled)')).join(', ') || 'none',
      'backends',
    ),
    ...rt.providers.map((p) => row(`Provider: ${p.name}`, providerCell(p), `provider-${p.name}`)),
  );
  const working = rt.providers.filter((p) => p.ok).map((p) => p.name);
  status.textContent = `Execution providers that work here: ${working.join(', ') || 'none'}. Probed ${new Date(r.probedAt).toLocaleTimeString()}.`;
  status.dataset.state = 'done';
}

host.onMessage((m) => {
  switch (m.type) {
    case 'probing':
      status.textContent = 'Probing the runtime…';
      status.dataset.state = 'probing';
      break;
    case 'report':
      render(m.report);
      break;
    case 'error':
      status.textContent = `The probe failed: ${m.message}`;
      status.dataset.state = 'error';
      break;
  }
});
host.post({ type: 'ready' });
