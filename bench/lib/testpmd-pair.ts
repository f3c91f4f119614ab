/**
 * The DPDK competitor of bench/memif_pair.c: one run, one frame size.
 *
 * A testpmd in --forward-mode=rxonly is the net_memif server (master) and a second testpmd in
 * --forward-mode=txonly --txpkts=SIZE is the client (slave), over a filesystem socket, both
 * started by the one launcher (test/helpers/testpmd.ts). Each gets lcores {rx core, tx core}
 * with its forwarding lcore alone on one core: the server forwards on the rx core (its main
 * lcore, which only reads commands, sits on the tx core), the client on the tx core. Same cores,
 * roles, ring (1024 slots) and buffer size as memif_pair; frames larger than a 2048-byte mbuf
 * get mbufs of the buffer size on both, so a frame is one buffer everywhere.
 *
 * Rates come from testpmd itself: once packets flow, wait `warmup` seconds, "show port stats 0"
 * on both, wait `seconds`, show again; testpmd prints each port's rate since its previous show,
 * timed by its own clock (rx_pps: the server's Rx-pps, tx_pps: the client's Tx-pps). The
 * client's "stop" totals (frames sent, frames built that found the ring full) are reported too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Teardowns, Testpmd, waitListening } from '../../test/helpers/testpmd';

export interface TestpmdPairOptions {
  size: number;
  bufferSize: number;
  /** testpmd --burst on both sides. */
  burst: number;
  warmup: number;
  seconds: number;
  txCore: number;
  rxCore: number;
}

/** One run's JSON (the DPDK side of c-vs-dpdk; same field names as memif_pair's). */
export interface TestpmdPairResult {
  bench: 'testpmd_pair';
  impl: string;
  size: number;
  burst: number;
  ring: number;
  buffer_size: number;
  tx_fill: 'txonly';
  rx_work: 'rxonly';
  warmup_s: number;
  seconds: number;
  tx_core: number;
  rx_core: number;
  rx_pps: number;
  tx_pps: number;
  rx_gbps: number;
  /** Between the two shows, by our clock (testpmd's own clock times the rates). */
  rx_interval_s: number;
  rx_packets: number;
  tx_packets: number;
  rx_bytes: number;
  rx_errors: number;
  rx_missed: number;
  rx_nombuf: number;
  tx_errors: number;
  /** The client's "stop": frames sent, and frames built that found no room in the ring. */
  stop_tx_packets: number;
  stop_tx_dropped: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function testpmdPair(o: TestpmdPairOptions, log: (msg: string) => void = () => {}): Promise<TestpmdPairResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-tpp-'));
  const owner = new Teardowns(log);
  const sock = path.join(dir, 'memif.sock');
  const limit = (o.warmup + o.seconds + 60) * 1000;
  const common = {
    socket: sock, bufferSize: o.bufferSize, burst: o.burst, lifetimeMs: limit,
    args: o.bufferSize > 2048 ? [`--mbuf-size=${o.bufferSize + 128}`] : [],
  };
  try {
    // Server first (a DPDK client connects once, at port start).
    const srv = await Testpmd.start(owner, { ...common, role: 'server', forwardMode: 'rxonly', tag: 'pair-rx', lcores: [o.txCore, o.rxCore] });
    await waitListening(sock, 20_000, srv.name);
    const cli = await Testpmd.start(owner, {
      ...common, role: 'client', forwardMode: 'txonly', tag: 'pair-tx', lcores: [o.rxCore, o.txCore],
      args: [...common.args, `--txpkts=${o.size}`],
    });
    await srv.waitFor(/memif_connect\(\): Connected/, 20_000, 'the memif link');
    srv.forward();
    cli.forward();
    const flowing = performance.now() + 20_000;
    while ((await srv.portStats(0)).rxPackets === 0) {
      if (performance.now() > flowing) throw new Error(`no packets reached the rxonly server in 20 s; ${srv.describe()}`);
      await sleep(50);
    }
    await sleep(o.warmup * 1000);
    const s0 = await srv.portStats(0);
    const c0 = await cli.portStats(0);
    await sleep(o.seconds * 1000);
    const s1 = await srv.portStats(0);
    const c1 = await cli.portStats(0);
    // Client first: a txonly client whose server goes away while it forwards may crash.
    const sent = await cli.stop();
    await srv.stop();
    await cli.quit();
    await srv.quit();
    const interval = (s1.at - s0.at) / 1000;
    const rxBytes = s1.rxBytes - s0.rxBytes;
    return {
      bench: 'testpmd_pair', impl: `${srv.version ?? 'DPDK'} testpmd`, size: o.size, burst: o.burst, ring: 1024,
      buffer_size: o.bufferSize, tx_fill: 'txonly', rx_work: 'rxonly', warmup_s: o.warmup, seconds: o.seconds,
      tx_core: o.txCore, rx_core: o.rxCore,
      rx_pps: s1.rxPps, tx_pps: c1.txPps, rx_gbps: Math.round((rxBytes * 8) / interval / 1e6) / 1e3,
      rx_interval_s: Math.round(interval * 1e6) / 1e6,
      rx_packets: s1.rxPackets - s0.rxPackets, tx_packets: c1.txPackets - c0.txPackets, rx_bytes: rxBytes,
      rx_errors: s1.rxErrors - s0.rxErrors, rx_missed: s1.rxMissed - s0.rxMissed, rx_nombuf: s1.rxNombuf - s0.rxNombuf,
      tx_errors: c1.txErrors - c0.txErrors, stop_tx_packets: sent.txPackets, stop_tx_dropped: sent.txDropped,
    };
  } finally {
    await owner.run();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
