/* Shared by the C tests: checks that report and exit, and the layout checks (Windows x64,
 * and ILP32 for wasm32 and x86, as the reference's table gives them). */
#ifndef WSENGINE_TEST_COMMON_H
#define WSENGINE_TEST_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <websocket.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_HR(expr, want)                                                                          \
    do {                                                                                              \
        HRESULT got_ = (expr);                                                                        \
        if (got_ != (HRESULT)(want)) {                                                                \
            fprintf(stderr, "%s:%d: %s returned 0x%08X, want 0x%08X\n", __FILE__, __LINE__, #expr,  \
                    (unsigned)got_, (unsigned)(want));                                               \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

/* The structures as Windows x64 lays them out (LLP64: ULONG is 32 bits, pointers 64). */
#if defined(__x86_64__) || defined(__aarch64__) || defined(_M_X64)
#ifdef __cplusplus
#define WSENGINE_STATIC_ASSERT static_assert
#else
#define WSENGINE_STATIC_ASSERT _Static_assert
#endif
WSENGINE_STATIC_ASSERT(sizeof(ULONG) == 4, "ULONG is 32 bits");
WSENGINE_STATIC_ASSERT(sizeof(HRESULT) == 4, "HRESULT is 32 bits");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_PROPERTY) == 24, "WEB_SOCKET_PROPERTY size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, Type) == 0, "Type");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, pvValue) == 8, "pvValue");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, ulValueSize) == 16, "ulValueSize");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_HTTP_HEADER) == 32, "WEB_SOCKET_HTTP_HEADER size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcName) == 0, "pcName");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, ulNameLength) == 8, "ulNameLength");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcValue) == 16, "pcValue");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, ulValueLength) == 24, "ulValueLength");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_BUFFER) == 16, "WEB_SOCKET_BUFFER size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, Data.pbBuffer) == 0, "Data.pbBuffer");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, Data.ulBufferLength) == 8, "Data.ulBufferLength");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.pbReason) == 0, "CloseStatus.pbReason");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.ulReasonLength) == 8, "CloseStatus.ulReasonLength");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == 12, "CloseStatus.usStatus");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_ACTION) == 4 && sizeof(WEB_SOCKET_BUFFER_TYPE) == 4, "enums are 32 bits");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_HANDLE) == 8, "a handle is pointer-sized");
#elif defined(__wasm32__) || defined(__i386__)
/* ILP32 (wasm32, x86): the same structures with 4-byte pointers. */
#ifdef __cplusplus
#define WSENGINE_STATIC_ASSERT static_assert
#else
#define WSENGINE_STATIC_ASSERT _Static_assert
#endif
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_PROPERTY) == 12, "WEB_SOCKET_PROPERTY size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, ulValueSize) == 8, "ulValueSize");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_HTTP_HEADER) == 16, "WEB_SOCKET_HTTP_HEADER size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcValue) == 8, "pcValue");
WSENGINE_STATIC_ASSERT(sizeof(WEB_SOCKET_BUFFER) == 12, "WEB_SOCKET_BUFFER size");
WSENGINE_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == 8, "CloseStatus.usStatus");
#endif

#endif
