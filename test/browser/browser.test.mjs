// penny/browser in the page: the shared suite (suite.mjs) with this
// runner, over the wasm build that `make wasm` writes.
import { describe, it, before, after, assert } from './runner.mjs';
import { Pool } from '../../lib/browser/index.mjs';
import { define } from './suite.mjs';

define({ describe, it, before, after, assert, Pool });
