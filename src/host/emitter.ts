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

/**
 * What a dashboard follows on a run (RunModel, ExternalRunModel): new events, a reset (the log was
 * rewritten) and a change of the run itself, each reporting a throwing listener the same way.
 *
 *   this.feed = new RunFeed<RunEvent, RunModel>(options.onListenerError);
 *   this.onEvents = this.feed.events.event;      // … this.feed.events.fire(newEvents)
 */
export class RunFeed<E, M> implements Disposable {
  readonly events: Emitter<readonly E[]>;
  readonly reset: Emitter<void>;
  readonly change: Emitter<M>;

  constructor(onListenerError?: (e: unknown) => void) {
    this.events = new Emitter(onListenerError);
    this.reset = new Emitter(onListenerError);
    this.change = new Emitter(onListenerError);
  }

  dispose(): void {
    this.events.dispose();
    this.reset.dispose();
    this.change.dispose();
  }
}
