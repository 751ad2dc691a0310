/**
 * Whether the WebGPU adapter here can only be a software one (Mesa's lavapipe on the CPU): on Linux a
 * hardware Vulkan adapter needs a GPU device node, /dev/dri/renderD* (AMD, Intel, other Mesa drivers) or
 * /dev/nvidia* (NVIDIA's driver). Without either, a WebGPU provider that works runs on the CPU cores,
 * slower than the CPU provider: the device choice leaves it out (run files and --device still take it,
 * as the GPU tests do). Other platforms are not judged (false).
 *
 *   softwareWebgpuOnly()                      // true on a server without a GPU where lavapipe is installed
 *   softwareWebgpuOnly({ dev: '/tmp/fake-dev', platform: 'linux' })
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function softwareWebgpuOnly(o: { dev?: string; platform?: NodeJS.Platform } = {}): boolean {
  if ((o.platform ?? process.platform) !== 'linux') return false;
  const dev = o.dev ?? '/dev';
  const list = (dir: string) => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  const render = list(path.join(dev, 'dri')).some((n) => n.startsWith('renderD'));
  const nvidia = list(dev).some((n) => /^nvidia\d+$/.test(n));
  return !render && !nvidia;
}
