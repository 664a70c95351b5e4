// Why this shim exists: glibc's mallinfo2() lives in <malloc.h>, which the Swift Glibc module does not export,
// and it returns a struct by value. nat64-bench uses it to show the lookup loops allocate nothing.
#ifndef CBENCHSUPPORT_H
#define CBENCHSUPPORT_H
#include <malloc.h>
#include <stddef.h>

/// Bytes of heap currently allocated (mallinfo2().uordblks).
static inline size_t CBenchSupport_heapInUse(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks;
}
#endif
