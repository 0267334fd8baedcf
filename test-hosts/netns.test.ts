import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetwork, type SimulatedNetwork, simulatedHostAt } from '../src/common/netns.js';

/** Connects from inside `host` to the gateway's port: what the peer saw, within 1.5 s. */
async function dial(network: SimulatedNetwork, hostName: string, port: number): Promise<string> {
  const script = `require('net').connect(${port}, '${network.gateway}')
    .on('data', (d) => { console.log(String(d)); process.exit(0); })
    .on('error', (e) => { console.log(e.code); process.exit(0); });
    setTimeout(() => { console.log('silence'); process.exit(0); }, 1500);`;
  const child = network.spawnIn(network.host(hostName), process.execPath, ['-e', script]);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  await new Promise((resolve) => child.once('exit', resolve));
  return out.trim();
}

describe('simulated hosts (network namespaces)', () => {
  let network: SimulatedNetwork | undefined;
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
    network?.teardown();
  });

  it('connects hosts over the bridge; a partition is silence, heal restores it; a crash kills every process and is silent until healed; teardown leaves nothing', async () => {
    network = createNetwork(['a', 'b']);
    const served = createServer((socket) => socket.end('hello'));
    server = served;
    const gateway = network.gateway;
    await new Promise<void>((resolve) => served.listen(0, gateway, resolve));
    const port = (served.address() as { port: number }).port;
    expect(await dial(network, 'a', port)).toBe('hello');
    network.partition(network.host('a'));
    expect(await dial(network, 'a', port)).toBe('silence');
    expect(await dial(network, 'b', port)).toBe('hello');
    network.heal(network.host('a'));
    expect(await dial(network, 'a', port)).toBe('hello');
    // Found by its address, as `hedge inject` finds a host of another process's network.
    const attached = simulatedHostAt(network.host('b').address);
    expect(attached?.namespace).toBe(network.host('b').namespace);
    attached?.partition();
    expect(await dial(network, 'b', port)).toBe('silence');
    attached?.heal();
    expect(await dial(network, 'b', port)).toBe('hello');
    expect(simulatedHostAt('10.0.0.12')).toBeUndefined();
    expect(simulatedHostAt(`198.18.${network.run}.99`)).toBeUndefined();

    const sleeper = network.spawnIn(network.host('b'), 'sleep', ['600']);
    const exited = new Promise((resolve) => sleeper.once('exit', (_code, signal) => resolve(signal)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(network.crash(network.host('b')).length).toBeGreaterThan(0);
    expect(await exited).toBe('SIGKILL');
    expect(network.pids(network.host('b'))).toEqual([]);
    // A crashed host is silent, not refusing, until it comes back.
    expect(await dial(network, 'b', port)).toBe('silence');
    network.heal(network.host('b'));
    expect(await dial(network, 'b', port)).toBe('hello');

    const { run } = network;
    network.teardown();
    network = undefined;
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`hedge-${run}-`);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toMatch(
      new RegExp(`hv${run}h|hb${run}:`),
    );
  });
});
