/* Error strings: the names and messages of the PENNY_* codes, both
 * generated from PENNY_ERRNO_MAP in penny.h. */
#include "penny.h"

const char *penny_strerror(int err) {
#define PENNY_STRERROR_GEN_(name, value, msg) case PENNY_##name: return msg;
  switch (err) {
    PENNY_ERRNO_MAP(PENNY_STRERROR_GEN_)
    case PENNY_OK: return "success";
    default: return "unknown error";
  }
#undef PENNY_STRERROR_GEN_
}

const char *penny_err_name(int err) {
#define PENNY_ERR_NAME_GEN_(name, value, msg) case PENNY_##name: return #name;
  switch (err) {
    PENNY_ERRNO_MAP(PENNY_ERR_NAME_GEN_)
    case PENNY_OK: return "OK";
    default: return "UNKNOWN";
  }
#undef PENNY_ERR_NAME_GEN_
}
