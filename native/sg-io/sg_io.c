// The one thing Node cannot do for the Linux SCSI generic transport: the SG_IO ioctl. Opening and
// closing the device stay in node:fs; this file only issues a command on an open fd, on the libuv
// thread pool (a tape rewind holds the ioctl for minutes; the event loop must not wait with it).
// Node-API only, so one build loads in any Node or Electron with Node-API 8.
#include <errno.h>
#include "lifeboat_napi.h"
#include <scsi/sg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

// Longest CDB the kernel's sg driver accepts (SG_MAX_CDB_SIZE in drivers/scsi/sg.c).
#define MAX_CDB 252
// Room for descriptor-format sense with several descriptors; SPC allows up to 252 bytes.
#define SENSE_BYTES 252

// Directions as the JS side numbers them (electron/drivers/scsi/sg/sg-native.ts).
enum { DIRECTION_NONE = 0, DIRECTION_TO_DEVICE = 1, DIRECTION_FROM_DEVICE = 2 };

typedef struct {
  napi_async_work work;
  napi_ref callback;
  napi_ref buffer; // keeps the data buffer alive while the kernel reads or fills it
  int fd;
  unsigned char cdb[MAX_CDB];
  unsigned char sense[SENSE_BYTES];
  sg_io_hdr_t header;
  int failed_errno; // 0 when the ioctl itself succeeded
} Request;

static int get_fd(napi_env env, napi_value value, int* fd) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return 0;
  if (napi_get_value_int32(env, value, fd) != napi_ok) return 0;
  return *fd >= 0;
}

// Bytes of a Uint8Array (a Buffer is one): pointer and length, or 0 if the value is not one.
static int get_bytes(napi_env env, napi_value value, void** data, size_t* length) {
  bool is_typed_array;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return 0;
  if (napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) != napi_ok) return 0;
  return type == napi_uint8_array;
}

// sgVersion(fd) → the sg driver's version number (30536 = 3.5.36); throws with errno if the fd is
// not an sg device. Synchronous: the driver answers from memory.
static napi_value sg_version(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int fd, version = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_fd(env, argv[0], &fd)) return throw_type_error(env, "sgVersion(fd): fd must be a non-negative integer");
  if (ioctl(fd, SG_GET_VERSION_NUM, &version) < 0) {
    napi_value error = errno_error(env, errno, "SG_GET_VERSION_NUM");
    if (error != NULL) napi_throw(env, error);
    return NULL;
  }
  CHECK(napi_create_int32(env, version, &result));
  return result;
}

static void execute(napi_env env, void* data) {
  (void)env; // runs on a pool thread: no Node-API calls here
  Request* request = data;
  if (ioctl(request->fd, SG_IO, &request->header) < 0) request->failed_errno = errno;
}

static napi_status set_uint32(napi_env env, napi_value object, const char* name, uint32_t value) {
  napi_value number;
  napi_status status = napi_create_uint32(env, value, &number);
  return status == napi_ok ? napi_set_named_property(env, object, name, number) : status;
}

static napi_status set_int32(napi_env env, napi_value object, const char* name, int32_t value) {
  napi_value number;
  napi_status status = napi_create_int32(env, value, &number);
  return status == napi_ok ? napi_set_named_property(env, object, name, number) : status;
}

// The header's answer as a plain object: the JS side decides what is an error.
static napi_value describe(napi_env env, const Request* request) {
  const sg_io_hdr_t* header = &request->header;
  napi_value result, sense;
  void* sense_copy;
  size_t sense_length = header->sb_len_wr <= SENSE_BYTES ? header->sb_len_wr : SENSE_BYTES;
  if (napi_create_object(env, &result) != napi_ok) return NULL;
  if (set_uint32(env, result, "status", header->status) != napi_ok) return NULL;
  if (set_uint32(env, result, "maskedStatus", header->masked_status) != napi_ok) return NULL;
  if (set_uint32(env, result, "hostStatus", header->host_status) != napi_ok) return NULL;
  if (set_uint32(env, result, "driverStatus", header->driver_status) != napi_ok) return NULL;
  if (set_int32(env, result, "resid", header->resid) != napi_ok) return NULL;
  if (set_uint32(env, result, "durationMs", header->duration) != napi_ok) return NULL;
  if (set_uint32(env, result, "info", header->info) != napi_ok) return NULL;
  if (napi_create_buffer_copy(env, sense_length, request->sense, &sense_copy, &sense) != napi_ok) return NULL;
  if (napi_set_named_property(env, result, "sense", sense) != napi_ok) return NULL;
  return result;
}

