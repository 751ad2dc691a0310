/**
 * vscode.EventEmitter's shape without VS Code, for models that node unit tests build: an `event` to subscribe
 * to (listener, thisArgs, disposables) and `fire`. A listener that throws is reported and the others still run.
 */
export interface Disposable {
  dispose(): unknown;
}

export type Event<T> = (
  listener: (e: T) => unknown,
  thisArgs?: unknown,
  disposables?: Disposable[],
) => Disposable;

export class Emitter<T> implements Disposable {
  private listeners = new Set<(e: T) => unknown>();

  constructor(private readonly onListenerError: (e: unknown) => void = (e) => console.error(e)) {}

  readonly event: Event<T> = (listener, thisArgs, disposables) => {
    const bound = (e: T) => listener.call(thisArgs, e);
    this.listeners.add(bound);
    const sub = { dispose: () => this.listeners.delete(bound) };
    disposables?.push(sub);
    return sub;
  };

  fire(e: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
