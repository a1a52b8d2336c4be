// The one thing Node cannot do to find the holes of a sparse file: lseek with SEEK_DATA /
// SEEK_HOLE. Synchronous: the file system answers from its extent tree in memory (microseconds),
// cheaper than a trip through the libuv thread pool. The seek moves the fd's file position, which
// Node's positional reads (pread) never use. Node-API only, so one build loads in any Node or
// Electron with Node-API 8.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

// allocate(fd, offset, length): fallocate(mode 0) — the file system reserves that range now (as
// unwritten extents, still reading as zeros), so a restore's writes overwrite room already laid
// out instead of allocating it block by block at writeback: 2 GiB written and fdatasync'd took
// 1.6-2.0 s into a reserved file against 2.7-3.7 s into a sparse one here. Throws with `errno`
// (EOPNOTSUPP where the file system cannot, ENOSPC where the room is not there).
static napi_value allocate(napi_env env, napi_callback_info info) {
  int32_t fd;
  int64_t offset, length;
  if (!range_args(env, info, &fd, &offset, &length) || length == 0)
    return throw_type_error(env, "allocate(fd, offset, length): non-negative integers, length > 0");
  return range_result(env, fallocate(fd, 0, (off_t)offset, (off_t)length) != 0, "fallocate");
}

// zstd frames decoded by the system's libzstd (libzstd1: dpkg depends on it, so every Debian has
// it), opened at run time so the build needs no zstd headers and no library to link: this decodes
// about 2.5x as fast as node:zlib's zstd on the same frames (1.8 against 0.7 GB/s here), and
// decodes into a buffer the caller reuses. Without the library, zstdVersion() says 0 and the JS
// side keeps node:zlib.
typedef void* (*zstd_create_dctx_fn)(void);
typedef size_t (*zstd_free_dctx_fn)(void*);
typedef size_t (*zstd_decompress_dctx_fn)(void*, void*, size_t, const void*, size_t);
typedef unsigned (*zstd_is_error_fn)(size_t);
typedef const char* (*zstd_error_name_fn)(size_t);
typedef unsigned (*zstd_version_fn)(void);

static struct {
  zstd_create_dctx_fn create_dctx;
  zstd_free_dctx_fn free_dctx;
  zstd_decompress_dctx_fn decompress_dctx;
  zstd_is_error_fn is_error;
  zstd_error_name_fn error_name;
  zstd_version_fn version;
} zstd;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;

static void zstd_open(void) {
  void* library = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) return;
  zstd.create_dctx = (zstd_create_dctx_fn)dlsym(library, "ZSTD_createDCtx");
  zstd.free_dctx = (zstd_free_dctx_fn)dlsym(library, "ZSTD_freeDCtx");
  zstd.decompress_dctx = (zstd_decompress_dctx_fn)dlsym(library, "ZSTD_decompressDCtx");
  zstd.is_error = (zstd_is_error_fn)dlsym(library, "ZSTD_isError");
  zstd.error_name = (zstd_error_name_fn)dlsym(library, "ZSTD_getErrorName");
  zstd.version = (zstd_version_fn)dlsym(library, "ZSTD_versionNumber");
  if (!zstd.create_dctx || !zstd.free_dctx || !zstd.decompress_dctx || !zstd.is_error || !zstd.error_name || !zstd.version)
    zstd.version = NULL;
}

// One decompression context per thread that loads the addon (the engine's and each worker's):
// a context is not thread-safe, and making one per frame costs more than small frames take.
static void free_dctx(napi_env env, void* dctx, void* hint) {
  (void)env;
  (void)hint;
  zstd.free_dctx(dctx);
}

// zstdVersion() → libzstd's version number (10504 for 1.5.4), or 0 when it cannot be opened.
static napi_value zstd_version(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_once(&zstd_once, zstd_open);
  napi_value result;
  CHECK(napi_create_uint32(env, zstd.version ? zstd.version() : 0, &result));
  return result;
}

static int typed_bytes(napi_env env, napi_value value, void** data, size_t* length) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) == napi_ok && type == napi_uint8_array;
}

// zstdDecompress(frame, into) → bytes decoded into `into` (Uint8Arrays); throws with zstd's error
// name when the frame is damaged or decodes to more than `into` holds.
static napi_value zstd_decompress(napi_env env, napi_callback_info info) {
  size_t argc = 2, source_length, target_length;
  napi_value argv[2], result;
  void *source, *target, *dctx = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !typed_bytes(env, argv[0], &source, &source_length) || !typed_bytes(env, argv[1], &target, &target_length))
    return throw_type_error(env, "zstdDecompress(frame, into): two Uint8Arrays");
  pthread_once(&zstd_once, zstd_open);
  if (zstd.version == NULL) return throw_type_error(env, "zstdDecompress: libzstd.so.1 is not on this machine");
  CHECK(napi_get_instance_data(env, &dctx));
  if (dctx == NULL) {
    dctx = zstd.create_dctx();
    if (dctx != NULL && napi_set_instance_data(env, dctx, free_dctx, NULL) != napi_ok) {
      zstd.free_dctx(dctx);
      dctx = NULL;
    }
    if (dctx == NULL) {
      napi_throw_error(env, NULL, "zstdDecompress: no memory for a decompression context");
      return NULL;
    }
  }
  size_t decoded = zstd.decompress_dctx(dctx, target, target_length, source, source_length);
  if (zstd.is_error(decoded)) {
    napi_throw_error(env, NULL, zstd.error_name(decoded));
    return NULL;
  }
  CHECK(napi_create_double(env, (double)decoded, &result));
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"seek", NULL, seek, NULL, NULL, NULL, napi_default, NULL},
      {"startWriteback", NULL, start_writeback, NULL, NULL, NULL, napi_default, NULL},
      {"willNeed", NULL, will_need, NULL, NULL, NULL, napi_default, NULL},
      {"allocate", NULL, allocate, NULL, NULL, NULL, napi_default, NULL},
      {"zstdVersion", NULL, zstd_version, NULL, NULL, NULL, napi_default, NULL},
      {"zstdDecompress", NULL, zstd_decompress, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