// The error to hand the callback when building the answer failed: the pending exception if any.
static napi_value failure(napi_env env, napi_value error) {
  bool pending = false;
  napi_value exception, message;
  if (error != NULL) return error;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending && napi_get_and_clear_last_exception(env, &exception) == napi_ok)
    return exception;
  if (napi_create_string_utf8(env, "SG_IO: the answer could not be copied out", NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  return napi_create_error(env, NULL, message, &error) == napi_ok ? error : NULL;
}

// Back on the JS thread: always calls the callback once (a command left unanswered would hold its
// device's queue forever), then lets go of the buffer and the request.
static void complete(napi_env env, napi_status status, void* data) {
  Request* request = data;
  napi_value callback, global, argv[2] = {NULL, NULL};
  if (status != napi_ok) {
    argv[0] = errno_error(env, ECANCELED, "SG_IO");
  } else if (request->failed_errno != 0) {
    argv[0] = errno_error(env, request->failed_errno, "SG_IO");
  } else {
    argv[1] = describe(env, request);
  }
  if (argv[1] == NULL) argv[0] = failure(env, argv[0]);
  if (argv[0] == NULL) napi_get_null(env, &argv[0]);
  if (argv[1] == NULL) napi_get_undefined(env, &argv[1]);
  if (argv[0] != NULL && argv[1] != NULL && napi_get_reference_value(env, request->callback, &callback) == napi_ok &&
      napi_get_global(env, &global) == napi_ok)
    napi_call_function(env, global, callback, 2, argv, NULL);
  napi_delete_reference(env, request->callback);
  if (request->buffer != NULL) napi_delete_reference(env, request->buffer);
  napi_delete_async_work(env, request->work);
  free(request);
}

// sgIo(fd, cdb, direction, buffer, timeoutMs, callback): callback(error, { status, maskedStatus,
// hostStatus, driverStatus, resid, durationMs, info, sense }). `buffer` is the data out (direction
// 1) or the room for the data in (direction 2); null for none.
static napi_value sg_io(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], name;
  int fd;
  int32_t direction;
  uint32_t timeout;
  void *cdb, *data = NULL;
  size_t cdb_length, data_length = 0;
  napi_valuetype type;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_type_error(env, "sgIo(fd, cdb, direction, buffer, timeoutMs, callback): six arguments");
  if (!get_fd(env, argv[0], &fd)) return throw_type_error(env, "sgIo: fd must be a non-negative integer");
  if (!get_bytes(env, argv[1], &cdb, &cdb_length) || cdb_length < 1 || cdb_length > MAX_CDB)
    return throw_type_error(env, "sgIo: cdb must be a Uint8Array of 1 to 252 bytes");
  if (napi_get_value_int32(env, argv[2], &direction) != napi_ok || direction < DIRECTION_NONE || direction > DIRECTION_FROM_DEVICE)
    return throw_type_error(env, "sgIo: direction must be 0 (none), 1 (to device) or 2 (from device)");
  if (direction != DIRECTION_NONE) {
    if (!get_bytes(env, argv[3], &data, &data_length) || data_length == 0 || data_length > 0xffffffffu)
      return throw_type_error(env, "sgIo: a data phase needs a non-empty Uint8Array buffer");
  }
  if (napi_get_value_uint32(env, argv[4], &timeout) != napi_ok || timeout == 0)
    return throw_type_error(env, "sgIo: timeoutMs must be a positive integer");
  CHECK(napi_typeof(env, argv[5], &type));
  if (type != napi_function) return throw_type_error(env, "sgIo: callback must be a function");

  Request* request = calloc(1, sizeof *request);
  if (request == NULL) {
    napi_throw_error(env, NULL, "sgIo: out of memory");
    return NULL;
  }
  request->fd = fd;
  memcpy(request->cdb, cdb, cdb_length);
  sg_io_hdr_t* header = &request->header;
  header->interface_id = 'S';
  header->dxfer_direction = direction == DIRECTION_TO_DEVICE     ? SG_DXFER_TO_DEV
                            : direction == DIRECTION_FROM_DEVICE ? SG_DXFER_FROM_DEV
                                                                 : SG_DXFER_NONE;
  header->cmd_len = (unsigned char)cdb_length;
  header->cmdp = request->cdb;
  header->mx_sb_len = SENSE_BYTES;
  header->sbp = request->sense;
  header->dxfer_len = (unsigned int)data_length;
  header->dxferp = data;
  header->timeout = timeout;
  if (napi_create_reference(env, argv[5], 1, &request->callback) != napi_ok ||
      (data != NULL && napi_create_reference(env, argv[3], 1, &request->buffer) != napi_ok) ||
      napi_create_string_utf8(env, "sg-io", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, request, &request->work) != napi_ok ||
      napi_queue_async_work(env, request->work) != napi_ok) {
    if (request->callback != NULL) napi_delete_reference(env, request->callback);
    if (request->buffer != NULL) napi_delete_reference(env, request->buffer);
    if (request->work != NULL) napi_delete_async_work(env, request->work);
    free(request);
    napi_throw_error(env, NULL, "sgIo: could not queue the command");
    return NULL;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"sgIo", NULL, sg_io, NULL, NULL, NULL, napi_default, NULL},
      {"sgVersion", NULL, sg_version, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
