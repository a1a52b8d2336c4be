# lseek SEEK_DATA / SEEK_HOLE for the holes of thin disks: one C file on Node-API only, so the one
# build loads in every Node (and Electron) that has Node-API 8, whichever headers it was compiled against.
{
  "targets": [
    {
      "target_name": "seek_data",
      "sources": ["seek_data.c"],
      "include_dirs": ["../include"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-ldl", "-lpthread"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    }
  ]
}
