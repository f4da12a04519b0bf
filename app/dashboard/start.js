"use strict";

/**
 * The dashboard's entry point: the image runs `node start.js` in this folder. Settings come from
 * the environment (see lib/config.js); SIGTERM (`docker stop`) and SIGINT (Ctrl-C) stop it
 * cleanly. As PID 1 in a container, Node gets no default signal handling, so these handlers are
 * what lets `docker stop` finish without waiting for its kill timeout.
 */

const fs = require("fs");
const { startApp, createLogger } = require("./lib/app");

/** After this long, a shutdown still waiting on open requests gives up and exits. */
const SHUTDOWN_GRACE_MS = 8000;

const log = createLogger(process.stdout);

startApp({ env: process.env, fs, log }).then(
  (app) => {
    /** @param {NodeJS.Signals} signal */
    const shutdown = (signal) => {
      log.info(`${signal} received: finishing open requests and closing the MySQL pool`);
      setTimeout(() => {
        log.error(`still busy after ${SHUTDOWN_GRACE_MS} ms; exiting anyway`);
        process.exit(1);
      }, SHUTDOWN_GRACE_MS).unref();
      app.stop().then(
        () => {
          log.info("stopped");
          process.exit(0);
        },
        (err) => {
          log.error(`error while stopping: ${err instanceof Error ? err.message : String(err)}`);
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
  },
  (err) => {
    log.error(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
