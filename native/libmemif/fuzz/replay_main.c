/* Runs a fuzz target over files and directories of inputs without libFuzzer: the plain ctest
 * that replays the committed corpus (seeds and every crash found) on each build. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  static uint8_t buf[1 << 20];
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  LLVMFuzzerTestOneInput(buf, n);
  return 1;
}

static int run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) {
    perror(path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode))
    return run_file(path);
  struct dirent **list;
  int n = scandir(path, &list, NULL, alphasort), total = 0;
  if (n < 0) {
    perror(path);
    return -1;
  }
  for (int k = 0; k < n; k++) {
    if (list[k]->d_name[0] != '.') {
      char p[4096];
      snprintf(p, sizeof(p), "%s/%s", path, list[k]->d_name);
      int r = run_file(p);
      total = r < 0 || total < 0 ? -1 : total + r;
    }
    free(list[k]);
  }
  free(list);
  return total;
}

int main(int argc, char **argv) {
  int total = 0;
  for (int k = 1; k < argc; k++) {
    int r = run_path(argv[k]);
    if (r < 0)
      return 1;
    total += r;
  }
  printf("%s: %d inputs replayed, no invariant broken\n", argv[0], total);
  return total > 0 ? 0 : 1;
}
