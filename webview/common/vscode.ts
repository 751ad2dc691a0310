/** The typed bridge to the host: every panel posts its own message union and receives the host's. */
interface VsCodeApi<S> {
  postMessage(message: unknown): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

export interface HostBridge<ToHost, FromHost, S = unknown> {
  post(message: ToHost): void;
  onMessage(handler: (message: FromHost) => void): void;
  getState(): S | undefined;
  setState(state: S): void;
}

export function hostBridge<ToHost, FromHost, S = unknown>(): HostBridge<ToHost, FromHost, S> {
  const api = acquireVsCodeApi<S>();
  return {
    post: (m) => api.postMessage(m),
    onMessage: (handler) =>
      window.addEventListener('message', (e: MessageEvent) => handler(e.data as FromHost)),
    getState: () => api.getState(),
    setState: (s) => api.setState(s),
  };
}
