/**
 * Which etcd endpoint a call goes to. The client library tries its hosts in a shuffled order and
 * asks each host's policy to run the call; a policy that refuses sends the call to the next host.
 *
 * A host whose last call failed for a connection reason (dead, hung, refusing) is skipped for a
 * second, so the next attempt within retry_timeout lands elsewhere. Unlike a circuit breaker, a
 * host is never skipped when every host failed recently: during an etcd leader election every
 * member answers "no leader" at once, and refusing all of them would turn the election's end into
 * a further second of errors (seen on CI as a refresh that missed its 2 s retry_timeout).
 */
import { BrokenCircuitError, type IDefaultPolicyContext, type IPolicy } from 'cockatiel';
import { GRPCCancelledError, isRecoverableError } from 'etcd3';

const SKIP_MS = 1000;

/** A failure that says something about this host. Our own cancellation of a stream does not. */
function hostFailure(e: unknown): boolean {
  return e instanceof Error && isRecoverableError(e) && !(e instanceof GRPCCancelledError);
}

export class HostSkipper {
  private readonly failedAt = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now(), private readonly skipMs = SKIP_MS) {}

  private recentlyFailed(host: string): boolean {
    const at = this.failedAt.get(host);
    return at !== undefined && this.now() - at < this.skipMs;
  }

  /** Skip `host` only while another host has not failed recently. */
  shouldSkip(host: string): boolean {
    if (!this.recentlyFailed(host)) return false;
    for (const other of this.failedAt.keys()) if (other !== host && !this.recentlyFailed(other)) return true;
    return false;
  }

  /** The per-host policy the library's `faultHandling.host` option asks for. */
  policyFor(host: string): IPolicy<IDefaultPolicyContext> {
    this.failedAt.set(host, -Infinity);
    const execute = async <T>(fn: (c: IDefaultPolicyContext) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> => {
      if (this.shouldSkip(host)) throw new BrokenCircuitError();
      try {
        const value = await fn({ signal: signal ?? new AbortController().signal });
        this.failedAt.set(host, -Infinity);
        return value;
      } catch (e) {
        if (hostFailure(e)) this.failedAt.set(host, this.now());
        throw e;
      }
    };
    const noEvent = () => ({ dispose: () => undefined });
    return { execute, onSuccess: noEvent, onFailure: noEvent } as unknown as IPolicy<IDefaultPolicyContext>;
  }
}
