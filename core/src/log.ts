/** Minimal logger shape the core and plugins depend on (the plugin API's); pino loggers satisfy it. */
import type { Logger } from '@pgha/plugin-api';
export type { Logger };

/** A logger that drops everything (tests, ctl commands with logging off). */
export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return silentLogger; },
};
