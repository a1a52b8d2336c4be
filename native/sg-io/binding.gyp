# The Linux SCSI generic addon: one C file on Node-API only, so the one build loads in every
# Node (and Electron) that has Node-API 8, whichever headers it was compiled against.
{
  "targets": [
    {
      "target_name": "sg_io",
      "sources": ["sg_io.c"],
      "include_dirs": ["../include"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]
    }
  ]
}
