#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static nmif_log_fn log_fn;
static void *log_ctx;
static int log_level;
static int log_level_set; /* 0 until set by the API or read from NMIF_LOG */

static int level_from_env(void) {
  const char *v = getenv("NMIF_LOG");
  if (!v)
    return NMIF_LOG_WARN;
  static const char *const names[] = {"error", "warn", "info", "debug"};
  for (int k = 0; k < 4; k++)
    if (strcmp(v, names[k]) == 0)
      return k;
  return NMIF_LOG_WARN;
}

void nmif_set_log(nmif_log_fn fn, void *ctx) {
  log_fn = fn;
  log_ctx = ctx;
}

void nmif_set_log_level(int level) {
  log_level = level; /* below NMIF_LOG_ERROR: silent */
  log_level_set = 1;
}

void nmif__log(int level, const char *fmt, ...) {
  if (!log_level_set) {
    log_level = level_from_env();
    log_level_set = 1;
  }
  if (level > log_level)
    return;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (log_fn) {
    log_fn(level, msg, log_ctx);
    return;
  }
  static const char *const tags[] = {"error", "warn", "info", "debug"};
  fprintf(stderr, "nmemif %s: %s\n", tags[level & 3], msg);
}
