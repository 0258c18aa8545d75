// ESM entry: the same objects as the CommonJS one.
import penny from './index.js';

export const { Pool, run, defaultPool, include } = penny;
export default penny;
