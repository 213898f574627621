// esbuild keeps only the `version` field of package.json in the bundle (named JSON imports are tree-shaken).
import { version } from '../../package.json';

/** The extension version; the engine and CLI report the same one so a mismatch is visible. */
export const VERSION: string = version;
