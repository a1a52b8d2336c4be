// The one thing Node cannot do to find the holes of a sparse file: lseek with SEEK_DATA /
// SEEK_HOLE. Synchronous: the file system answers from its extent tree in memory (microseconds),
// cheaper than a trip through the libuv thread pool. The seek moves the fd's file position, which
// Node's positional reads (pread) never use. Node-API only, so one build loads in any Node or
// Electron with Node-API 8.
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>

#include "lifeboat_napi.h"

// What to seek, as the JS side numbers it (electron/fs/seek-data.ts).
enum { WHENCE_DATA = 0, WHENCE_HOLE = 1 };

// seek(fd, offset, whence) → the offset of the next data (whence 0) or hole (whence 1) at or after
// `offset`, or -1 when there is none (ENXIO: no data after offset, or offset at or past the end).
// Any other failure throws an Error with `errno` (EINVAL: the file system cannot say).
static napi_value seek(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  int32_t fd, whence;
  int64_t offset;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_value_int64(env, argv[1], &offset) != napi_ok || offset < 0 ||
      napi_get_value_int32(env, argv[2], &whence) != napi_ok || (whence != WHENCE_DATA && whence != WHENCE_HOLE))
    return throw_type_error(env, "seek(fd, offset, whence): non-negative integers, whence 0 (data) or 1 (hole)");
  off_t found = lseek(fd, (off_t)offset, whence == WHENCE_DATA ? SEEK_DATA : SEEK_HOLE);
  if (found < 0 && errno != ENXIO) {
    napi_value error = errno_error(env, errno, "lseek");
    if (error != NULL) napi_throw(env, error);
    return NULL;
  }
  CHECK(napi_create_int64(env, found < 0 ? -1 : (int64_t)found, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"seek", NULL, seek, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
