/**
 * A queue pair handed to a worker_thread.
 *
 * Main thread:   const handle = iface.transferQueue(1);  worker.postMessage(handle);
 * Worker thread: const q = attachQueue(handle);  q.on('rx', () => { q.rx(batch); ...; q.refill(batch); });
 *
 * From then on only the worker bursts on rx queue 1 and tx queue 1 (the main thread's calls on
 * that queue throw InvalidStateError) until iface.reclaimQueue(1). The worker maps the shared
 * memory itself and waits on its own copy of the rx eventfd, through its own thread's engine.
 * Across a disconnect the queue reports 'disconnect' (calls fail with NotConnectedError) and,
 * when the link comes back, 'connect', with fresh region views; no message from the main
 * thread is needed.
 */
import { EventEmitter } from 'eventemitter3';
import { InvalidArgumentError, NotConnectedError } from '../errors';
import { native, type NativeWorkerQueue } from '../native';
import { EPOLLIN } from '../nstack/constants';
import { defaultEngine, type Engine } from '../nstack/engine';
import { PacketBatch } from './batch';
import { burstError } from './native-errors';

/** What transferQueue() returns: plain data, safe to postMessage. */
export interface QueueHandle {
  /** Marks the object as a queue handle. */
  readonly kind: 'nmemif-queue';
  /** The native lease, valid in this process until reclaimQueue() or close. */
  readonly id: number;
  /** The queue pair's index on its interface. */
  readonly queue: number;
  /** The interface's memif id. */
  readonly interfaceId: number;
}

/** Events of a {@link WorkerQueue}, as `name: [listener arguments]`. */
export interface WorkerQueueEvents {
  /** Packets may be waiting: call rx() until it returns 0. */
  rx: [];
  /** The link is (again) up; fresh region views are in place. */
  connect: [];
  /** The link went down: bursts throw NotConnectedError until 'connect'. */
  disconnect: [];
}

/**
 * A queue pair owned by a worker thread (from {@link attachQueue}): the same burst calls as
 * {@link MemifInterface}, without the queue argument.
 */
export class WorkerQueue extends EventEmitter<WorkerQueueEvents> {
  /** The queue pair's index on its interface. */
  readonly queue: number;
  /** The interface's memif id. */
  readonly interfaceId: number;
  #native: NativeWorkerQueue | null;
  #state: Uint32Array;
  #gen = 0;
  #regions: Uint8Array[] = [];
  #irqFd = -1;
  #engine: Engine;
  #connected = false;
  #timer: NodeJS.Timeout;

  constructor(handle: QueueHandle, engine: Engine = defaultEngine()) {
    super();
    if (handle?.kind !== 'nmemif-queue' || !Number.isInteger(handle.id)) {
      throw new InvalidArgumentError('attachQueue() takes the object transferQueue() returned');
    }
    this.queue = handle.queue;
    this.interfaceId = handle.interfaceId;
    this.#engine = engine;
    this.#native = new native.WorkerQueue(handle.id);
    this.#state = this.#native.state();
    // Link changes are noticed on each burst; this slow tick also notices them while idle.
    this.#timer = setInterval(() => this.#check(), 50);
    this.#timer.unref();
    setImmediate(() => this.#check()); // after the caller has attached its listeners
  }

  /** Whether the link is up (as last seen by this thread). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Receives up to batch.capacity buffers; returns the count (see {@link MemifInterface.rx}). */
  rx(batch: PacketBatch): number {
    const n = this.#call('rx').rxBurst(batch.words, batch.capacity);
    if (n < 0) return this.#fail(n, 'rx');
    batch.count = n;
    batch.bindRegions(this.#regions);
    return n;
  }

  /** Hands received buffers back to the peer: a whole batch or a count. */
  refill(what: PacketBatch | number): number {
    const count = typeof what === 'number' ? what : what.count;
    const n = this.#call('refill').rxRelease(count);
    if (n < 0) return this.#fail(n, 'refill');
    if (typeof what !== 'number') what.count = 0;
    return n;
  }

  /** Reserves up to `max` tx buffers to write in place. */
  alloc(batch: PacketBatch, max = batch.capacity): number {
    const n = this.#call('alloc').txAlloc(batch.words, Math.min(max, batch.capacity));
    if (n < 0) return this.#fail(n, 'alloc');
    batch.count = n;
    batch.bindRegions(this.#regions);
    return n;
  }

  /** Publishes the first `count` buffers of the last alloc()/swap(); returns buffers sent. */
  tx(batch: PacketBatch, count = batch.count): number {
    const n = this.#call('tx').txBurst(batch.words, count);
    return n < 0 ? this.#fail(n, 'tx') : n;
  }

  /** Slave only: moves received buffers into tx slots without copying (see {@link MemifInterface.swap}). */
  swap(batch: PacketBatch, count = batch.count): number {
    const n = this.#call('swap').txSwap(batch.words, count);
    return n < 0 ? this.#fail(n, 'swap') : n;
  }

  /** Copies up to 256 packets into the tx ring; returns how many were taken. */
  send(data: Uint8Array | Uint8Array[]): number {
    const pkts = data instanceof Uint8Array ? [data] : data;
    const n = this.#call('send').txCopy(pkts.length > 256 ? pkts.slice(0, 256) : pkts);
    return n < 0 ? this.#fail(n, 'send') : n;
  }

  /** Lets go of the queue in this thread (the main thread can then reclaim it). */
  close(): void {
    if (this.#native === null) return;
    clearInterval(this.#timer);
    this.#unwatch();
    this.#native.close();
    this.#native = null;
    this.#connected = false;
  }

  #call(what: string): NativeWorkerQueue {
    if (this.#native === null) throw new NotConnectedError(`${what}: worker queue closed`);
    if (Atomics.load(this.#state, 0) !== this.#gen || Atomics.load(this.#state, 1) !== 0) this.#check();
    return this.#native;
  }

  #fail(ret: number, what: string): never {
    this.#check();
    throw burstError(ret, what);
  }

  /** Follows the owner's generation: remaps and re-watches after a reconnect. */
  #check(): void {
    const nat = this.#native;
    if (nat === null) return;
    const gen = Atomics.load(this.#state, 0);
    const up = Atomics.load(this.#state, 1) === 0;
    if (gen !== this.#gen && up) {
      this.#unwatch();
      if (nat.sync() === 0) {
        this.#gen = gen;
        this.#regions = nat.regions().map((ab) => new Uint8Array(ab));
        this.#irqFd = nat.irqFd();
        if (this.#irqFd >= 0) {
          this.#engine.watch(this.#irqFd, EPOLLIN, () => {
            nat.ackIrq();
            this.emit('rx');
          });
        }
        this.#connected = true;
        this.emit('connect');
        this.emit('rx'); // look once: packets may be waiting
        return;
      }
    }
    if (!up && this.#connected) {
      this.#connected = false;
      this.#unwatch();
      this.emit('disconnect');
    }
  }

  #unwatch(): void {
    if (this.#irqFd >= 0) this.#engine.unwatch(this.#irqFd);
    this.#irqFd = -1;
  }
}

/** Worker side: takes ownership of the queue pair described by `handle`. */
export function attachQueue(handle: QueueHandle, engine?: Engine): WorkerQueue {
  return new WorkerQueue(handle, engine);
}

export { PacketBatch };
