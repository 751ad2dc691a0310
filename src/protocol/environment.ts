/** What `LLM Lens: Show Environment` reports, shared by host, worker, CLI and the environment webview. */
export type ExecutionProviderName = 'cpu' | 'webgpu' | 'cuda';

export interface ProviderStatus {
  name: ExecutionProviderName;
  /** True when a session was created on this provider and produced the right answer. */
  ok: boolean;
  /** Milliseconds to create the session and run the probe graph once. */
  ms?: number;
  /** Why it does not work (ORT's message), when ok is false. */
  error?: string;
  /** cuda only, when ok is false: what the machine lacks, found without loading any native library. */
  missing?: CudaMissing[];
}

/**
 * A piece the CUDA provider needs that is not on this machine: the NVIDIA driver, the CUDA 12 runtime
 * libraries, cuDNN 9, onnxruntime's CUDA provider libraries (which `LLM Lens: Install CUDA Support…`
 * installs), or a platform onnxruntime-node runs CUDA on (linux-x64 only).
 */
export interface CudaMissing {
  piece: 'platform' | 'driver' | 'cuda' | 'cudnn' | 'providers';
  /** What is missing, where it was looked for and how to get it. */
  detail: string;
}

/** What the engine's runtime can do on this machine. */
export interface RuntimeReport {
  nodeVersion: string;
  platform: string;
  arch: string;
  cpus: number;
  /** onnxruntime-node version, or undefined when the binding did not load. */
  ortVersion?: string;
  ortError?: string;
  /** What onnxruntime-node lists as supported backends on this platform. */
  backends: { name: string; bundled: boolean }[];
  providers: ProviderStatus[];
}

export interface EnvironmentReport {
  extensionVersion: string;
  /** VS Code's version and the product that hosts it (VS Code, code-server, VSCodium …), or 'cli'. */
  vscodeVersion: string;
  appName: string;
  /** Where the extension host runs (desktop, remote, web). */
  uiKind: string;
  runtime: RuntimeReport;
  /** ISO time the probe finished. */
  probedAt: string;
}

/** Messages the environment webview sends to the host. */
export type EnvironmentWebviewMessage =
  /** The webview has loaded and wants the current report. */
  | { type: 'ready' }
  /** Run the probe again. */
  | { type: 'refresh' }
  /** Copy the report as Markdown to the clipboard. */
  | { type: 'copy' }
  /** Run `LLM Lens: Install CUDA Support…` (offered when the provider libraries are missing). */
  | { type: 'installCuda' };

/** Messages the host sends to the environment webview. */
export type EnvironmentHostMessage =
  /** The probe is running. */
  | { type: 'probing' }
  /** The finished report. */
  | { type: 'report'; report: EnvironmentReport }
  /** The probe failed as a whole (worker crashed). */
  | { type: 'error'; message: string };
