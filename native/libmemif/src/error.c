#include <string.h>

#include "nmemif.h"

static const struct {
  int code;
  const char *name;
  const char *text;
} errors[] = {
    {0, "OK", "success"},
    {NMIF_EINVAL, "EINVAL", "invalid argument"},
    {NMIF_ENOMEM, "ENOMEM", "out of memory"},
    {NMIF_ENOENT, "ENOENT", "no such file or directory (does the socket directory exist?)"},
    {NMIF_ENOTDIR, "ENOTDIR", "a component of the socket directory is not a directory"},
    {NMIF_EACCES, "EACCES", "permission denied"},
    {NMIF_EADDRINUSE, "EADDRINUSE", "a live listener already owns this socket path"},
    {NMIF_ENOTSOCK, "ENOTSOCK", "the socket path exists and is not a socket"},
    {NMIF_ENAMETOOLONG, "ENAMETOOLONG", "socket path too long (at most 107 bytes)"},
    {NMIF_EEXIST, "EEXIST", "an interface with this id and role already exists on the socket"},
    {NMIF_ENOTCONN, "ENOTCONN", "interface not connected"},
    {NMIF_ENOBUFS, "ENOBUFS", "no room in the ring"},
    {NMIF_EPROTO, "EPROTO", "the peer violated the memif protocol"},
    {NMIF_EBUSY, "EBUSY", "resource busy"},
    {NMIF_ERANGE, "ERANGE", "value out of range"},
    {NMIF_EAGAIN, "EAGAIN", "try again"},
    {NMIF_ECONNREFUSED, "ECONNREFUSED", "connection refused"},
    {NMIF_EBADF, "EBADF", "bad file descriptor"},
    {NMIF_EMFILE, "EMFILE", "too many open files"},
    {NMIF_ENOTSUP, "ENOTSUP", "operation not supported in this role"},
};

static int find(int err) {
  for (size_t k = 0; k < sizeof(errors) / sizeof(errors[0]); k++)
    if (errors[k].code == err)
      return (int)k;
  return -1;
}

const char *nmif_strerror(int err) {
  int k = find(err);
  if (k >= 0)
    return errors[k].text;
  return err < 0 ? strerror(-err) : "unknown error";
}

const char *nmif_err_name(int err) {
  int k = find(err);
  return k >= 0 ? errors[k].name : "UNKNOWN";
}

const char *nmif_version_string(void) { return "nmemif 0.1 (memif protocol 2.0)"; }
