// Everything lives in include/CTunLinux.h as static inline functions; this file gives SwiftPM a C source.
#include "CTunLinux.h"
