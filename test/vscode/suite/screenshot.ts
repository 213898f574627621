/**
 * Named screenshots from inside the suite: logs a request that the offline launcher (runCodeServer)
 * answers by photographing the window, and waits for its confirmation. Under a launcher that takes no
 * screenshots (CHIMERA_SCREENSHOT_DONE unset, e.g. test-electron) it returns at once.
 */
import { existsSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { NAMED_SCREENSHOT_PREFIX } from '../shared';

export async function screenshot(name: string): Promise<boolean> {
  const base = process.env.CHIMERA_SCREENSHOT_DONE;
  if (!base) return false;
  const done = `${base}-${name}`;
  return new Promise<boolean>((resolve) => {
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      watcher.close();
      resolve(ok);
    };
    const watcher = watch(dirname(done), (_event, file) => {
      if (file === basename(done) || existsSync(done)) finish(true);
    });
    const timer = setTimeout(() => finish(false), 20_000);
    console.log(`${NAMED_SCREENSHOT_PREFIX}${name}`);
    if (existsSync(done)) finish(true);
  });
}
