'use strict';
// A task module whose exports are null (pending/task-module-shapes.js).
module.exports = null;
