// Helpers every Lifeboat addon (native/*/) shares: Node-API error handling the same way in each.
#ifndef LIFEBOAT_NAPI_H
#define LIFEBOAT_NAPI_H

#include <node_api.h>
#include <stdio.h>
#include <string.h>

// Leaves the function with NULL (a pending JS exception, if any) when a Node-API call fails.
#define CHECK(call)                                                                                                  \
  do {                                                                                                               \
    if ((call) != napi_ok) return NULL;                                                                              \
  } while (0)

static inline napi_value throw_type_error(napi_env env, const char* message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

// An Error carrying a system call's errno (the JS side names it with os.constants.errno).
static inline napi_value errno_error(napi_env env, int number, const char* what) {
  napi_value message, error, errno_value;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", what, strerror(number));
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, message, &error) != napi_ok) return NULL;
  if (napi_create_int32(env, number, &errno_value) != napi_ok) return NULL;
  if (napi_set_named_property(env, error, "errno", errno_value) != napi_ok) return NULL;
  return error;
}

#endif
