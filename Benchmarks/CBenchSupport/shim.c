// Header-only shim (see include/CBenchSupport.h); SwiftPM needs one source file per C target.
#include "CBenchSupport.h"
