// Test only (test/integration/sg-device.test.ts): an LD_PRELOAD library that stands in for the
// kernel's sg driver on ONE path, so the addon's sg_io_hdr marshalling can be checked on a machine
// without SCSI. Opening $SG_SHIM_PATH (a real character node 21:N made with mknod, which the sg
// driver would own) opens /dev/null instead; on that fd, SG_GET_VERSION_NUM answers 3.5.36 and
// SG_IO records the header it was given in $SG_SHIM_LOG (one JSON line) and answers by opcode.
// Every other open and ioctl goes to the C library untouched. It is not a SCSI device: the
// answers only prove that each header field travels both ways.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <scsi/sg.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static atomic_int fake_fd = -1;
static atomic_int in_flight = 0;

static int is_fake_path(const char* path) {
  const char* fake = getenv("SG_SHIM_PATH");
  return fake != NULL && path != NULL && strcmp(path, fake) == 0;
}

static int open_fake(int flags) {
  int (*real_open)(const char*, int, ...) = (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, "open");
  int fd = real_open("/dev/null", flags & ~(O_CREAT | O_EXCL));
  if (fd >= 0) atomic_store(&fake_fd, fd);
  return fd;
}

#define OPEN_WRAPPER(name)                                                                   \
  int name(const char* path, int flags, ...) {                                               \
    mode_t mode = 0;                                                                         \
    if (flags & O_CREAT) {                                                                   \
      va_list args;                                                                          \
      va_start(args, flags);                                                                 \
      mode = va_arg(args, mode_t);                                                           \
      va_end(args);                                                                          \
    }                                                                                        \
    if (is_fake_path(path)) return open_fake(flags);                                         \
    int (*real)(const char*, int, ...) = (int (*)(const char*, int, ...))dlsym(RTLD_NEXT, #name); \
    return real(path, flags, mode);                                                          \
  }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)

int openat(int dir, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (flags & O_CREAT) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, mode_t);
    va_end(args);
  }
  if (is_fake_path(path)) return open_fake(flags);
  int (*real)(int, const char*, int, ...) = (int (*)(int, const char*, int, ...))dlsym(RTLD_NEXT, "openat");
  return real(dir, path, flags, mode);
}

int close(int fd) {
  int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "close");
  int expected = fd;
  atomic_compare_exchange_strong(&fake_fd, &expected, -1);
  return real(fd);
}

static void put_sense(sg_io_hdr_t* header, unsigned char key, unsigned char asc, unsigned char ascq) {
  unsigned char sense[18] = {0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0};
  size_t length = header->mx_sb_len < sizeof sense ? header->mx_sb_len : sizeof sense;
  memcpy(header->sbp, sense, length);
  header->sb_len_wr = (unsigned char)length;
  header->status = 0x02;
  header->masked_status = 0x01;
  header->driver_status = 0x08;
}

static void fill_in(sg_io_hdr_t* header, const unsigned char* data, unsigned int length) {
  unsigned int count = header->dxfer_len < length ? header->dxfer_len : length;
  memcpy(header->dxferp, data, count);
  header->resid = (int)(header->dxfer_len - count);
}

static void log_header(const sg_io_hdr_t* header, int overlap) {
  const char* path = getenv("SG_SHIM_LOG");
  if (path == NULL) return;
  FILE* log = fopen(path, "a");
  if (log == NULL) return;
  unsigned long sum = 0;
  if (header->dxfer_direction == SG_DXFER_TO_DEV)
    for (unsigned int i = 0; i < header->dxfer_len; i++) sum += ((const unsigned char*)header->dxferp)[i];
  fprintf(log, "{\"interface\":\"%c\",\"direction\":%d,\"cmdLen\":%u,\"cdb\":\"", header->interface_id, header->dxfer_direction,
          header->cmd_len);
  for (unsigned int i = 0; i < header->cmd_len; i++) fprintf(log, "%02x", header->cmdp[i]);
  fprintf(log, "\",\"dxferLen\":%u,\"timeout\":%u,\"mxSbLen\":%u,\"flags\":%u,\"outSum\":%lu,\"overlap\":%s}\n", header->dxfer_len,
          header->timeout, header->mx_sb_len, header->flags, sum, overlap ? "true" : "false");
  fclose(log);
}

static int fake_sg_io(sg_io_hdr_t* header) {
  if (header->interface_id != 'S') {
    errno = ENOSYS;
    return -1;
  }
  int overlap = atomic_fetch_add(&in_flight, 1) != 0;
  log_header(header, overlap);
  header->status = header->masked_status = header->host_status = header->driver_status = 0;
  header->sb_len_wr = 0;
  header->resid = 0;
  header->duration = 1;
  header->info = 0;
  int result = 0;
  switch (header->cmdp[0]) {
    case 0x12: {  // INQUIRY: a tape drive
      unsigned char inquiry[36] = {0x01, 0x80, 0x05, 0x02, 31, 0, 0, 0};
      memcpy(inquiry + 8, "SHIM    SG_IO MARSHAL   0001", 28);
      fill_in(header, inquiry, sizeof inquiry);
      break;
    }
    case 0x00:  // TEST UNIT READY: NOT READY, medium not present
      put_sense(header, 0x02, 0x3a, 0x00);
      break;
    case 0x08: {  // READ(6): 1000 bytes counting up
      unsigned char block[1000];
      for (unsigned int i = 0; i < sizeof block; i++) block[i] = (unsigned char)i;
      fill_in(header, block, sizeof block);
      break;
    }
    case 0x01:  // REWIND: takes a while, so the test sees the event loop run and the queue hold
      usleep(300 * 1000);
      header->duration = 300;
      break;
    case 0xf0:  // the link is down
      header->host_status = 0x01;
      break;
    case 0xf1:  // the device went away under the command
      errno = ENODEV;
      result = -1;
      break;
    case 0xf2:  // the HBA gave up waiting
      header->host_status = 0x03;
      break;
    default:  // WRITE(6) and the rest: accepted
      break;
  }
  atomic_fetch_sub(&in_flight, 1);
  return result;
}

int ioctl(int fd, unsigned long request, ...) {
  va_list args;
  va_start(args, request);
  void* argument = va_arg(args, void*);
  va_end(args);
  if (fd >= 0 && fd == atomic_load(&fake_fd)) {
    if (request == SG_GET_VERSION_NUM) {
      *(int*)argument = 30536;
      return 0;
    }
    if (request == SG_IO) return fake_sg_io((sg_io_hdr_t*)argument);
  }
  int (*real)(int, unsigned long, ...) = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
  return real(fd, request, argument);
}
