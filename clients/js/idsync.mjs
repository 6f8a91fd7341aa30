// eventmap ID sync as an ES module: `import { init } from './idsync.mjs'`.
import './idsync.js';

const api = globalThis.EventmapIdSync;
export const init = api.init;
export const valid = api.valid;
export default api;
