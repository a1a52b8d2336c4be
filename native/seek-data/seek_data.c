// The one thing Node cannot do to find the holes of a sparse file: lseek with SEEK_DATA /
// SEEK_HOLE. Synchronous: the file system answers from its extent tree in memory (microseconds),
// cheaper than a trip through the libuv thread pool. The seek moves the fd's file position, which
// Node's positional reads (pread) never use. Node-API only, so one build loads in any Node or
// Electron with Node-API 8.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

// Reads the three arguments (fd, offset, length) every range function below takes.
static int range_args(napi_env env, napi_callback_info info, int32_t* fd, int64_t* offset, int64_t* length) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  return argc >= 3 && napi_get_value_int32(env, argv[0], fd) == napi_ok && *fd >= 0 &&
         napi_get_value_int64(env, argv[1], offset) == napi_ok && *offset >= 0 &&
         napi_get_value_int64(env, argv[2], length) == napi_ok && *length >= 0;
}

// A range call's outcome: undefined, or an Error with `errno` thrown.
static napi_value range_result(napi_env env, int failed, const char* what) {
  if (failed) {
    napi_value error = errno_error(env, errno, what);
    if (error != NULL) napi_throw(env, error);
    return NULL;
  }
  napi_value undefined;
  CHECK(napi_get_undefined(env, &undefined));
  return undefined;
}

// startWriteback(fd, offset, length): sync_file_range(SYNC_FILE_RANGE_WRITE) — the kernel starts
// writing those dirty pages now instead of when the page cache fills or the final fsync comes, so
// a restore's disk writes overlap its decoding. It does not wait for them (not a durability point).
static napi_value start_writeback(napi_env env, napi_callback_info info) {
  int32_t fd;
  int64_t offset, length;
  if (!range_args(env, info, &fd, &offset, &length))
    return throw_type_error(env, "startWriteback(fd, offset, length): non-negative integers");
  return range_result(env, sync_file_range(fd, (off64_t)offset, (off64_t)length, SYNC_FILE_RANGE_WRITE) != 0, "sync_file_range");
}

// willNeed(fd, offset, length): posix_fadvise(WILLNEED) — the kernel reads that range into the
// page cache in the background, so the read that follows finds it there.
static napi_value will_need(napi_env env, napi_callback_info info) {
  int32_t fd;
  int64_t offset, length;
  if (!range_args(env, info, &fd, &offset, &length)) return throw_type_error(env, "willNeed(fd, offset, length): non-negative integers");
  int failed = posix_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_WILLNEED);
  if (failed) errno = failed;
  return range_result(env, failed != 0, "posix_fadvise");
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"seek", NULL, seek, NULL, NULL, NULL, napi_default, NULL},
      {"startWriteback", NULL, start_writeback, NULL, NULL, NULL, napi_default, NULL},
      {"willNeed", NULL, will_need, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
